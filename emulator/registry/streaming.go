package registry

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/opencontainers/go-digest"
)

// Artifact streaming (https://learn.microsoft.com/azure/container-registry/container-registry-artifact-streaming),
// as az acr artifact-streaming uses it; the answers are those of the az CLI's recording
// (test_acr_artifact_streaming), the bodies ending in a newline as ACR's do:
//   - POST /acr/v1/{name}/_streaming {"convertPushedImages","conversionFormat","conversionVersion"}
//     sets the repository's configuration: 202 with the configuration, "status":"Succeeded"
//     and an operation "id", and Location, Operation-Id and Operation-Location headers naming
//     /acr/v1/{name}/_operations/{id}; GET answers the configuration (its shape is
//     UNCONFIRMED: not in the recording);
//   - POST /acr/v1/{name}/_streaming/{digest} {"conversionFormat","conversionVersion"} starts
//     a conversion: 202 {"id","status":"NotStarted"} with the same headers; GET answers the
//     image's last conversion {"id","status"} (200, with the headers) or 404 OPERATION_UNKNOWN;
//   - GET /acr/v1/{name}/_operations/{id} answers {"name":"ArtifactStreamingConversion",
//     "resource":"{name}@{digest}","status","startTime","progress","details"}; POST
//     …/_operations/{id}:cancel cancels it and answers the same, named "Cancel: …".
//
// The overlaybd conversion itself is not emulated: a conversion is NotStarted when created,
// Running when first read, and Succeeded (100%) when read again, and it writes no streaming
// artifact (no referrer of type application/vnd.azure.artifact.streaming.v1); convertPushedImages
// is kept but starts no conversion on push. The state lives with the handler (not in the
// store): a snapshot or reset forgets it.

// streaming is a registry's artifact streaming state.
type streaming struct {
	mu      sync.Mutex
	configs map[string]streamingConfig // by repository
	ops     map[string]*conversion     // by id
	latest  map[string]string          // repository@digest → its last conversion's id
}

type streamingConfig struct {
	ConvertPushedImages bool   `json:"convertPushedImages"`
	ConversionFormat    string `json:"conversionFormat"`
	ConversionVersion   string `json:"conversionVersion"`
}

// conversion is one operation: a conversion of an image, or a configuration change (config).
type conversion struct {
	id, name, resource, status string
	config                     bool
	started                    time.Time
	reads                      int
}

// maxConversions bounds the operations a registry keeps (the oldest go first).
const maxConversions = 10000

func newStreaming() *streaming {
	return &streaming{configs: map[string]streamingConfig{}, ops: map[string]*conversion{}, latest: map[string]string{}}
}

var (
	errOperationUnknown = httpx.NewRegistryError(http.StatusNotFound, "OPERATION_UNKNOWN", "The specified operation does not exist")
	// UNCONFIRMED: ACR's answer to a format or version other than overlaybd v1 was not recorded.
	errConversionInvalid = httpx.NewRegistryError(http.StatusBadRequest, "INVALID_REQUEST",
		"conversionFormat must be overlaybd and conversionVersion v1")
)

// decodeConversion reads a streaming request's body: format and version, which must be
// overlaybd and v1 when given (az always sends them).
func decodeConversion(r *http.Request) (streamingConfig, error) {
	c := streamingConfig{ConversionFormat: "overlaybd", ConversionVersion: "v1"}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxACRPatchBytes+1))
	if err != nil {
		return c, err
	}
	if len(body) > maxACRPatchBytes {
		return c, errInvalidRequest
	}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, &c); err != nil {
			return c, errInvalidRequest
		}
	}
	if c.ConversionFormat != "overlaybd" || c.ConversionVersion != "v1" {
		return c, errConversionInvalid
	}
	return c, nil
}

// writeOperation answers with the operation headers ACR sends (Location and
// Operation-Location both at the login server here: the emulator has no separate data host).
func (g *Registry) writeOperation(w http.ResponseWriter, r *http.Request, repo, id string, status int, body any) error {
	login, err := g.loginServer(r)
	if err != nil {
		return err
	}
	loc := "https://" + login + "/acr/v1/" + repo + "/_operations/" + id
	w.Header().Set("Location", loc)
	w.Header().Set("Operation-Id", id)
	w.Header().Set("Operation-Location", loc)
	return writeJSONLine(w, status, body)
}

// writeJSONLine writes a JSON body followed by a newline, as ACR writes its metadata answers.
func writeJSONLine(w http.ResponseWriter, status int, body any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

func (g *Registry) getStreamingConfig(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	if _, err := g.acrRepo(rt.name); err != nil {
		return err
	}
	g.streaming.mu.Lock()
	c, ok := g.streaming.configs[rt.name]
	g.streaming.mu.Unlock()
	if !ok {
		c = streamingConfig{ConversionFormat: "overlaybd", ConversionVersion: "v1"}
	}
	return writeJSONLine(w, http.StatusOK, c)
}

func (g *Registry) setStreamingConfig(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	if _, err := g.acrRepo(rt.name); err != nil {
		return err
	}
	c, err := decodeConversion(r)
	if err != nil {
		return err
	}
	op := &conversion{id: ids.NewGUID(), name: "ArtifactStreamingConfiguration", resource: rt.name, status: "Succeeded", config: true, started: time.Now().UTC()}
	g.streaming.mu.Lock()
	g.streaming.configs[rt.name] = c
	g.streaming.add(op)
	g.streaming.mu.Unlock()
	return g.writeOperation(w, r, rt.name, op.id, http.StatusAccepted, struct {
		streamingConfig
		Status string `json:"status"`
		ID     string `json:"id"`
	}{c, op.status, op.id})
}

// add keeps an operation, dropping the oldest past the bound (with s.mu held).
func (s *streaming) add(op *conversion) {
	if len(s.ops) >= maxConversions {
		var oldest *conversion
		for _, o := range s.ops {
			if oldest == nil || o.started.Before(oldest.started) {
				oldest = o
			}
		}
		delete(s.ops, oldest.id)
		if s.latest[oldest.resource] == oldest.id {
			delete(s.latest, oldest.resource)
		}
	}
	s.ops[op.id] = op
	if !op.config {
		s.latest[op.resource] = op.id
	}
}

// artifact checks that the image a conversion names exists: {name}@{digest}.
func (g *Registry) artifact(rt acrRoute) (string, error) {
	if _, err := g.acrRepo(rt.name); err != nil {
		return "", err
	}
	d := digest.Digest(rt.ref)
	m, err := g.st.GetManifest(g.name, rt.name, d)
	if err != nil {
		return "", err
	}
	if m == nil {
		return "", errManifestUnknownDigest(d)
	}
	return rt.name + "@" + d.String(), nil
}

func (g *Registry) startConversion(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	resource, err := g.artifact(rt)
	if err != nil {
		return err
	}
	if _, err := decodeConversion(r); err != nil {
		return err
	}
	op := &conversion{id: ids.NewGUID(), name: "ArtifactStreamingConversion", resource: resource, status: "NotStarted", started: time.Now().UTC()}
	g.streaming.mu.Lock()
	g.streaming.add(op)
	g.streaming.mu.Unlock()
	return g.writeOperation(w, r, rt.name, op.id, http.StatusAccepted, map[string]string{"id": op.id, "status": op.status})
}

// read advances a conversion as a read sees it: NotStarted, then Running, then Succeeded (with
// s.mu held).
func (c *conversion) read() {
	c.reads++
	switch {
	case c.status == "NotStarted":
		c.status = "Running"
	case c.status == "Running" && c.reads > 1:
		c.status = "Succeeded"
	}
}

func (g *Registry) getConversion(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	resource, err := g.artifact(rt)
	if err != nil {
		return err
	}
	g.streaming.mu.Lock()
	op := g.streaming.ops[g.streaming.latest[resource]]
	var id, status string
	if op != nil {
		op.read()
		id, status = op.id, op.status
	}
	g.streaming.mu.Unlock()
	if op == nil {
		return errOperationUnknown
	}
	return g.writeOperation(w, r, rt.name, id, http.StatusOK, map[string]string{"id": id, "status": status})
}

// operationJSON is an operation as _operations answers it (with s.mu held).
func (c *conversion) operationJSON(prefix string) map[string]string {
	progress := "0%"
	if c.status == "Succeeded" {
		progress = "100%"
	}
	details := "Conversion started for resource " + c.resource
	if c.config {
		details = "Artifact streaming configured for repository " + c.resource // UNCONFIRMED text
	}
	return map[string]string{"name": prefix + c.name, "resource": c.resource, "status": c.status,
		"startTime": c.started.Format(time.RFC3339), "progress": progress, "details": details}
}

// operation finds an operation of the route's repository.
func (g *Registry) operation(rt acrRoute) (*conversion, error) {
	if _, err := g.acrRepo(rt.name); err != nil {
		return nil, err
	}
	op := g.streaming.ops[rt.ref]
	if op == nil || (op.resource != rt.name && !strings.HasPrefix(op.resource, rt.name+"@")) {
		return nil, errOperationUnknown
	}
	return op, nil
}

func (g *Registry) getOperation(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	g.streaming.mu.Lock()
	op, err := g.operation(rt)
	var body map[string]string
	if err == nil {
		op.read()
		body = op.operationJSON("")
	}
	g.streaming.mu.Unlock()
	if err != nil {
		return err
	}
	return writeJSONLine(w, http.StatusOK, body)
}

// cancelOperation cancels a conversion that has not ended; one that has keeps its outcome
// (UNCONFIRMED: the recording cancels a running one).
func (g *Registry) cancelOperation(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	g.streaming.mu.Lock()
	op, err := g.operation(rt)
	var body map[string]string
	if err == nil {
		if op.status == "NotStarted" || op.status == "Running" {
			op.status = "Canceled"
		}
		body = op.operationJSON("Cancel: ")
	}
	g.streaming.mu.Unlock()
	if err != nil {
		return err
	}
	return writeJSONLine(w, http.StatusOK, body)
}
