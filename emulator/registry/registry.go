// Package registry serves one Azure Container Registry's content API: the OCI distribution
// API v1.1 under /v2/ and ACR's metadata API under /acr/v1/, on top of emulator/store.
//
// It knows nothing of authentication or network rules: the emulator wraps this handler with
// those checks, so every request reaching it is already allowed. Blob GETs are served here
// unless WithBlobRedirect sends them elsewhere, as ACR sends them to its storage.
//
// Spec: https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md
// ACR specifics: https://learn.microsoft.com/azure/container-registry/ and the Azure SDK
// recordings cited in shared/spec/acr-dataplane-auth.md.
package registry

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/registry/schema1"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Defaults for the size limits. 4 MiB is the manifest size ACR accepts; blob uploads are held in
// memory, so their limit is what bounds the process.
const (
	DefaultMaxManifestBytes = 4 << 20
	DefaultMaxUploadBytes   = 2 << 30
)

// Option configures a registry handler.
type Option func(*Registry)

// WithLogger sets the logger for internal errors (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(r *Registry) { r.log = l } }

// WithMaxManifestBytes bounds manifest bodies; larger ones get 413 SIZE_INVALID.
func WithMaxManifestBytes(n int64) Option { return func(r *Registry) { r.maxManifest = n } }

// WithMaxUploadBytes bounds one blob upload; a chunk that would pass it gets 413 SIZE_INVALID.
func WithMaxUploadBytes(n int64) Option { return func(r *Registry) { r.maxUpload = n } }

// Registry is the content API of one registry. Create it with New.
type Registry struct {
	st          *store.Store
	name        string
	log         *slog.Logger
	maxManifest int64
	maxUpload   int64
	routes      map[routeKind]map[string]routeHandler
	events      EventHook
	redirect    BlobRedirect
	// schema1Key signs schema 1 manifests; made on first use and kept for the handler's life,
	// like distribution's ephemeral key.
	schema1Key func() (*schema1.Key, error)
	streaming  *streaming // artifact streaming's configurations and conversions (streaming.go)
	upstream   Upstream   // the artifact cache (upstream.go), nil when none
}

type routeHandler func(http.ResponseWriter, *http.Request, route) error

// New returns the handler for the registry named name, whose records live in st.
func New(st *store.Store, name string, opts ...Option) *Registry {
	r := &Registry{st: st, name: name, log: slog.Default(), maxManifest: DefaultMaxManifestBytes, maxUpload: DefaultMaxUploadBytes,
		schema1Key: sync.OnceValues(schema1.GenerateKey), streaming: newStreaming()}
	for _, o := range opts {
		o(r)
	}
	r.routes = map[routeKind]map[string]routeHandler{
		routeBase:        {http.MethodGet: r.ping, http.MethodHead: r.ping},
		routeCatalog:     {http.MethodGet: r.catalog},
		routeTags:        {http.MethodGet: r.listTags},
		routeManifest:    {http.MethodGet: r.getManifest, http.MethodHead: r.getManifest, http.MethodPut: r.putManifest, http.MethodDelete: r.deleteManifest},
		routeBlob:        {http.MethodGet: r.getBlob, http.MethodHead: r.getBlob, http.MethodDelete: r.deleteBlob},
		routeUploadStart: {http.MethodPost: r.startUpload},
		routeUpload:      {http.MethodGet: r.uploadStatus, http.MethodPatch: r.patchUpload, http.MethodPut: r.putUpload, http.MethodDelete: r.cancelUpload},
		routeReferrers:   {http.MethodGet: r.referrers},
	}
	return r
}

// Handler returns the registry's HTTP handler, with ACR's common response headers.
func (g *Registry) Handler() http.Handler {
	return httpx.ACRHeaders(httpx.RegistryHandler(g.serve))
}

func (g *Registry) serve(w http.ResponseWriter, r *http.Request) error {
	p := r.URL.EscapedPath()
	switch {
	case p == "/v2" || strings.HasPrefix(p, "/v2/"):
		return g.serveV2(w, r, p)
	case strings.HasPrefix(p, "/acr/v1/"):
		return g.serveACR(w, r, p)
	}
	http.NotFound(w, r)
	return nil
}

func (g *Registry) serveV2(w http.ResponseWriter, r *http.Request, escaped string) error {
	rt, ok := parseV2(escaped)
	if !ok {
		http.NotFound(w, r)
		return nil
	}
	if rt.kind != routeBase && rt.kind != routeCatalog && !validName(rt.name) {
		return errNameInvalid.WithDetail(map[string]string{"Name": rt.name})
	}
	h, ok := g.routes[rt.kind][r.Method]
	if !ok {
		return errUnsupported
	}
	return h(w, r, rt)
}

// ping answers GET /v2/: the registry speaks distribution v2.
func (g *Registry) ping(w http.ResponseWriter, r *http.Request, _ route) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte("{}"))
	}
	return nil
}

// readableRepo loads the repository for a read, mapping absence to NAME_UNKNOWN and a
// repository locked with readEnabled=false to ACR's disallowed error.
func (g *Registry) readableRepo(name string) (*store.Repository, error) {
	repo, err := g.st.GetRepository(g.name, name)
	if err != nil {
		return nil, err
	}
	if repo == nil {
		return nil, errNameUnknown(name)
	}
	if !repo.Attrs.ReadEnabled {
		return nil, errDisallowed
	}
	return repo, nil
}
