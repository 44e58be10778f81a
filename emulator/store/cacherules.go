package store

import "time"

// CacheRule maps an upstream repository onto a repository of the registry (registries/
// cacheRules), kept as its ARM resource; what a pull through it does is the data plane's.
type CacheRule struct {
	Registry         string
	Name             string // as created
	SourceRepository string // upstream, "docker.io/library/hello-world"
	TargetRepository string
	CredentialSetID  string // ARM id of the credential set ("" for anonymous upstream pulls)
	CreatedAt        time.Time
	System           SystemData
}

// Copy returns a copy safe to modify.
func (r *CacheRule) Copy() *CacheRule { c := *r; return &c }

// PutCacheRule inserts or replaces a cache rule.
func (s *Store) PutCacheRule(r *CacheRule) error {
	return putChild(s, TableCacheRules, r.Registry, r.Copy())
}

// GetCacheRule returns a registry's cache rule by name (any case), nil when absent.
func (s *Store) GetCacheRule(registry, name string) (*CacheRule, error) {
	return getChild[CacheRule](s, TableCacheRules, registry, name)
}

// ListCacheRules returns a registry's cache rules by name.
func (s *Store) ListCacheRules(registry string) ([]*CacheRule, error) {
	return listChildren[CacheRule](s, TableCacheRules, registry)
}

// DeleteCacheRule removes a cache rule.
func (s *Store) DeleteCacheRule(registry, name string) error {
	return deleteChild(s, TableCacheRules, registry, name)
}
