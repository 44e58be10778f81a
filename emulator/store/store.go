// Package store holds the emulator's registry state in go-memdb: registries, repositories,
// manifests, tags, blob links and upload sessions. Blob and manifest bytes live in
// store/blobstore, referenced by digest and counted, so each digest is kept once per process.
//
// Reads return (*T, error) with nil, nil for "absent"; writes return the sentinel errors below,
// which handlers map to their wire codes. Every write that changes references runs in one memdb
// write transaction (memdb serialises writers), so concurrent pushes of the same blobs and tags
// cannot tear state.
package store

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/store/blobstore"
	"github.com/hashicorp/go-memdb"
	"github.com/opencontainers/go-digest"
)

// Sentinel errors of write operations.
var (
	ErrRegistryNotFound   = errors.New("registry not found")
	ErrRepositoryNotFound = errors.New("repository not found")
	ErrManifestNotFound   = errors.New("manifest not found")
	ErrTagNotFound        = errors.New("tag not found")
	ErrBlobNotFound       = errors.New("blob not found")
	ErrUploadNotFound     = errors.New("upload not found")
	// ErrWriteDisabled: a changeableAttributes writeEnabled=false forbids the change.
	ErrWriteDisabled = errors.New("write disabled")
	// ErrDeleteDisabled: deleteEnabled=false (or writeEnabled=false) forbids the delete.
	ErrDeleteDisabled = errors.New("delete disabled")
)

// MissingReferenceError names content a manifest refers to that the repository does not have.
type MissingReferenceError struct {
	Digest   digest.Digest
	Manifest bool // a child manifest (true) or a blob (false)
}

func (e *MissingReferenceError) Error() string {
	kind := "blob"
	if e.Manifest {
		kind = "manifest"
	}
	return fmt.Sprintf("%s %s is not in the repository", kind, e.Digest)
}

// Store is the emulator's state. Create it with New; it is safe for concurrent use.
type Store struct {
	db    *memdb.MemDB
	blobs *blobstore.Store
	now   func() time.Time
	// quiesce is held for reading by every write from its first blob reference to its last
	// release, and for writing by Check: references are taken before a commit and released
	// after it, so only a quiet store has exactly one reference per record.
	quiesce sync.RWMutex
}

// New returns an empty store whose content lives in memory.
func New() *Store { return NewWithBlobs(blobstore.New()) }

// NewWithBlobs returns an empty store whose content lives in blobs (the on-disk store, or one
// with a pending-upload limit).
func NewWithBlobs(blobs *blobstore.Store) *Store {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		// The schema is static; an error here is a programming mistake caught by any test.
		panic(fmt.Sprintf("store: invalid schema: %v", err))
	}
	return &Store{db: db, blobs: blobs, now: func() time.Time { return time.Now().UTC() }}
}

// Blobs gives access to the content store (Open, Get, NewUpload, Stats, Refs, Pending).
func (s *Store) Blobs() *blobstore.Store { return s.blobs }

// first runs txn.First and converts the result to *T (nil when absent).
func first[T any](txn *memdb.Txn, table, index string, args ...any) (*T, error) {
	raw, err := txn.First(table, index, args...)
	if err != nil || raw == nil {
		return nil, err
	}
	return raw.(*T), nil
}

// all collects every object of an iterator as *T.
func all[T any](txn *memdb.Txn, table, index string, args ...any) ([]*T, error) {
	it, err := txn.Get(table, index, args...)
	if err != nil {
		return nil, err
	}
	var out []*T
	for raw := it.Next(); raw != nil; raw = it.Next() {
		out = append(out, raw.(*T))
	}
	return out, nil
}

// write runs fn in a write transaction and commits when it returns nil. The returned releases
// are given back to the blobstore only after the commit, so no reader can see a record whose
// bytes are gone.
func (s *Store) write(fn func(txn *memdb.Txn) (releases []digest.Digest, err error)) error {
	s.quiesce.RLock()
	defer s.quiesce.RUnlock()
	return s.commit(fn)
}

// commit is write for callers that already hold quiesce (they took a reference first).
func (s *Store) commit(fn func(txn *memdb.Txn) (releases []digest.Digest, err error)) error {
	txn := s.db.Txn(true)
	defer txn.Abort()
	releases, err := fn(txn)
	if err != nil {
		return err
	}
	txn.Commit()
	for _, d := range releases {
		s.blobs.Release(d)
	}
	return nil
}

// updateAttributes patches the changeableAttributes of the record with the given id, on a copy
// (stored values are immutable).
func updateAttributes[T any, PT interface {
	*T
	patchable
}](s *Store, table string, missing error, p AttributesPatch, id ...any) (*T, error) {
	var out *T
	err := s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		cur, err := first[T](txn, table, indexID, id...)
		if err != nil {
			return nil, err
		}
		if cur == nil {
			return nil, missing
		}
		c := *cur
		PT(&c).applyPatch(p, s.now())
		out = &c
		return nil, txn.Insert(table, out)
	})
	return out, err
}

// PutRegistry inserts or replaces a registry record.
func (s *Store) PutRegistry(r *Registry) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		c := *r
		if c.CreatedAt.IsZero() {
			c.CreatedAt = s.now()
		}
		return nil, txn.Insert(TableRegistries, &c)
	})
}

// GetRegistry returns the registry by name, nil when absent.
func (s *Store) GetRegistry(name string) (*Registry, error) {
	return first[Registry](s.db.Txn(false), TableRegistries, indexID, name)
}

// ListRegistries returns every registry by name.
func (s *Store) ListRegistries() ([]*Registry, error) {
	return all[Registry](s.db.Txn(false), TableRegistries, indexID)
}

// DeleteRegistry removes a registry with all its content, whatever its locks (deleting the
// resource is a management-plane operation), and frees the blobs only it held.
func (s *Store) DeleteRegistry(name string) error {
	var gone []*Upload
	err := s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		reg, err := first[Registry](txn, TableRegistries, indexID, name)
		if err != nil || reg == nil {
			return nil, err
		}
		var releases []digest.Digest
		manifests, err := all[Manifest](txn, TableManifests, indexID+"_prefix", name, "")
		if err != nil {
			return nil, err
		}
		for _, m := range manifests {
			releases = append(releases, m.Digest)
		}
		links, err := all[BlobLink](txn, TableBlobLinks, indexID+"_prefix", name, "")
		if err != nil {
			return nil, err
		}
		for _, l := range links {
			releases = append(releases, l.Digest)
		}
		for _, table := range append([]string{TableManifests, TableBlobLinks, TableTags, TableRepositories, TableReplications, TableWebhooks}, childTables...) {
			if _, err := txn.DeleteAll(table, indexID+"_prefix", name, ""); err != nil {
				return nil, err
			}
		}
		if gone, err = deleteUploads(txn, func(u *Upload) bool { return u.Registry == name }); err != nil {
			return nil, err
		}
		return releases, txn.Delete(TableRegistries, reg)
	})
	if err == nil {
		for _, u := range gone {
			u.Data.Discard()
		}
	}
	return err
}

// RegistryBytes sums the sizes of the blobs a registry's repositories hold (listUsages).
func (s *Store) RegistryBytes(name string) (int64, error) {
	links, err := all[BlobLink](s.db.Txn(false), TableBlobLinks, indexID+"_prefix", name, "")
	var n int64
	for _, l := range links {
		n += l.Size
	}
	return n, err
}
