package store

import (
	"maps"
	"strings"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/opencontainers/go-digest"
)

// Replication is a geo-replica of a Premium registry (registries/replications). The
// registry's home location is a replication too; it is stored only once it is changed.
type Replication struct {
	Registry              string // the registry's name
	Name                  string // as created
	Location              string // normalized (westeurope)
	Tags                  map[string]string
	RegionEndpointEnabled bool
	ZoneRedundancy        bool
	System                SystemData
}

// SystemData is who created and last changed an ARM resource, and when (its systemData).
type SystemData struct {
	CreatedBy, CreatedByType           string
	CreatedAt                          time.Time
	LastModifiedBy, LastModifiedByType string
	LastModifiedAt                     time.Time
}

// Copy returns a copy safe to modify.
func (r *Replication) Copy() *Replication {
	c := *r
	c.Tags = maps.Clone(r.Tags)
	return &c
}

func replicationsTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableReplications,
		Indexes: map[string]*memdb.IndexSchema{
			// id: (registry, name), the name case-insensitive as ARM compares it; prefix
			// (registry, "") lists a registry's replications.
			indexID: {Name: indexID, Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
				str("Registry"), &memdb.StringFieldIndex{Field: "Name", Lowercase: true}}}},
		},
	}
}

// PutReplication inserts or replaces a replication.
func (s *Store) PutReplication(r *Replication) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		reg, err := first[Registry](txn, TableRegistries, indexID, r.Registry)
		if err != nil {
			return nil, err
		}
		if reg == nil {
			return nil, ErrRegistryNotFound
		}
		return nil, txn.Insert(TableReplications, r.Copy())
	})
}

// GetReplication returns a registry's replication by name (any case), nil when absent.
func (s *Store) GetReplication(registry, name string) (*Replication, error) {
	return first[Replication](s.db.Txn(false), TableReplications, indexID, registry, strings.ToLower(name))
}

// ListReplications returns a registry's stored replications by name.
func (s *Store) ListReplications(registry string) ([]*Replication, error) {
	return all[Replication](s.db.Txn(false), TableReplications, indexID+"_prefix", registry, "")
}

// DeleteReplication removes a replication.
func (s *Store) DeleteReplication(registry, name string) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		_, err := txn.DeleteAll(TableReplications, indexID, registry, strings.ToLower(name))
		return nil, err
	})
}
