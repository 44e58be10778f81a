package emulator

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// baseline is the state Start loaded, kept to return to: the store's records and bytes, the
// tasks as ACR Tasks' API answered them, and the registries served then.
type baseline struct {
	dump       *store.Dump
	tasks      []json.RawMessage
	registries map[string]*servedRegistry
	byHost     map[string]*servedRegistry
	mainReg    *servedRegistry
}

// capture records the current state as the one to return to. The dump pins the content it
// refers to, so a reset refers to it again instead of copying it back.
func (e *Emulator) capture() error {
	dump, err := e.st.Dump()
	if err != nil {
		return err
	}
	ts, err := e.exportTasks(e.services())
	if err != nil {
		dump.Close()
		return err
	}
	if e.start.dump != nil {
		e.start.dump.Close()
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	e.start = baseline{dump: dump, tasks: ts, registries: maps.Clone(e.registries), byHost: maps.Clone(e.byHost), mainReg: e.mainReg}
	return nil
}

// Reset returns the emulator to the state it started in: the world (or the snapshot) as
// loaded, preloaded images included. Everything since is gone: pushed content, registries,
// identities, role assignments and private endpoints created or changed through ARM, tasks
// and runs, the simulated services' resources, upload sessions, the audit. Requests in flight
// finish against the old state or the new one. Tokens issued before stay valid, as their
// signing keys do, and are judged against the restored role assignments.
func (e *Emulator) Reset() error {
	e.resetMu.Lock()
	defer e.resetMu.Unlock()
	if e.start.dump == nil {
		return fmt.Errorf("emulator: not started")
	}
	// Stop the runs and scans of the old services first, so none writes into the restored
	// state.
	old := e.services()
	old.close()
	if err := e.st.Restore(e.start.dump); err != nil {
		return err
	}
	next := e.newServices()
	if err := e.importTasks(next, e.start.tasks); err != nil {
		return err
	}
	e.mu.Lock()
	e.registries, e.byHost, e.mainReg = maps.Clone(e.start.registries), maps.Clone(e.start.byHost), e.start.mainReg
	e.mu.Unlock()
	e.svc.Store(next)
	e.audit.Reset()
	e.faults.Clear()
	if err := e.addWorldFaults(); err != nil {
		return err
	}
	e.log.Info("state reset to what the emulator started with")
	return nil
}

// exportTasks lists every registry's tasks as ACR Tasks' API answers them.
func (e *Emulator) exportTasks(s *services) ([]json.RawMessage, error) {
	regs, err := e.st.ListRegistries()
	if err != nil {
		return nil, err
	}
	var out []json.RawMessage
	for _, r := range regs {
		status, body := callTasks(s.tasksAPI, http.MethodGet, r.ID+"/tasks", nil)
		if status != http.StatusOK {
			return nil, fmt.Errorf("tasks of %s: %d %s", r.Name, status, armMessage(body))
		}
		var list struct {
			Value []json.RawMessage `json:"value"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return nil, err
		}
		out = append(out, list.Value...)
	}
	return out, nil
}

// importTasks creates tasks from the resources exportTasks returned. Their identities attach
// to the principals the restored store holds, so they keep their principal ids.
func (e *Emulator) importTasks(s *services, ts []json.RawMessage) error {
	for _, raw := range ts {
		var t struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(raw, &t); err != nil || t.ID == "" {
			return fmt.Errorf("a task without an id: %.100s", raw)
		}
		if err := putTask(s.tasksAPI, t.ID, raw); err != nil {
			return fmt.Errorf("task %s: %v", t.ID, err)
		}
	}
	return nil
}
