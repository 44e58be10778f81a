package store

import (
	"maps"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/opencontainers/go-digest"
)

// ResourceGroup is a Microsoft.Resources resource group of the emulated subscription.
type ResourceGroup struct {
	Name      string // as created: ARM keeps the caller's casing and compares without it
	Location  string
	Tags      map[string]string
	ManagedBy string
	CreatedAt time.Time
}

// Copy returns a copy safe to modify.
func (g *ResourceGroup) Copy() *ResourceGroup {
	c := *g
	c.Tags = maps.Clone(g.Tags)
	return &c
}

func resourceGroupsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableResourceGroups,
		Indexes: map[string]*memdb.IndexSchema{
			// id: the group's name, case-insensitive as ARM compares it.
			indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "Name", Lowercase: true}},
		},
	}
}

// PutResourceGroup inserts or replaces a resource group.
func (s *Store) PutResourceGroup(g *ResourceGroup) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		c := g.Copy()
		if c.CreatedAt.IsZero() {
			c.CreatedAt = s.now()
		}
		return nil, txn.Insert(TableResourceGroups, c)
	})
}

// GetResourceGroup returns a resource group by name (any case), nil when absent.
func (s *Store) GetResourceGroup(name string) (*ResourceGroup, error) {
	return first[ResourceGroup](s.db.Txn(false), TableResourceGroups, indexID, strings.ToLower(name))
}

// ListResourceGroups returns every resource group by name.
func (s *Store) ListResourceGroups() ([]*ResourceGroup, error) {
	return all[ResourceGroup](s.db.Txn(false), TableResourceGroups, indexID)
}

// DeleteResourceGroup removes the group record; what it holds is removed by the caller first.
func (s *Store) DeleteResourceGroup(name string) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		_, err := txn.DeleteAll(TableResourceGroups, indexID, strings.ToLower(name))
		return nil, err
	})
}

// DeleteRoleAssignmentsUnder removes the role assignments whose scope is scope or below it,
// as Azure does when the scope's resource is deleted.
func (s *Store) DeleteRoleAssignmentsUnder(scope string) error {
	prefix := strings.TrimSuffix(strings.ToLower(scope), "/")
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		as, err := all[RoleAssignment](txn, TableAssignments, indexID)
		if err != nil {
			return nil, err
		}
		for _, a := range as {
			if sc := strings.ToLower(a.Scope); sc == prefix || strings.HasPrefix(sc, prefix+"/") {
				if err := txn.Delete(TableAssignments, a); err != nil {
					return nil, err
				}
			}
		}
		return nil, nil
	})
}
