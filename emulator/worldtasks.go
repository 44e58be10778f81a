package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/world"
)

// The world's ACR tasks are created through ACR Tasks' own API, in-process, as `az acr task
// create` would create them: the same checks (a step ACR Tasks cannot run is refused), the
// same identity attachment, the same stored resource. Reset and snapshots put tasks back the
// same way, from the resources that API answered.

// tasksAPIVersion is what in-process calls say; the Tasks handler does not look at it.
const tasksAPIVersion = "2025-03-01-preview"

// callTasks sends one request to the Tasks handler and returns its status and body.
func callTasks(h http.Handler, method, path string, body []byte) (int, []byte) {
	req := httptest.NewRequest(method, path+"?api-version="+tasksAPIVersion, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// armMessage is the message of an ARM error body, or the body itself.
func armMessage(b []byte) string {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
		return e.Error.Code + ": " + e.Error.Message
	}
	return strings.TrimSpace(string(b))
}

// putTask creates or replaces a task from its ARM resource body.
func putTask(h http.Handler, id string, body []byte) error {
	if status, out := callTasks(h, http.MethodPut, id, body); status != http.StatusOK {
		return fmt.Errorf("%d %s", status, armMessage(out))
	}
	return nil
}

// taskResource is the body a world task is created with. Keys of credentials.customRegistries
// that name a registry of the world become its login server, which is only known once the
// emulator listens.
func (e *Emulator) taskResource(r world.Registry, t world.Task) ([]byte, error) {
	w := e.world
	props := maps.Clone(t.Properties)
	if creds, ok := props["credentials"].(map[string]any); ok {
		if custom, ok := creds["customRegistries"].(map[string]any); ok {
			creds, custom = maps.Clone(creds), maps.Clone(custom)
			for k, v := range custom {
				if info, ok := e.registryInfo(k); ok {
					delete(custom, k)
					custom[info.LoginServer] = v
				}
			}
			creds["customRegistries"] = custom
			props["credentials"] = creds
		}
	}
	res := map[string]any{"location": r.Location, "properties": props}
	if t.Location != "" {
		res["location"] = world.NormalizeLocation(t.Location)
	}
	if t.Tags != nil {
		res["tags"] = t.Tags
	}
	if id := t.Identity; id != nil {
		block := map[string]any{"type": id.Type}
		if len(id.UserAssignedIdentities) > 0 {
			ua := map[string]any{}
			for _, u := range id.UserAssignedIdentities {
				if !strings.HasPrefix(u, "/") {
					u = w.ManagedIdentityID(u)
				}
				ua[u] = map[string]any{}
			}
			block["userAssignedIdentities"] = ua
		}
		res["identity"] = block
	}
	return json.Marshal(res)
}

// createWorldTasks creates every task the world declares.
func (e *Emulator) createWorldTasks(h http.Handler) error {
	w := e.world
	for i, r := range w.Registries {
		for j, t := range r.Tasks {
			field := fmt.Sprintf("registries[%d].tasks[%d]", i, j)
			body, err := e.taskResource(r, t)
			if err != nil {
				return w.Errorf(field, "%v", err)
			}
			if err := putTask(h, w.TaskID(r.Name, t.Name), body); err != nil {
				return w.Errorf(field, "ACR Tasks refused the task: %v", err)
			}
		}
	}
	return nil
}

// registryInfo describes a served registry by name.
func (e *Emulator) registryInfo(name string) (RegistryInfo, bool) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	sr, ok := e.registries[name]
	if !ok {
		return RegistryInfo{}, false
	}
	return sr.info, true
}
