package store

import (
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/opencontainers/go-digest"
)

// Webhook is a registry's webhook (registries/webhooks): where it posts which events.
type Webhook struct {
	Registry string // the registry's name
	Name     string // as created
	// UID is made once when the webhook is created: its deliveries are kept under it, so a
	// webhook deleted and made again under the same name starts with none.
	UID           string
	Location      string // normalized (westeurope)
	Tags          map[string]string
	ServiceURI    string
	CustomHeaders map[string]string
	Enabled       bool
	// Scope is "repo:tag", "repo:*", "repo" (repo:latest) or "" (every event).
	Scope   string
	Actions []string // push, delete, quarantine, chart_push, chart_delete
	System  SystemData
}

// Copy returns a copy safe to modify.
func (w *Webhook) Copy() *Webhook {
	c := *w
	c.Tags, c.CustomHeaders, c.Actions = maps.Clone(w.Tags), maps.Clone(w.CustomHeaders), slices.Clone(w.Actions)
	return &c
}

func webhooksTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableWebhooks,
		Indexes: map[string]*memdb.IndexSchema{
			// id: (registry, name), the name case-insensitive as ARM compares it; prefix
			// (registry, "") lists a registry's webhooks, what every push looks up.
			indexID: {Name: indexID, Unique: true, Indexer: &memdb.CompoundIndex{Indexes: []memdb.Indexer{
				str("Registry"), &memdb.StringFieldIndex{Field: "Name", Lowercase: true}}}},
		},
	}
}

// PutWebhook inserts or replaces a webhook of an existing registry.
func (s *Store) PutWebhook(w *Webhook) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		reg, err := first[Registry](txn, TableRegistries, indexID, w.Registry)
		if err != nil {
			return nil, err
		}
		if reg == nil {
			return nil, ErrRegistryNotFound
		}
		return nil, txn.Insert(TableWebhooks, w.Copy())
	})
}

// GetWebhook returns a registry's webhook by name (any case), nil when absent.
func (s *Store) GetWebhook(registry, name string) (*Webhook, error) {
	return first[Webhook](s.db.Txn(false), TableWebhooks, indexID, registry, strings.ToLower(name))
}

// ListWebhooks returns a registry's webhooks by name.
func (s *Store) ListWebhooks(registry string) ([]*Webhook, error) {
	return all[Webhook](s.db.Txn(false), TableWebhooks, indexID+"_prefix", registry, "")
}

// DeleteWebhook removes a webhook.
func (s *Store) DeleteWebhook(registry, name string) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		_, err := txn.DeleteAll(TableWebhooks, indexID, registry, strings.ToLower(name))
		return nil, err
	})
}
