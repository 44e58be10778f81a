package store

import (
	"slices"
	"time"
)

// ScopeMap is a user-defined scope map of a registry (registries/scopeMaps): the repository
// permissions its tokens get. The system-defined ones are not stored (every registry has them).
type ScopeMap struct {
	Registry    string // the registry's name
	Name        string // as created
	Description string
	Actions     []string // as given, in order
	CreatedAt   time.Time
	System      SystemData
}

// Copy returns a copy safe to modify.
func (m *ScopeMap) Copy() *ScopeMap {
	c := *m
	c.Actions = slices.Clone(m.Actions)
	return &c
}

// Token is a repository-scoped token of a registry (registries/tokens): a user name and up to
// two passwords, with the permissions of its scope map.
type Token struct {
	Registry string
	Name     string // as created; also the user name
	// ScopeMapID is the scope map's ARM id as the caller wrote it; ScopeMap its name.
	ScopeMapID   string
	ScopeMap     string
	Enabled      bool
	CreatedAt    time.Time
	Passwords    []TokenPassword // password1, password2, in that order, each at most once
	Certificates []TokenCertificate
	System       SystemData
}

// TokenPassword is one of a token's passwords; a zero Expiry never expires.
type TokenPassword struct {
	Name      string // password1 or password2
	Value     string
	CreatedAt time.Time
	Expiry    time.Time
}

// TokenCertificate is a certificate recorded on a token (shown by ARM; the data plane does
// not authenticate with it).
type TokenCertificate struct {
	Name       string // certificate1 or certificate2
	Thumbprint string
	Expiry     time.Time
}

// Copy returns a copy safe to modify.
func (t *Token) Copy() *Token {
	c := *t
	c.Passwords = slices.Clone(t.Passwords)
	c.Certificates = slices.Clone(t.Certificates)
	return &c
}

// PutScopeMap inserts or replaces a scope map.
func (s *Store) PutScopeMap(m *ScopeMap) error {
	return putChild(s, TableScopeMaps, m.Registry, m.Copy())
}

// GetScopeMap returns a registry's scope map by name (any case), nil when absent.
func (s *Store) GetScopeMap(registry, name string) (*ScopeMap, error) {
	return getChild[ScopeMap](s, TableScopeMaps, registry, name)
}

// ListScopeMaps returns a registry's scope maps by name.
func (s *Store) ListScopeMaps(registry string) ([]*ScopeMap, error) {
	return listChildren[ScopeMap](s, TableScopeMaps, registry)
}

// DeleteScopeMap removes a scope map; the tokens using it keep naming it and get nothing.
func (s *Store) DeleteScopeMap(registry, name string) error {
	return deleteChild(s, TableScopeMaps, registry, name)
}

// PutToken inserts or replaces a token.
func (s *Store) PutToken(t *Token) error { return putChild(s, TableTokens, t.Registry, t.Copy()) }

// GetToken returns a registry's token by name (any case), nil when absent.
func (s *Store) GetToken(registry, name string) (*Token, error) {
	return getChild[Token](s, TableTokens, registry, name)
}

// ListTokens returns a registry's tokens by name.
func (s *Store) ListTokens(registry string) ([]*Token, error) {
	return listChildren[Token](s, TableTokens, registry)
}

// DeleteToken removes a token.
func (s *Store) DeleteToken(registry, name string) error {
	return deleteChild(s, TableTokens, registry, name)
}
