package arm

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"

	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/go-chi/chi/v5"
)

// ImportRequest is a registries/importImage call, source not yet resolved.
type ImportRequest struct {
	TargetRegistry             string
	SourceResourceID           string
	SourceRegistryURI          string
	SourceImage                string
	Username, Password         string
	TargetTags                 []string
	UntaggedTargetRepositories []string
	Force                      bool
}

// importFunc runs an import; the emulator provides it.
type importFunc = func(ctx context.Context, req ImportRequest) error

// ImportError lets the importer report ARM's code and message.
type ImportError interface {
	error
	ARMCode() string
	ARMMessage() string
}

type importBody struct {
	Source struct {
		ResourceID  string `json:"resourceId"`
		RegistryURI string `json:"registryUri"`
		SourceImage string `json:"sourceImage"`
		Credentials *struct {
			Username string `json:"username"`
			Password string `json:"password"`
		} `json:"credentials"`
	} `json:"source"`
	TargetTags                 []string `json:"targetTags"`
	UntaggedTargetRepositories []string `json:"untaggedTargetRepositories"`
	Mode                       string   `json:"mode"`
}

// operations remembers long-running operation outcomes for their Location URLs.
type operations struct {
	mu      sync.Mutex
	results map[string]*Error // nil: succeeded
}

// importImage serves POST registries/{name}/importImage: 202 with a Location that reports the
// outcome (the copy is done before the answer; az and the SDK poll once).
// https://learn.microsoft.com/azure/container-registry/container-registry-import-images
func (a *api) importImage(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	reg, err := a.loadRegistry(r)
	if err != nil {
		return err
	}
	if err := a.authorize(caller, reg.ID, "Microsoft.ContainerRegistry/registries/importImage/action"); err != nil {
		return err
	}
	if a.cfg.Import == nil {
		return armError(http.StatusNotImplemented, "NotImplemented", "Import is not available in this emulator.")
	}
	var b importBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Source.SourceImage == "" || (b.Source.ResourceID == "" && b.Source.RegistryURI == "") {
		return armError(http.StatusBadRequest, "InvalidParameters", "source.sourceImage and one of source.resourceId or source.registryUri are required.")
	}
	mode, err := enumValue("mode", orString(b.Mode, "NoForce"), "NoForce", "Force")
	if err != nil {
		return err
	}
	if b.Source.ResourceID != "" && b.Source.Credentials == nil {
		// The caller reads the source through ARM's identity, as on Azure.
		if err := a.authorize(caller, b.Source.ResourceID, "Microsoft.ContainerRegistry/registries/pull/read"); err != nil {
			return err
		}
	}
	req := ImportRequest{TargetRegistry: reg.Name, SourceResourceID: b.Source.ResourceID, SourceRegistryURI: b.Source.RegistryURI,
		SourceImage: b.Source.SourceImage, TargetTags: b.TargetTags, UntaggedTargetRepositories: b.UntaggedTargetRepositories, Force: mode == "Force"}
	if c := b.Source.Credentials; c != nil {
		req.Username, req.Password = c.Username, c.Password
	}
	var result *Error
	if err := a.cfg.Import(r.Context(), req); err != nil {
		var ie ImportError
		if errors.As(err, &ie) {
			result = armError(http.StatusBadRequest, ie.ARMCode(), ie.ARMMessage())
		} else {
			result = armError(http.StatusInternalServerError, "InternalServerError", err.Error())
		}
		a.cfg.Logger.Info("import failed", "registry", reg.Name, "source", req.SourceImage, "err", err)
	} else {
		a.cfg.Logger.Info("imported", "registry", reg.Name, "source", req.SourceImage)
	}
	id := "registries-" + ids.NewGUID()
	a.ops.mu.Lock()
	a.ops.results[id] = result
	a.ops.mu.Unlock()
	w.Header().Set("Location", "https://"+r.Host+"/subscriptions/"+a.cfg.SubscriptionID+"/providers/Microsoft.ContainerRegistry/locations/"+
		a.cfg.Location+"/operationResults/"+id+"?api-version="+r.URL.Query().Get("api-version"))
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// operationResult serves the Location of a finished operation: 200, or its error.
func (a *api) operationResult(w http.ResponseWriter, r *http.Request, _ *Identity) error {
	if err := a.subscription(r); err != nil {
		return err
	}
	a.ops.mu.Lock()
	res, ok := a.ops.results[chi.URLParam(r, "op")]
	a.ops.mu.Unlock()
	switch {
	case !ok:
		return armError(http.StatusNotFound, "OperationNotFound", "The operation '"+chi.URLParam(r, "op")+"' was not found.")
	case res != nil:
		return res
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func orString(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}
