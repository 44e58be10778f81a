package store

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/opencontainers/go-digest"
)

// Dump is the whole state of a store: every record, and the bytes of every manifest and blob a
// record refers to. Upload sessions are not part of it (a client whose upload was dropped
// starts again, as after a registry restart). A dump shares its byte slices with the store and
// with other dumps: they are never modified.
type Dump struct {
	Registries       []*Registry
	Repositories     []*Repository
	Manifests        []*Manifest
	Tags             []*Tag
	BlobLinks        []*BlobLink
	Principals       []*Principal
	RoleAssignments  []*RoleAssignment
	Resources        []*Resource
	PrivateEndpoints []*PrivateEndpoint
	ResourceGroups   []*ResourceGroup
	Replications     []*Replication
	Webhooks         []*Webhook
	ScopeMaps        []*ScopeMap
	Tokens           []*Token
	// Blobs holds the bytes of every manifest digest and blob link digest, once each.
	Blobs map[digest.Digest][]byte `json:"-"`
}

// Dump copies out the whole state. It holds writes back while it reads (see Check), so every
// record it sees keeps its bytes until they are copied out.
func (s *Store) Dump() (*Dump, error) {
	s.quiesce.Lock()
	defer s.quiesce.Unlock()
	d, err := s.dumpRecords()
	if err != nil {
		return nil, err
	}
	for _, dg := range d.refs() {
		if _, ok := d.Blobs[dg]; ok {
			continue
		}
		b, ok := s.blobs.Get(dg)
		if !ok {
			return nil, fmt.Errorf("store: %s is referred to but not held", dg)
		}
		d.Blobs[dg] = b
	}
	return d, nil
}

// dumpRecords copies out every record, without bytes.
func (s *Store) dumpRecords() (*Dump, error) {
	d := &Dump{Blobs: map[digest.Digest][]byte{}}
	txn := s.db.Txn(true)
	defer txn.Abort()
	var err error
	collect := func(table string, into func(raw any)) {
		if err != nil {
			return
		}
		var it memdb.ResultIterator
		if it, err = txn.Get(table, indexID); err != nil {
			return
		}
		for raw := it.Next(); raw != nil; raw = it.Next() {
			into(raw)
		}
	}
	collect(TableRegistries, func(r any) { d.Registries = append(d.Registries, r.(*Registry)) })
	collect(TableRepositories, func(r any) { d.Repositories = append(d.Repositories, r.(*Repository)) })
	collect(TableManifests, func(r any) { d.Manifests = append(d.Manifests, r.(*Manifest)) })
	collect(TableTags, func(r any) { d.Tags = append(d.Tags, r.(*Tag)) })
	collect(TableBlobLinks, func(r any) { d.BlobLinks = append(d.BlobLinks, r.(*BlobLink)) })
	collect(TablePrincipals, func(r any) { d.Principals = append(d.Principals, r.(*Principal)) })
	collect(TableAssignments, func(r any) { d.RoleAssignments = append(d.RoleAssignments, r.(*RoleAssignment)) })
	collect(TableResources, func(r any) { d.Resources = append(d.Resources, r.(*Resource)) })
	collect(TableEndpoints, func(r any) { d.PrivateEndpoints = append(d.PrivateEndpoints, r.(*PrivateEndpoint)) })
	collect(TableResourceGroups, func(r any) { d.ResourceGroups = append(d.ResourceGroups, r.(*ResourceGroup)) })
	collect(TableReplications, func(r any) { d.Replications = append(d.Replications, r.(*Replication)) })
	collect(TableWebhooks, func(r any) { d.Webhooks = append(d.Webhooks, r.(*Webhook)) })
	collect(TableScopeMaps, func(r any) { d.ScopeMaps = append(d.ScopeMaps, r.(*ScopeMap)) })
	collect(TableTokens, func(r any) { d.Tokens = append(d.Tokens, r.(*Token)) })
	if err != nil {
		return nil, err
	}
	return d, nil
}

// refs lists the digest of each record that holds a blobstore reference, once per record.
func (d *Dump) refs() []digest.Digest {
	out := make([]digest.Digest, 0, len(d.Manifests)+len(d.BlobLinks))
	for _, m := range d.Manifests {
		out = append(out, m.Digest)
	}
	for _, l := range d.BlobLinks {
		out = append(out, l.Digest)
	}
	return out
}

// Restore replaces the whole state with a dump's, in one transaction: readers see the old
// state or the new one, never a mix, and every record of the new state holds its reference to
// its bytes, as a push would have left it. Upload sessions in progress are dropped. Nothing
// changes when the dump lacks the bytes of a record. The bytes are trusted to match their
// digests (a dump from disk is checked when read).
func (s *Store) Restore(d *Dump) error {
	for _, dg := range d.refs() {
		if _, ok := d.Blobs[dg]; !ok {
			return fmt.Errorf("store: the dump refers to %s without its bytes", dg)
		}
	}
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		var releases []digest.Digest
		for _, table := range []string{TableManifests, TableBlobLinks} {
			it, err := txn.Get(table, indexID)
			if err != nil {
				return nil, err
			}
			for raw := it.Next(); raw != nil; raw = it.Next() {
				switch r := raw.(type) {
				case *Manifest:
					releases = append(releases, r.Digest)
				case *BlobLink:
					releases = append(releases, r.Digest)
				}
			}
		}
		for _, table := range []string{TableRegistries, TableRepositories, TableManifests, TableTags, TableBlobLinks, TableUploads,
			TablePrincipals, TableAssignments, TableResources, TableEndpoints, TableResourceGroups, TableReplications, TableWebhooks,
			TableScopeMaps, TableTokens} {
			if _, err := txn.DeleteAll(table, indexID); err != nil {
				return nil, err
			}
		}
		for _, err := range []error{
			insertAll(txn, TableRegistries, d.Registries, (*Registry).Copy),
			insertAll(txn, TableRepositories, d.Repositories, (*Repository).Copy),
			insertAll(txn, TableManifests, d.Manifests, (*Manifest).Copy),
			insertAll(txn, TableTags, d.Tags, (*Tag).Copy),
			insertAll(txn, TableBlobLinks, d.BlobLinks, shallow[BlobLink]),
			insertAll(txn, TablePrincipals, d.Principals, shallow[Principal]),
			insertAll(txn, TableAssignments, d.RoleAssignments, shallow[RoleAssignment]),
			insertAll(txn, TableResources, d.Resources, func(r *Resource) *Resource {
				c := *r
				c.UserAssigned = append([]string(nil), r.UserAssigned...)
				return &c
			}),
			insertAll(txn, TableEndpoints, d.PrivateEndpoints, (*PrivateEndpoint).Copy),
			insertAll(txn, TableResourceGroups, d.ResourceGroups, (*ResourceGroup).Copy),
			insertAll(txn, TableReplications, d.Replications, (*Replication).Copy),
			insertAll(txn, TableWebhooks, d.Webhooks, (*Webhook).Copy),
			insertAll(txn, TableScopeMaps, d.ScopeMaps, (*ScopeMap).Copy),
			insertAll(txn, TableTokens, d.Tokens, (*Token).Copy),
		} {
			if err != nil {
				return nil, err
			}
		}
		// The new records' references are taken before the commit, so no reader of the new
		// state finds bytes missing; the old records' go after it.
		for _, dg := range d.refs() {
			s.blobs.Put(dg, d.Blobs[dg])
		}
		return releases, nil
	})
}

// insertAll inserts a copy of each record (stored values are never shared with the dump).
func insertAll[T any](txn *memdb.Txn, table string, records []*T, copyOf func(*T) *T) error {
	for _, r := range records {
		if err := txn.Insert(table, copyOf(r)); err != nil {
			return err
		}
	}
	return nil
}

func shallow[T any](r *T) *T { c := *r; return &c }
