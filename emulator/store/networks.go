package store

import (
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/opencontainers/go-digest"
)

// VirtualNetwork is a Microsoft.Network/virtualNetworks resource as ARM created it. A VNet
// whose name is a world's VNet origin is that origin: its private endpoints carry the origin's
// traffic. Properties the emulator does not interpret are kept as sent, so clients read back
// what they wrote.
type VirtualNetwork struct {
	ID            string // as created; compared without case
	Name          string
	ResourceGroup string
	Location      string
	Tags          map[string]string
	// Properties are the VNet's writable properties as sent, without its subnets.
	Properties map[string]any
	Subnets    []Subnet
}

// Subnet is a subnet of a VNet.
type Subnet struct {
	Name       string
	Properties map[string]any // writable properties as sent
}

// Copy returns a copy safe to modify (properties are replaced whole, never changed in place).
func (v *VirtualNetwork) Copy() *VirtualNetwork {
	c := *v
	c.Tags = maps.Clone(v.Tags)
	c.Properties = maps.Clone(v.Properties)
	c.Subnets = slices.Clone(v.Subnets)
	return &c
}

// Subnet returns the subnet of that name (any case), nil when absent.
func (v *VirtualNetwork) Subnet(name string) *Subnet {
	for i := range v.Subnets {
		if strings.EqualFold(v.Subnets[i].Name, name) {
			return &v.Subnets[i]
		}
	}
	return nil
}

func virtualNetworksTableSchema() *memdb.TableSchema {
	return &memdb.TableSchema{
		Name: TableVirtualNetworks,
		Indexes: map[string]*memdb.IndexSchema{
			// id: the ARM id, case-insensitive as ARM compares it.
			indexID: {Name: indexID, Unique: true, Indexer: &memdb.StringFieldIndex{Field: "ID", Lowercase: true}},
		},
	}
}

// PutVirtualNetwork inserts or replaces a VNet.
func (s *Store) PutVirtualNetwork(v *VirtualNetwork) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		return nil, txn.Insert(TableVirtualNetworks, v.Copy())
	})
}

// GetVirtualNetwork returns a VNet by id, nil when absent.
func (s *Store) GetVirtualNetwork(id string) (*VirtualNetwork, error) {
	return first[VirtualNetwork](s.db.Txn(false), TableVirtualNetworks, indexID, strings.ToLower(id))
}

// ListVirtualNetworks returns every VNet.
func (s *Store) ListVirtualNetworks() ([]*VirtualNetwork, error) {
	return all[VirtualNetwork](s.db.Txn(false), TableVirtualNetworks, indexID)
}

// DeleteVirtualNetwork removes a VNet and its subnets.
func (s *Store) DeleteVirtualNetwork(id string) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		_, err := txn.DeleteAll(TableVirtualNetworks, indexID, strings.ToLower(id))
		return nil, err
	})
}
