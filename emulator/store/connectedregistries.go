package store

import "slices"

// ConnectedRegistry is an on-premises replica of a registry (registries/connectedRegistries),
// kept as its ARM resource: the runtime that would sync it is not emulated, so it never
// connects and stays inactive.
type ConnectedRegistry struct {
	Registry string
	Name     string // as created
	Mode     string // ReadWrite, ReadOnly, Registry, Mirror
	// ParentID is the ARM id of the parent connected registry ("" for the cloud registry).
	ParentID      string
	SyncTokenID   string
	SyncSchedule  string
	SyncWindow    string // ISO 8601 duration, "" for none
	MessageTTL    string // ISO 8601 duration
	ClientTokens  []string
	LogLevel      string
	AuditLog      string // Enabled or Disabled
	Notifications []string
	GCEnabled     bool
	GCSchedule    string
	Active        bool
	System        SystemData
}

// Copy returns a copy safe to modify.
func (c *ConnectedRegistry) Copy() *ConnectedRegistry {
	d := *c
	d.ClientTokens = slices.Clone(c.ClientTokens)
	d.Notifications = slices.Clone(c.Notifications)
	return &d
}

// PutConnectedRegistry inserts or replaces a connected registry.
func (s *Store) PutConnectedRegistry(c *ConnectedRegistry) error {
	return putChild(s, TableConnectedRegistries, c.Registry, c.Copy())
}

// GetConnectedRegistry returns a registry's connected registry by name (any case), nil when absent.
func (s *Store) GetConnectedRegistry(registry, name string) (*ConnectedRegistry, error) {
	return getChild[ConnectedRegistry](s, TableConnectedRegistries, registry, name)
}

// ListConnectedRegistries returns a registry's connected registries by name.
func (s *Store) ListConnectedRegistries(registry string) ([]*ConnectedRegistry, error) {
	return listChildren[ConnectedRegistry](s, TableConnectedRegistries, registry)
}

// DeleteConnectedRegistry removes a connected registry.
func (s *Store) DeleteConnectedRegistry(registry, name string) error {
	return deleteChild(s, TableConnectedRegistries, registry, name)
}
