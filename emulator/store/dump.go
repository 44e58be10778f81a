package store

import (
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/hashicorp/go-memdb"
	"github.com/opencontainers/go-digest"
)

// Dump is the whole state of a store: every record, and where to read the bytes of every
// manifest and blob a record refers to. Upload sessions are not part of it (a client whose
// upload was dropped starts again, as after a registry restart).
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
	VirtualNetworks  []*VirtualNetwork
	// Registry children (children.go).
	AgentPools          []*AgentPool
	ConnectedRegistries []*ConnectedRegistry
	CacheRules          []*CacheRule
	CredentialSets      []*CredentialSet
	// Content reads the bytes of every manifest and blob the records refer to: the store the
	// dump was taken from, which keeps them (pinned, never copied) until Close, or a
	// snapshot's files.
	Content Content `json:"-"`
}

// Content is where a dump's bytes are read from.
type Content interface {
	// Open reads d's bytes (an error when it has none); the caller closes it. A reader with
	// the Name of a file (an *os.File, an on-disk blob) may be linked rather than copied.
	Open(d digest.Digest) (io.ReadCloser, error)
}

// Sizes lists each digest the records refer to, once, with its size.
func (d *Dump) Sizes() map[digest.Digest]int64 {
	out := make(map[digest.Digest]int64, len(d.Manifests)+len(d.BlobLinks))
	for _, m := range d.Manifests {
		out[m.Digest] = m.Size
	}
	for _, l := range d.BlobLinks {
		out[l.Digest] = l.Size
	}
	return out
}

// Close lets go of the bytes a dump of a store keeps there (no-op for other dumps). A baseline
// that a reset returns to is never closed; a snapshot's dump is, once it is written.
func (d *Dump) Close() {
	if c, ok := d.Content.(io.Closer); ok {
		_ = c.Close()
	}
}

// Dump copies out the whole state. It holds writes back while it reads (see Check), so every
// record it sees has its bytes, which it pins: they stay readable through the dump, whatever
// is deleted later, until Close.
func (s *Store) Dump() (*Dump, error) {
	s.quiesce.Lock()
	defer s.quiesce.Unlock()
	d, err := s.dumpRecords()
	if err != nil {
		return nil, err
	}
	p := &pinned{st: s}
	for dg := range d.Sizes() {
		if !s.blobs.Pin(dg) {
			p.unpin()
			return nil, fmt.Errorf("store: %s is referred to but not held", dg)
		}
		p.digests = append(p.digests, dg)
	}
	d.Content = p
	return d, nil
}

// pinned is a dump's content in the store it was taken from.
type pinned struct {
	st      *Store
	once    sync.Once
	digests []digest.Digest
}

func (p *pinned) Open(d digest.Digest) (io.ReadCloser, error) {
	b, ok := p.st.blobs.Open(d)
	if !ok {
		return nil, fmt.Errorf("store: %s is not held", d)
	}
	return b, nil
}

// Close unpins, as a write does (under quiesce), so Check never sees it half done.
func (p *pinned) Close() error {
	p.once.Do(func() {
		p.st.quiesce.RLock()
		defer p.st.quiesce.RUnlock()
		p.unpin()
	})
	return nil
}

func (p *pinned) unpin() {
	for _, d := range p.digests {
		p.st.blobs.Unpin(d)
	}
}

// dumpRecords copies out every record, without bytes.
func (s *Store) dumpRecords() (*Dump, error) {
	d := &Dump{}
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
	collect(TableVirtualNetworks, func(r any) { d.VirtualNetworks = append(d.VirtualNetworks, r.(*VirtualNetwork)) })
	collect(TableAgentPools, func(r any) { d.AgentPools = append(d.AgentPools, r.(*AgentPool)) })
	collect(TableConnectedRegistries, func(r any) { d.ConnectedRegistries = append(d.ConnectedRegistries, r.(*ConnectedRegistry)) })
	collect(TableCacheRules, func(r any) { d.CacheRules = append(d.CacheRules, r.(*CacheRule)) })
	collect(TableCredentialSets, func(r any) { d.CredentialSets = append(d.CredentialSets, r.(*CredentialSet)) })
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
// its bytes, as a push would have left it. Upload sessions in progress are dropped. Bytes the
// store holds already (a reset to a dump of its own) are referred to again, never copied; the
// rest are read from the dump's Content, streamed and checked against their digests. Nothing
// changes when the dump lacks the bytes of a record or they cannot be stored.
func (s *Store) Restore(d *Dump) error {
	s.quiesce.RLock()
	defer s.quiesce.RUnlock()
	var taken []digest.Digest // one reference each, given back on failure
	fail := func(err error) error {
		for _, dg := range taken {
			s.blobs.Release(dg)
		}
		return err
	}
	sizes := d.Sizes()
	for _, dg := range sortedKeys(sizes) {
		if err := s.take(d.Content, dg, sizes[dg]); err != nil {
			return fail(err)
		}
		taken = append(taken, dg)
	}
	// The first record of each digest has the reference taken above; the others take theirs
	// from the bytes now held.
	seen := map[digest.Digest]bool{}
	for _, dg := range d.refs() {
		if seen[dg] {
			s.blobs.Acquire(dg)
			taken = append(taken, dg)
		}
		seen[dg] = true
	}
	var uploads []*Upload
	err := s.commit(func(txn *memdb.Txn) ([]digest.Digest, error) {
		var err error
		if uploads, err = all[Upload](txn, TableUploads, indexID); err != nil {
			return nil, err
		}
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
		for _, table := range append([]string{TableRegistries, TableRepositories, TableManifests, TableTags, TableBlobLinks, TableUploads,
			TablePrincipals, TableAssignments, TableResources, TableEndpoints, TableResourceGroups, TableReplications, TableWebhooks,
			TableVirtualNetworks}, childTables...) {
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
			insertAll(txn, TableVirtualNetworks, d.VirtualNetworks, (*VirtualNetwork).Copy),
			insertAll(txn, TableAgentPools, d.AgentPools, (*AgentPool).Copy),
			insertAll(txn, TableConnectedRegistries, d.ConnectedRegistries, (*ConnectedRegistry).Copy),
			insertAll(txn, TableCacheRules, d.CacheRules, (*CacheRule).Copy),
			insertAll(txn, TableCredentialSets, d.CredentialSets, (*CredentialSet).Copy),
		} {
			if err != nil {
				return nil, err
			}
		}
		// The new records' references were taken before the commit, so no reader of the new
		// state finds bytes missing; the old records' go after it.
		return releases, nil
	})
	if err != nil {
		return fail(err)
	}
	for _, u := range uploads {
		u.Data.Discard() // its bytes stop counting against the pending limit
	}
	return nil
}

// take adds a reference to dg: to bytes the store holds, else to bytes read from c.
func (s *Store) take(c Content, dg digest.Digest, size int64) error {
	if s.blobs.Acquire(dg) {
		return nil
	}
	if c == nil {
		return fmt.Errorf("store: the dump refers to %s without its bytes", dg)
	}
	r, err := c.Open(dg)
	if err != nil {
		return fmt.Errorf("store: the dump refers to %s without its bytes: %w", dg, err)
	}
	defer r.Close()
	if err := s.blobs.Ingest(dg, size, r); err != nil {
		return fmt.Errorf("store: restoring %s: %w", dg, err)
	}
	return nil
}

func sortedKeys(m map[digest.Digest]int64) []digest.Digest {
	out := make([]digest.Digest, 0, len(m))
	for d := range m {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
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
