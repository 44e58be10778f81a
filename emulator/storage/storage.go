// Package storage is a fake Azure Blob Storage: the storage accounts behind the links ACR hands
// out (ACR Tasks' run logs and build-source uploads, and blob downloads). It keeps accounts,
// containers and blobs in memory and serves the Blob service's REST API for what those links
// are used for: block blobs (Put Blob, Put Block, Put Block List), append blobs (create,
// Append Block, the metadata a run log's Complete outcome is), Get Blob with ranges, Get Blob
// Properties and Metadata, Set Blob Metadata and Delete Blob, with Azure's headers
// (x-ms-version, x-ms-request-id...) and its XML errors.
//
// Requests authenticate with a service SAS signed the way Azure signs it (HMAC-SHA256 with the
// account's key over the string to sign of the SAS version), checked for signature, time frame,
// protocol and permissions. Anonymous requests find nothing, as with a private container; an
// Authorization header (a registry token forwarded along a redirect) is refused as Azure
// refuses it.
//
// Clients reach an account two ways (see AccountURL): path-style on the emulator's own listener,
// https://localhost:8443/<account>.blob.core.windows.net/<container>/<blob> (plain
// https://localhost:8443/<account>/... works too, as with Azurite), or by the account's real
// name https://<account>.blob.core.windows.net/... through the emulator's proxies.
//
// Not emulated: containers and accounts over HTTP (list, create, properties), shared key and
// Entra ID authentication, account and user delegation SAS, stored access policies (si),
// leases, snapshots, versions, tags, tiers, page blobs, copy, CORS.
package storage

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Defaults of the bounds on what the store holds.
const (
	DefaultMaxBlobBytes = 256 << 20 // Put Blob's limit before service version 2019-12-12
	DefaultMaxBytes     = 2 << 30
	// maxStagedBlocks is the service's limit of uncommitted blocks per blob.
	maxStagedBlocks = 100000
)

// Ref names a blob.
type Ref struct{ Account, Container, Blob string }

func (r Ref) String() string { return r.Account + "/" + r.Container + "/" + r.Blob }

// BlobType is a blob's x-ms-blob-type.
type BlobType string

const (
	BlockBlob  BlobType = "BlockBlob"
	AppendBlob BlobType = "AppendBlob"
)

// Blob is a blob as read: content and properties. Data is shared with the store and must not
// be modified.
type Blob struct {
	Type        BlobType
	Data        []byte
	ContentType string
	ContentMD5  []byte // nil when the service does not know it (blocks, appends, mounts)
	Metadata    map[string]string
	ETag        string
	Created     time.Time
	Modified    time.Time
	// Blocks is an append blob's committed block count.
	Blocks int

	// content streams a mounted container's blob (Data is nil then); the reader closes it.
	content Content
}

// size is the blob's length.
func (b *Blob) size() int64 {
	if b.content != nil {
		return b.content.Size()
	}
	return int64(len(b.Data))
}

// close lets go of a mounted blob's content.
func (b *Blob) close() {
	if b.content != nil {
		_ = b.content.Close()
	}
}

// Props are what a write sets besides the content.
type Props struct {
	ContentType string            // default application/octet-stream
	ContentMD5  []byte            // block lists: x-ms-blob-content-md5
	Metadata    map[string]string // x-ms-meta-<name>
}

// Source serves a read-only container from content kept elsewhere (Mount), streamed: a
// registry's layers can be larger than anything worth holding twice.
type Source interface {
	// Open returns a blob's content, false when there is none; the caller closes it.
	Open(name string) (Content, bool)
}

// Content is a mounted blob's bytes, read from the start. When it is an io.WriterTo (a
// registry's blob), a whole-blob read is written with it: memory chunks as they are, a file
// with sendfile(2).
type Content interface {
	io.ReadSeeker
	io.Closer
	Size() int64
}

// Store holds the accounts. Create it with New; it is safe for concurrent use.
type Store struct {
	secret   []byte
	maxBlob  int64
	maxBytes int64
	now      func() time.Time

	mu       sync.Mutex
	accounts map[string]*account
	held     int64 // bytes of blobs and staged blocks
	reserved int64 // bytes of request bodies being read
	lastTick int64
}

type account struct {
	key        []byte
	containers map[string]*container
}

type container struct {
	blobs   map[string]*blob
	staged  map[string]*stage // uncommitted blocks by blob name, for blobs that may not exist yet
	src     Source
	mounted time.Time
}

type blob struct {
	Blob
	committed []block // a block blob's block list, from Put Block List
}

type block struct {
	id      string
	off, sz int
}

type stage struct {
	blocks map[string][]byte
	bytes  int64
}

// Option configures a Store.
type Option func(*Store)

// WithSecret sets the secret account keys derive from (the emulator keeps it in its data
// directory, so link signatures survive a restart). Default: random.
func WithSecret(secret []byte) Option { return func(s *Store) { s.secret = secret } }

// WithMaxBlobBytes bounds one blob (default DefaultMaxBlobBytes).
func WithMaxBlobBytes(n int64) Option { return func(s *Store) { s.maxBlob = n } }

// WithMaxBytes bounds everything the store holds (default DefaultMaxBytes); beyond it writes get
// 503 ServerBusy.
func WithMaxBytes(n int64) Option { return func(s *Store) { s.maxBytes = n } }

// WithClock sets the clock SAS time frames are checked against (tests).
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns an empty store.
func New(opts ...Option) *Store {
	s := &Store{maxBlob: DefaultMaxBlobBytes, maxBytes: DefaultMaxBytes, now: time.Now, accounts: map[string]*account{}}
	for _, o := range opts {
		o(s)
	}
	if s.secret == nil {
		s.secret = make([]byte, 64)
		_, _ = rand.Read(s.secret)
	}
	return s
}

var (
	accountName   = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
	containerName = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$`)
)

// AddAccount creates a storage account (3 to 24 lowercase letters and digits) if it is not there.
func (s *Store) AddAccount(name string) error {
	if !accountName.MatchString(name) {
		return fmt.Errorf("storage account name %q: use 3 to 24 lowercase letters and digits", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.accounts[name] == nil {
		m := hmac.New(sha256.New, s.secret)
		m.Write([]byte("storage account key\x00" + name))
		s.accounts[name] = &account{key: m.Sum(nil), containers: map[string]*container{}}
	}
	return nil
}

// EnsureContainer creates a container in an account if it is not there.
func (s *Store) EnsureContainer(accountName, name string) error {
	if !containerName.MatchString(name) || len(name) > 63 {
		return fmt.Errorf("container name %q: use 3 to 63 lowercase letters, digits and single hyphens", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[accountName]
	if a == nil {
		return fmt.Errorf("no storage account %q", accountName)
	}
	if a.containers[name] == nil {
		a.containers[name] = &container{blobs: map[string]*blob{}, staged: map[string]*stage{}}
	}
	return nil
}

// Mount serves a read-only container from src: how registry content is downloaded through
// signed links without a copy. Writes to it are refused.
func (s *Store) Mount(accountName, name string, src Source) error {
	if err := s.EnsureContainer(accountName, name); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.accounts[accountName].containers[name]
	c.src, c.mounted = src, s.now().UTC()
	return nil
}

// hasAccount says whether an account exists (path-style requests are recognised by it).
func (s *Store) hasAccount(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accounts[name] != nil
}

// accountKey is an account's key, nil when there is no such account.
func (s *Store) accountKey(name string) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[name]; a != nil {
		return a.key
	}
	return nil
}

// containerLocked finds a container; mu must be held.
func (s *Store) containerLocked(ref Ref) (*container, *Error) {
	a := s.accounts[ref.Account]
	if a == nil {
		return nil, errResourceNotFound()
	}
	c := a.containers[ref.Container]
	if c == nil {
		return nil, errContainerNotFound()
	}
	return c, nil
}

// writableLocked finds a container that takes writes (not a mount); mu must be held.
func (s *Store) writableLocked(ref Ref) (*container, *Error) {
	c, err := s.containerLocked(ref)
	if err == nil && c.src != nil {
		err = errPermissionMismatch()
	}
	return c, err
}

// Get reads a blob. Errors are *Error (BlobNotFound, ContainerNotFound); a mounted blob larger
// than the store's blob bound is refused (it is served by streaming only).
func (s *Store) Get(ref Ref) (*Blob, error) {
	b, err := s.get(ref)
	if err != nil {
		return nil, err
	}
	if c := b.content; c != nil {
		defer c.Close()
		if b.size() > s.maxBlob {
			return nil, fmt.Errorf("storage: %s is %d bytes, more than Get reads whole (%d)", ref, b.size(), s.maxBlob)
		}
		data := make([]byte, b.size())
		if _, err := io.ReadFull(b.content, data); err != nil {
			return nil, err
		}
		b.Data, b.content = data, nil
	}
	return b, nil
}

func (s *Store) get(ref Ref) (*Blob, *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.containerLocked(ref)
	if err != nil {
		return nil, err
	}
	if c.src != nil {
		content, ok := c.src.Open(ref.Blob)
		if !ok {
			return nil, errBlobNotFound()
		}
		sum := sha256.Sum256([]byte(ref.String()))
		return &Blob{Type: BlockBlob, content: content, ContentType: "application/octet-stream", Created: c.mounted, Modified: c.mounted,
			ETag: fmt.Sprintf(`"0x%X"`, sum[:8])}, nil
	}
	b := c.blobs[ref.Blob]
	if b == nil {
		return nil, errBlobNotFound()
	}
	out := b.Blob
	out.Data = b.Data[:len(b.Data):len(b.Data)] // a caller's append cannot reach the store's spare capacity
	out.Metadata = make(map[string]string, len(b.Metadata))
	for k, v := range b.Metadata {
		out.Metadata[k] = v
	}
	return &out, nil
}

// IsNotFound says whether err means that a blob (or its container) is not there.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Status == 404
}

// PutBlockBlob writes a whole block blob, replacing what was there (Put Blob). The store keeps
// data: the caller must not modify it afterwards.
func (s *Store) PutBlockBlob(ref Ref, data []byte, p Props) error {
	return nilIfNone(s.putBlockBlob(ref, data, p))
}

func (s *Store) putBlockBlob(ref Ref, data []byte, p Props) *Error {
	return s.write(ref, true, func(c *container, old *blob) (*blob, *Error) {
		if int64(len(data)) > s.maxBlob {
			return nil, errBodyTooLarge(s.maxBlob)
		}
		sum := md5.Sum(data)
		return s.newBlob(BlockBlob, data, p, old, sum[:]), nil
	})
}

// CreateAppendBlob creates an empty append blob, replacing what was there.
func (s *Store) CreateAppendBlob(ref Ref, p Props) error {
	return nilIfNone(s.createAppendBlob(ref, p))
}

func (s *Store) createAppendBlob(ref Ref, p Props) *Error {
	return s.write(ref, true, func(c *container, old *blob) (*blob, *Error) {
		return s.newBlob(AppendBlob, nil, p, old, nil), nil
	})
}

// AppendBlock adds data at the end of an append blob.
func (s *Store) AppendBlock(ref Ref, data []byte) error {
	_, err := s.appendBlock(ref, data, -1)
	return nilIfNone(err)
}

// appendBlock appends and returns the offset the block went to; at >= 0 is the append
// position the caller expects (x-ms-blob-condition-appendpos).
func (s *Store) appendBlock(ref Ref, data []byte, at int64) (int64, *Error) {
	var off int64
	err := s.write(ref, false, func(c *container, old *blob) (*blob, *Error) {
		switch {
		case old == nil:
			return nil, errBlobNotFound()
		case old.Type != AppendBlob:
			return nil, errInvalidBlobType()
		case at >= 0 && at != int64(len(old.Data)):
			return nil, errAppendPositionNotMet()
		case int64(len(old.Data)+len(data)) > s.maxBlob:
			return nil, errBodyTooLarge(s.maxBlob)
		}
		off = int64(len(old.Data))
		nb := *old
		// Readers hold slices of the old length; appending never changes those bytes.
		nb.Data = append(old.Data, data...)
		nb.Blocks++
		s.touch(&nb.Blob)
		return &nb, nil
	})
	return off, err
}

// SetMetadata replaces a blob's metadata (Set Blob Metadata).
func (s *Store) SetMetadata(ref Ref, meta map[string]string) error {
	return nilIfNone(s.putMetadata(ref, meta))
}

func (s *Store) putMetadata(ref Ref, meta map[string]string) *Error {
	return s.write(ref, false, func(c *container, old *blob) (*blob, *Error) {
		if old == nil {
			return nil, errBlobNotFound()
		}
		nb := *old
		nb.Metadata = copyMeta(meta)
		s.touch(&nb.Blob)
		return &nb, nil
	})
}

// Delete removes a blob, with its uncommitted blocks.
func (s *Store) Delete(ref Ref) error { return nilIfNone(s.remove(ref)) }

func (s *Store) remove(ref Ref) *Error {
	return s.write(ref, true, func(c *container, old *blob) (*blob, *Error) {
		if old == nil {
			return nil, errBlobNotFound()
		}
		return nil, nil
	})
}

// write runs fn on a blob under the lock and stores what it returns (nil: the blob goes),
// keeping the store's byte count and bound. A write that replaces or removes the blob
// (replace) also drops its uncommitted blocks, as Azure does. Mounted containers are
// read-only. Nothing changes when fn or the bound refuses.
func (s *Store) write(ref Ref, replace bool, fn func(c *container, old *blob) (*blob, *Error)) *Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, err := s.writableLocked(ref)
	if err != nil {
		return err
	}
	old := c.blobs[ref.Blob]
	nb, err := fn(c, old)
	if err != nil {
		return err
	}
	delta := int64(0)
	if nb != nil {
		delta += int64(len(nb.Data))
	}
	if old != nil {
		delta -= int64(len(old.Data))
	}
	st := c.staged[ref.Blob]
	if replace && st != nil {
		delta -= st.bytes
	}
	if delta > 0 && s.held+s.reserved+delta > s.maxBytes {
		return errOverCapacity()
	}
	s.held += delta
	if replace {
		delete(c.staged, ref.Blob)
	}
	if nb == nil {
		delete(c.blobs, ref.Blob)
	} else {
		c.blobs[ref.Blob] = nb
	}
	return nil
}

// reserve claims room for a request body before it is read, so concurrent uploads cannot
// together go past the bound; release gives it back.
func (s *Store) reserve(n int64) (release func(), err *Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held+s.reserved+n > s.maxBytes {
		return nil, errOverCapacity()
	}
	s.reserved += n
	return func() {
		s.mu.Lock()
		s.reserved -= n
		s.mu.Unlock()
	}, nil
}

func (s *Store) newBlob(t BlobType, data []byte, p Props, old *blob, sum []byte) *blob {
	b := &blob{Blob: Blob{Type: t, Data: data, ContentType: p.ContentType, ContentMD5: sum, Metadata: copyMeta(p.Metadata)}}
	if b.ContentType == "" {
		b.ContentType = "application/octet-stream"
	}
	if p.ContentMD5 != nil {
		b.ContentMD5 = p.ContentMD5
	}
	s.touch(&b.Blob)
	b.Created = b.Modified
	if old != nil {
		b.Created = old.Created
	}
	return b
}

// touch sets a blob's modification time and a new ETag. Azure's ETags are the modification
// time in .NET ticks; each is kept distinct from the last so two writes never share one.
func (s *Store) touch(b *Blob) {
	now := s.now().UTC()
	tick := now.UnixNano()/100 + 621355968000000000
	if tick <= s.lastTick {
		tick = s.lastTick + 1
	}
	s.lastTick = tick
	b.Modified = now.Truncate(time.Second)
	b.ETag = `"0x` + strings.ToUpper(strconv.FormatInt(tick, 16)) + `"`
}

func copyMeta(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// nilIfNone keeps a nil *Error from becoming a non-nil error interface.
func nilIfNone(err *Error) error {
	if err == nil {
		return nil
	}
	return err
}

// SignedURL mints a link to a blob: accountURL (AccountURL) joined with the container and
// blob, and a blob SAS granting permissions (PermRead, PermCreate+PermWrite...) from now for
// ttl.
func (s *Store) SignedURL(accountURL string, ref Ref, permissions string, ttl time.Duration) (string, error) {
	key := s.accountKey(ref.Account)
	if key == nil {
		return "", fmt.Errorf("no storage account %q", ref.Account)
	}
	p := newSAS(key, ref, permissions, s.now(), ttl)
	return strings.TrimSuffix(accountURL, "/") + "/" + ref.Container + "/" + escapeBlob(ref.Blob) + "?" + p.Encode(), nil
}

// escapeBlob escapes each segment of a blob name, keeping its slashes.
func escapeBlob(name string) string {
	segs := strings.Split(name, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	return strings.Join(segs, "/")
}
