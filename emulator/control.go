package emulator

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/portal"
	"github.com/acr-emulator/acr-emulator/emulator/snapshot"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Control endpoints (/_emulator/...) are the emulator's own API for tests and demos; they are
// not part of Azure and are served on every listener.
func (e *Emulator) controlRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /_emulator/health", func(w http.ResponseWriter, r *http.Request) {
		writeControlJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /_emulator/state", e.state)
	// The CA, so clients of an emulator whose data directory they cannot see (another
	// --data-dir, a container) can trust it: fetched over plain HTTP, or over TLS and then pinned.
	mux.HandleFunc("GET /_emulator/ca.pem", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(e.ca.CertPEM())
	})
	// The store's invariants, for a user's test to call after its own: every tag resolves,
	// every manifest's blobs and children are present, reference counts and bytes add up.
	e.faultRoutes(mux)
	mux.HandleFunc("GET /_emulator/check", func(w http.ResponseWriter, r *http.Request) {
		vs, err := e.st.Check()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if vs == nil {
			vs = []store.Violation{}
		}
		writeControlJSON(w, http.StatusOK, map[string]any{"consistent": len(vs) == 0, "violations": vs})
	})
	mux.HandleFunc("GET /_emulator/audit", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		writeControlJSON(w, http.StatusOK, map[string]any{"entries": e.audit.List(q.Get("registry"), q.Get("decision"))})
	})
	mux.Handle(portal.Prefix, portal.Handler(portal.Config{Store: e.st, Audit: e.audit, Logger: e.log, Location: e.world.Location}))
	mux.HandleFunc("POST /_emulator/reset", func(w http.ResponseWriter, r *http.Request) {
		if err := e.Reset(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeControlJSON(w, http.StatusOK, map[string]string{"status": "reset"})
	})
	mux.HandleFunc("GET /_emulator/snapshot", e.getSnapshot)
	mux.HandleFunc("POST /_emulator/snapshot", e.saveSnapshot)
}

// getSnapshot streams the whole state as a tar of a snapshot directory (what `acr-emulator
// snapshot save DIR` unpacks), for an emulator whose file system is not the client's.
func (e *Emulator) getSnapshot(w http.ResponseWriter, r *http.Request) {
	snap, err := e.Snapshot()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer snap.Close()
	w.Header().Set("Content-Type", "application/x-tar")
	w.Header().Set("Content-Disposition", `attachment; filename="acr-emulator-snapshot.tar"`)
	if err := snapshot.WriteTar(w, snap); err != nil {
		e.log.Error("snapshot stream", "err", err)
	}
}

// saveSnapshot writes the whole state as a snapshot directory on the emulator's own file
// system: ?dir= names it, an absolute path to a new or empty directory or an older snapshot.
func (e *Emulator) saveSnapshot(w http.ResponseWriter, r *http.Request) {
	dir := r.URL.Query().Get("dir")
	if dir == "" || !filepath.IsAbs(dir) {
		writeControlJSON(w, http.StatusBadRequest, map[string]string{"error": "dir must be an absolute path: POST /_emulator/snapshot?dir=/path/to/snapshot"})
		return
	}
	snap, err := e.Snapshot()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer snap.Close()
	if err := snapshot.Write(dir, snap); err != nil {
		status := http.StatusInternalServerError
		if errors.Is(err, snapshot.ErrOccupied) {
			status = http.StatusConflict
		}
		writeControlJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	blobs, bytes := snap.Blobs()
	e.log.Info("snapshot saved", "dir", dir, "registries", len(snap.State.Registries), "blobs", blobs)
	writeControlJSON(w, http.StatusOK, map[string]any{"status": "saved", "dir": dir, "registries": len(snap.State.Registries),
		"repositories": len(snap.State.Repositories), "manifests": len(snap.State.Manifests), "tasks": len(snap.Tasks),
		"blobs": blobs, "bytes": bytes})
}

type endpointsState struct {
	HTTPS  string `json:"https"`
	HTTP   string `json:"http,omitempty"`
	Proxy  string `json:"proxy,omitempty"`
	CAFile string `json:"caFile,omitempty"` // where the CA is on the emulator's machine
}

// localURL names a listener's URL the way this machine reaches it (http://[::]:8080 is
// http://localhost:8080).
func localURL(u string) string {
	rest, ok := strings.CutPrefix(u, "http://")
	if !ok {
		return u
	}
	if h, p, err := net.SplitHostPort(rest); err == nil {
		return "http://" + net.JoinHostPort(urlHost(h), p)
	}
	return u
}

type repositoryState struct {
	Name      string   `json:"name"`
	Tags      []string `json:"tags"`
	Manifests int      `json:"manifests"`
}

type registryState struct {
	RegistryInfo
	Repositories []repositoryState `json:"repositories"`
}

// state reports the world and its content, secrets included (the default world's are public).
func (e *Emulator) state(w http.ResponseWriter, r *http.Request) {
	out := struct {
		World any `json:"world"`
		// Endpoints are the listeners' base URLs, for clients that configure themselves
		// from here (acr-emulator env); a wildcard bind is named localhost.
		Endpoints  endpointsState  `json:"endpoints"`
		Registries []registryState `json:"registries"`
		Origins    []OriginInfo    `json:"origins"`
		Blobs      struct {
			Count int   `json:"count"`
			Bytes int64 `json:"bytes"`
		} `json:"blobs"`
	}{World: e.world, Origins: e.Origins(), Endpoints: endpointsState{HTTPS: e.HTTPSURL(), HTTP: localURL(e.HTTPURL()), Proxy: e.ProxyURL(), CAFile: e.ca.Path()}}
	for _, info := range e.Registries() {
		rs := registryState{RegistryInfo: info, Repositories: []repositoryState{}}
		repos, err := e.st.ListRepositories(info.Name)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for _, repo := range repos {
			tags, err := e.st.ListTags(info.Name, repo.Name)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			manifests, _, err := e.st.RepositoryCounts(info.Name, repo.Name)
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			names := []string{}
			for _, t := range tags {
				names = append(names, t.Name)
			}
			rs.Repositories = append(rs.Repositories, repositoryState{Name: repo.Name, Tags: names, Manifests: manifests})
		}
		out.Registries = append(out.Registries, rs)
	}
	out.Blobs.Count, out.Blobs.Bytes = e.st.Blobs().Stats()
	writeControlJSON(w, http.StatusOK, out)
}

func writeControlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
