package emulator

import (
	"context"
	"slices"

	"github.com/acr-emulator/acr-emulator/emulator/snapshot"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Snapshot returns the emulator's whole state: its world, the store's records and bytes, and
// the ACR tasks; not the emulator's own service identities, which each process makes anew.
// The bytes are read from the store, which keeps them for the snapshot until its Close.
func (e *Emulator) Snapshot() (*snapshot.Snapshot, error) {
	d, err := e.st.Dump()
	if err != nil {
		return nil, err
	}
	ts, err := e.exportTasks(e.services())
	if err != nil {
		d.Close()
		return nil, err
	}
	users, _ := e.splitInternal(d)
	return &snapshot.Snapshot{World: e.world, State: users, Tasks: ts}, nil
}

// splitInternal separates the emulator's own service identities (principals and their role
// assignments) from the rest of a dump.
func (e *Emulator) splitInternal(d *store.Dump) (users, internal *store.Dump) {
	u, in := *d, store.Dump{}
	mine := func(p *store.Principal) bool { return e.internal[p.ObjectID] }
	u.Principals = slices.DeleteFunc(slices.Clone(d.Principals), mine)
	in.Principals = slices.DeleteFunc(slices.Clone(d.Principals), func(p *store.Principal) bool { return !mine(p) })
	assigned := func(a *store.RoleAssignment) bool { return e.internal[a.PrincipalID] }
	u.RoleAssignments = slices.DeleteFunc(slices.Clone(d.RoleAssignments), assigned)
	in.RoleAssignments = slices.DeleteFunc(slices.Clone(d.RoleAssignments), func(a *store.RoleAssignment) bool { return !assigned(a) })
	return &u, &in
}

// seedContent fills the store after the world's registries are served: from the world
// (preloaded images, tasks), or from the snapshot whose registries saved holds (served where
// this start listens).
func (e *Emulator) seedContent(saved map[string]*store.Registry) error {
	snap := e.cfg.Snapshot
	if snap == nil {
		if err := e.preloadWorld(context.Background()); err != nil {
			return err
		}
		if err := e.createWorldTokens(); err != nil {
			return err
		}
		if err := e.createWorldCache(); err != nil {
			return err
		}
		return e.createWorldTasks(e.services().tasksAPI)
	}
	d := *snap.State
	d.Registries = nil
	for _, r := range snap.State.Registries {
		rec := saved[r.Name]
		if _, served := e.registryInfo(r.Name); !served {
			rec = r
			e.serveCreated(rec)
		}
		d.Registries = append(d.Registries, rec)
	}
	// This process's own service identities stay; the snapshot has none.
	current, err := e.st.Dump()
	if err != nil {
		return err
	}
	current.Close() // only its records are wanted
	_, own := e.splitInternal(current)
	d.Principals = append(slices.Clone(d.Principals), own.Principals...)
	d.RoleAssignments = append(slices.Clone(d.RoleAssignments), own.RoleAssignments...)
	if err := e.st.Restore(&d); err != nil {
		return err
	}
	return e.importTasks(e.services(), snap.Tasks)
}
