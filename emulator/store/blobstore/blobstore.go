// Package blobstore keeps content-addressed bytes in memory, each digest once for the whole
// process, with reference counts so the bytes are freed with their last reference.
//
// It is deliberately kept out of go-memdb: memdb copies nothing, but its radix tree would make
// every large blob part of every snapshot's working set, and refcounts are a better fit for
// "stored once across all repositories and registries" than scanning tables for users.
//
// Reference protocol (the store package follows it):
//   - Put and Acquire add one reference; the caller owns it until it hands it to a metadata record
//     (a repository blob link, a manifest) or gives it back with Release.
//   - Release drops one reference; the bytes go with the last one.
package blobstore

import (
	"sync"

	"github.com/opencontainers/go-digest"
)

// Store is a refcounted content-addressed byte store. The zero value is not usable; call New.
type Store struct {
	mu    sync.RWMutex
	blobs map[digest.Digest]*entry
	bytes int64
}

type entry struct {
	data []byte
	refs int
}

// New returns an empty store.
func New() *Store {
	return &Store{blobs: make(map[digest.Digest]*entry)}
}

// Put stores data under d (when d is not already present) and adds a reference to d.
// The caller must have verified that data hashes to d. The store keeps data without copying,
// so the caller must not modify it afterwards.
func (s *Store) Put(d digest.Digest, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.blobs[d]; ok {
		e.refs++
		return
	}
	s.blobs[d] = &entry{data: data, refs: 1}
	s.bytes += int64(len(data))
}

// Acquire adds a reference to d when it is present and reports whether it was.
func (s *Store) Acquire(d digest.Digest) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.blobs[d]
	if ok {
		e.refs++
	}
	return ok
}

// Release drops one reference to d, freeing its bytes with the last one. Releasing an absent
// digest is a no-op so cleanup paths stay simple.
func (s *Store) Release(d digest.Digest) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.blobs[d]
	if !ok {
		return
	}
	e.refs--
	if e.refs <= 0 {
		delete(s.blobs, d)
		s.bytes -= int64(len(e.data))
	}
}

// Get returns the bytes of d. The slice is shared: callers must treat it as read-only.
func (s *Store) Get(d digest.Digest) ([]byte, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.blobs[d]
	if !ok {
		return nil, false
	}
	return e.data, true
}

// Refs reports the reference count of d (0 when absent). Tests and /_emulator/state use it.
func (s *Store) Refs(d digest.Digest) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if e, ok := s.blobs[d]; ok {
		return e.refs
	}
	return 0
}

// Stats reports how many distinct digests and bytes are held.
func (s *Store) Stats() (count int, bytes int64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.blobs), s.bytes
}
