// Package blobstore keeps content-addressed bytes, each digest once for the whole process, with
// reference counts so the bytes go with their last reference. Content lives in memory (New),
// or in files of one directory (NewDisk) for images larger than memory.
//
// It is deliberately kept out of go-memdb: memdb copies nothing, but its radix tree would make
// every large blob part of every snapshot's working set, and refcounts are a better fit for
// "stored once across all repositories and registries" than scanning tables for users.
//
// The whole interface:
//   - Writing: NewUpload starts an Upload (bytes hashed and stored as they arrive, never copied
//     whole); Commit stores it under its verified digest; Put stores bytes already in memory
//     (manifests); Ingest stores content read from elsewhere (a snapshot's files).
//   - References: Commit, Put, Ingest and Acquire add one reference; the caller owns it until it
//     hands it to a metadata record (a repository blob link, a manifest) or gives it back with
//     Release. Pin and Unpin keep content without being a record's reference: a dump of the
//     state (what a reset returns to, what a snapshot streams out) pins what it refers to. The
//     bytes go with the last reference or pin.
//   - Reading: Open gives a Blob to stream (Read/Seek/ReadAt, and WriteTo, which hands memory
//     chunks to the writer without copying, or a file to sendfile(2)); Get gives small content
//     whole; Stat gives one blob's size and counts.
//   - Accounting: Stats (stored), Each, Pending (held by unfinished uploads, bounded by
//     WithPendingLimit), Refs, and Clear for a whole reset.
//
// In memory a blob is a list of chunks sized from what the client announced (Content-Length,
// Content-Range), up to 8 MiB each, so a stored blob costs its size and no more, and nothing is
// ever copied to grow. On disk a blob is one file named by its digest, written as it arrives.
package blobstore

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/opencontainers/go-digest"
)

// MaxGet bounds what Get hands out whole: manifests and image configs are far smaller (ACR
// takes manifests up to 4 MiB). Larger content is streamed with Open.
const MaxGet = 16 << 20

// ErrPendingLimit is returned when unfinished uploads together would hold more than the
// store's pending limit.
var ErrPendingLimit = errors.New("unfinished uploads hold the most bytes the store allows")

// Store is a refcounted content-addressed byte store. The zero value is not usable; call New or
// NewDisk.
type Store struct {
	mu      sync.RWMutex
	blobs   map[digest.Digest]*entry
	bytes   int64
	be      backend
	pending budget
}

type entry struct {
	c    content
	refs int // records' references
	pins int // holds that are not records' (dumps)
}

// backend is where content lives: memory or a directory.
type backend interface {
	newSink(b *budget) (sink, error)
	put(d digest.Digest, data []byte) (content, error)
	// finish turns a complete sink into d's content.
	finish(s sink, d digest.Digest) (content, error)
	// link stores d from a file that already holds exactly its bytes without copying them,
	// when it can (handled false: the caller copies).
	link(d digest.Digest, path string, size int64) (c content, handled bool, err error)
}

// content is one stored blob's bytes.
type content interface {
	size() int64
	open() (*Blob, error)
	// remove frees the bytes (the last reference went).
	remove()
}

// Option configures a store.
type Option func(*Store)

// WithPendingLimit bounds the bytes all unfinished uploads hold together (n <= 0: no bound);
// an upload that would pass it fails with ErrPendingLimit and keeps what it had.
func WithPendingLimit(n int64) Option { return func(s *Store) { s.pending.max = n } }

// New returns an empty store keeping content in memory.
func New(opts ...Option) *Store {
	return newStore(memory{}, opts)
}

func newStore(be backend, opts []Option) *Store {
	s := &Store{blobs: make(map[digest.Digest]*entry), be: be}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Put stores data under d (when d is not already present) and adds a reference to d.
// The caller must have verified that data hashes to d. In memory the store keeps data without
// copying, so the caller must not modify it afterwards.
func (s *Store) Put(d digest.Digest, data []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.blobs[d]; ok {
		e.refs++
		return nil
	}
	c, err := s.be.put(d, data)
	if err != nil {
		return err
	}
	s.add(d, c)
	return nil
}

func (s *Store) add(d digest.Digest, c content) {
	s.blobs[d] = &entry{c: c, refs: 1}
	s.bytes += c.size()
}

// Commit stores a finished upload as d, which the caller verified (Upload.Digest), and adds a
// reference to d. The upload is done with either way; its bytes stop counting as pending.
func (s *Store) Commit(u *Upload, d digest.Digest) error {
	sk, err := u.finish()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.blobs[d]; ok {
		sk.discard()
		e.refs++
		return nil
	}
	c, err := s.be.finish(sk, d)
	if err != nil {
		sk.discard()
		return err
	}
	s.add(d, c)
	return nil
}

// Ingest stores the size bytes r reads as d and adds a reference to d (when d is held already,
// r is not read). The bytes are hashed as they are copied and refused unless they are d's. An
// *os.File (anything with the Name of a file) is linked into a disk store instead of copied
// when the two share a file system; its bytes are then trusted to be d's, as the snapshot
// package checks them when it reads a snapshot. Ingest does not count against the pending
// limit: it is how a reset or a snapshot puts back what the store held.
func (s *Store) Ingest(d digest.Digest, size int64, r io.Reader) error {
	if s.Acquire(d) {
		return nil
	}
	if f, ok := r.(interface{ Name() string }); ok && f.Name() != "" {
		c, handled, err := s.be.link(d, f.Name(), size)
		if err != nil {
			return err
		}
		if handled {
			s.mu.Lock()
			defer s.mu.Unlock()
			if e, ok := s.blobs[d]; ok {
				c.remove()
				e.refs++
				return nil
			}
			s.add(d, c)
			return nil
		}
	}
	sk, err := s.be.newSink(&budget{})
	if err != nil {
		return err
	}
	u := newUpload(0, sk)
	if _, err := u.Append(io.LimitReader(r, size+1), 0, size); err != nil {
		u.Discard()
		return fmt.Errorf("blobstore: reading %s: %w", d, err)
	}
	got, err := u.Digest(d.Algorithm())
	if err == nil && (got != d || u.Size() != size) {
		err = fmt.Errorf("blobstore: content read for %s (%d bytes) is %s (%d bytes)", d, size, got, u.Size())
	}
	if err != nil {
		u.Discard()
		return err
	}
	return s.Commit(u, d)
}

// Acquire adds a reference to d when it is present and reports whether it was.
func (s *Store) Acquire(d digest.Digest) bool {
	return s.hold(d, func(e *entry) { e.refs++ })
}

// Release drops one reference to d, freeing its bytes with the last reference or pin.
// Releasing an absent digest is a no-op so cleanup paths stay simple.
func (s *Store) Release(d digest.Digest) {
	s.drop(d, func(e *entry) { e.refs-- })
}

// Pin keeps d's bytes, without a reference, until Unpin; false when d is not held.
func (s *Store) Pin(d digest.Digest) bool {
	return s.hold(d, func(e *entry) { e.pins++ })
}

// hold applies add to d's entry under the lock, the counterpart of drop; false when d is absent.
func (s *Store) hold(d digest.Digest, add func(*entry)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.blobs[d]
	if ok {
		add(e)
	}
	return ok
}

// Unpin gives back one Pin of d, freeing its bytes when nothing else holds them.
func (s *Store) Unpin(d digest.Digest) {
	s.drop(d, func(e *entry) { e.pins-- })
}

func (s *Store) drop(d digest.Digest, dec func(*entry)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.blobs[d]
	if !ok {
		return
	}
	dec(e)
	if e.refs <= 0 && e.pins <= 0 {
		delete(s.blobs, d)
		s.bytes -= e.c.size()
		e.c.remove()
	}
}

// Open returns a handle on d's bytes for streaming; Close it. A blob released meanwhile stays
// readable through a handle already open.
func (s *Store) Open(d digest.Digest) (*Blob, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.blobs[d]
	if !ok {
		return nil, false
	}
	b, err := e.c.open()
	return b, err == nil
}

// Get returns the whole content of d, for small content (manifests, configs): false when d is
// absent or larger than MaxGet (Stat tells which). In memory a one-chunk blob is shared, not
// copied: callers must treat the slice as read-only.
func (s *Store) Get(d digest.Digest) ([]byte, bool) {
	b, ok := s.Open(d)
	if !ok {
		return nil, false
	}
	defer b.Close()
	if b.Size() > MaxGet {
		return nil, false
	}
	data, err := b.bytes()
	return data, err == nil
}

// Info describes one held blob.
type Info struct {
	Size int64
	Refs int // records' references
	Pins int // other holds (dumps)
}

// Stat describes d; false when d is not held.
func (s *Store) Stat(d digest.Digest) (Info, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.blobs[d]
	if !ok {
		return Info{}, false
	}
	return Info{Size: e.c.size(), Refs: e.refs, Pins: e.pins}, true
}

// Each calls f for every held blob, in no order; f must not call back into the store.
func (s *Store) Each(f func(d digest.Digest, i Info)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for d, e := range s.blobs {
		f(d, Info{Size: e.c.size(), Refs: e.refs, Pins: e.pins})
	}
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

// Pending reports the bytes unfinished uploads hold and the limit (0: none).
func (s *Store) Pending() (held, limit int64) { return s.pending.held() }

// Clear drops every blob regardless of references (a whole-emulator reset).
func (s *Store) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.blobs {
		e.c.remove()
	}
	s.blobs = make(map[digest.Digest]*entry)
	s.bytes = 0
}

// budget counts the bytes of unfinished uploads against a limit.
type budget struct {
	mu        sync.Mutex
	used, max int64
}

func (b *budget) reserve(n int64) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.max > 0 && b.used+n > b.max {
		return ErrPendingLimit
	}
	b.used += n
	return nil
}

// fits reports whether n more bytes would fit now (a body's announced length, checked before
// any of it is read).
func (b *budget) fits(n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.max <= 0 || b.used+n <= b.max
}

func (b *budget) free(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.used -= n
}

func (b *budget) held() (int64, int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.max
}
