package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/acr-emulator/acr-emulator/emulator/faults"
	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
)

// addWorldFaults declares the faults of the world's registries.
func (e *Emulator) addWorldFaults() error {
	for i, r := range e.world.Registries {
		for j, f := range r.Faults {
			f.Registry = r.Name
			if err := e.faults.Add(f); err != nil {
				return fmt.Errorf("world: registries[%d].faults[%d]: %w", i, j, err)
			}
		}
	}
	return nil
}

// writeFault answers an injected status in the registry's error envelope, with the codes
// registries use for them.
func writeFault(w http.ResponseWriter, r *http.Request, status int) {
	code := "UNKNOWN"
	switch status {
	case http.StatusTooManyRequests:
		code = "TOOMANYREQUESTS"
	case http.StatusServiceUnavailable:
		code = "UNAVAILABLE"
	}
	httpx.WriteRegistryError(w, r, httpx.NewRegistryError(status, code,
		http.StatusText(status)+" (a fault injected by acr-emulator: /_emulator/faults)"))
}

// faultRoutes are the control endpoints of injected faults: GET lists them (Count is what is
// left), POST adds a rule or a list of rules, DELETE removes them all.
func (e *Emulator) faultRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		writeControlJSON(w, http.StatusOK, map[string]any{"faults": e.faults.List()})
	})
	mux.HandleFunc("POST /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		rules, err := decodeRules(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			writeControlJSON(w, http.StatusBadRequest, map[string]string{"error": "the body must be a fault rule or a list of them: " + err.Error()})
			return
		}
		for i, f := range rules {
			if !e.servesRegistry(f.Registry) {
				writeControlJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf("fault %d: no registry %q", i, f.Registry)})
				return
			}
		}
		if err := e.faults.Add(rules...); err != nil {
			writeControlJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
			return
		}
		writeControlJSON(w, http.StatusOK, map[string]any{"faults": e.faults.List()})
	})
	mux.HandleFunc("DELETE /_emulator/faults", func(w http.ResponseWriter, r *http.Request) {
		e.faults.Clear()
		writeControlJSON(w, http.StatusOK, map[string]any{"faults": []faults.Rule{}})
	})
}

func (e *Emulator) servesRegistry(name string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	_, ok := e.registries[name]
	return ok
}

// decodeRules reads one rule or a list of them; unknown fields are errors, so a typo does not
// pass as a rule that matches everything.
func decodeRules(body io.Reader) ([]faults.Rule, error) {
	b, err := io.ReadAll(body)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var rules []faults.Rule
	if trimmed := bytes.TrimSpace(b); len(trimmed) > 0 && trimmed[0] == '[' {
		err = dec.Decode(&rules)
	} else {
		var one faults.Rule
		err = dec.Decode(&one)
		rules = []faults.Rule{one}
	}
	return rules, err
}
