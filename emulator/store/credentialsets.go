package store

import (
	"slices"
	"time"
)

// CredentialSet names the Key Vault secrets that hold an upstream registry's credentials
// (registries/credentialSets), read with the set's own system-assigned identity.
type CredentialSet struct {
	Registry    string
	Name        string // as created
	LoginServer string // the upstream, "docker.io"
	Credentials []AuthCredential
	// PrincipalID is the object id of the set's system-assigned identity.
	PrincipalID string
	CreatedAt   time.Time
	System      SystemData
}

// AuthCredential is one credential of a set: the Key Vault secret ids of its username and
// password.
type AuthCredential struct {
	Name, UsernameSecretID, PasswordSecretID string
}

// Copy returns a copy safe to modify.
func (c *CredentialSet) Copy() *CredentialSet {
	d := *c
	d.Credentials = slices.Clone(c.Credentials)
	return &d
}

// PutCredentialSet inserts or replaces a credential set.
func (s *Store) PutCredentialSet(c *CredentialSet) error {
	return putChild(s, TableCredentialSets, c.Registry, c.Copy())
}

// GetCredentialSet returns a registry's credential set by name (any case), nil when absent.
func (s *Store) GetCredentialSet(registry, name string) (*CredentialSet, error) {
	return getChild[CredentialSet](s, TableCredentialSets, registry, name)
}

// ListCredentialSets returns a registry's credential sets by name.
func (s *Store) ListCredentialSets(registry string) ([]*CredentialSet, error) {
	return listChildren[CredentialSet](s, TableCredentialSets, registry)
}

// DeleteCredentialSet removes a credential set.
func (s *Store) DeleteCredentialSet(registry, name string) error {
	return deleteChild(s, TableCredentialSets, registry, name)
}
