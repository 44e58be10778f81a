package store

import (
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/opencontainers/go-digest"
)

// Registry children: the ARM resources under a registry (scope maps, tokens, agent pools,
// connected registries, cache rules, credential sets). Each table keys its records (Registry, Name), the name
// compared case-insensitively as ARM compares it, so a registry's children are a prefix scan
// and a registry's delete removes them (DeleteRegistry).

// childTables are the tables of registry children, for DeleteRegistry, Dump and Restore.
var childTables = []string{TableScopeMaps, TableTokens, TableAgentPools, TableConnectedRegistries, TableCacheRules, TableCredentialSets}

func childTableSchema(name string) func() *memdb.TableSchema {
	return func() *memdb.TableSchema {
		return &memdb.TableSchema{
			Name: name,
			Indexes: map[string]*memdb.IndexSchema{
				// id: (registry, name), the name lowercased; prefix (registry, "") lists a
				// registry's children in name order.
				indexID: {Name: indexID, Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
					str("Registry"), &memdb.StringFieldIndex{Field: "Name", Lowercase: true}}}},
			},
		}
	}
}

// putChild inserts or replaces a child of an existing registry.
func putChild[T any](s *Store, table, registry string, v *T) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		reg, err := first[Registry](txn, TableRegistries, indexID, registry)
		if err != nil {
			return nil, err
		}
		if reg == nil {
			return nil, ErrRegistryNotFound
		}
		return nil, txn.Insert(table, v)
	})
}

func getChild[T any](s *Store, table, registry, name string) (*T, error) {
	return first[T](s.db.Txn(false), table, indexID, registry, strings.ToLower(name))
}

func listChildren[T any](s *Store, table, registry string) ([]*T, error) {
	return all[T](s.db.Txn(false), table, indexID+"_prefix", registry, "")
}

func deleteChild(s *Store, table, registry, name string) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		_, err := txn.DeleteAll(table, indexID, registry, strings.ToLower(name))
		return nil, err
	})
}
