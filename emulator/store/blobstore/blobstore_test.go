package blobstore

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"
)

// stores runs a test against every backend.
func stores(t *testing.T, f func(t *testing.T, s *Store), opts ...Option) {
	t.Run("memory", func(t *testing.T) { f(t, New(opts...)) })
	t.Run("disk", func(t *testing.T) {
		s, err := NewDisk(t.TempDir(), opts...)
		if err != nil {
			t.Fatal(err)
		}
		f(t, s)
	})
}

func TestRefcounts(t *testing.T) {
	stores(t, func(t *testing.T, s *Store) {
		d := digest.FromString("x")
		for i := 0; i < 2; i++ {
			if err := s.Put(d, []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		if !s.Acquire(d) || s.Refs(d) != 3 {
			t.Fatalf("refs = %d, want 3", s.Refs(d))
		}
		for i := 0; i < 2; i++ {
			s.Release(d)
		}
		if _, ok := s.Get(d); !ok {
			t.Fatal("freed before the last reference")
		}
		s.Release(d)
		if _, ok := s.Get(d); ok || s.Acquire(d) {
			t.Fatal("not freed with the last reference")
		}
		if n, b := s.Stats(); n != 0 || b != 0 {
			t.Fatalf("stats = %d, %d", n, b)
		}
	})
}

func upload(t *testing.T, s *Store, limit int64, parts ...string) *Upload {
	t.Helper()
	u, err := s.NewUpload(limit)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parts {
		if _, err := u.Append(strings.NewReader(p), -1, int64(len(p))); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

func TestUploadDigests(t *testing.T) {
	stores(t, func(t *testing.T, s *Store) {
		u := upload(t, s, 0, "hello ", "world")
		for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
			got, err := u.Digest(alg)
			if err != nil || got != alg.FromString("hello world") {
				t.Fatalf("%s digest = %s, %v", alg, got, err)
			}
		}
	})
}

func TestUploadRollsBackFailedChunk(t *testing.T) {
	stores(t, func(t *testing.T, s *Store) {
		u := upload(t, s, 8, "1234")
		var oe *OffsetError
		if _, err := u.Append(strings.NewReader("x"), 2, 1); !errors.As(err, &oe) || oe.Want != 4 {
			t.Fatalf("wrong offset: %v", err)
		}
		if _, err := u.Append(strings.NewReader("56789"), 4, 5); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("over limit: %v", err)
		}
		broken := io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(errors.New("client went away")))
		if _, err := u.Append(broken, 4, -1); err == nil {
			t.Fatal("a failing reader must fail the chunk")
		}
		if u.Size() != 4 {
			t.Fatalf("size after failures = %d", u.Size())
		}
		if _, err := u.Append(strings.NewReader("5678"), 4, -1); err != nil {
			t.Fatalf("exactly at the limit: %v", err)
		}
		d := digest.FromString("12345678")
		if got, _ := u.Digest(digest.SHA256); got != d {
			t.Fatal("the hash kept bytes of rolled-back chunks")
		}
		if err := s.Commit(u, d); err != nil {
			t.Fatal(err)
		}
		if b, _ := s.Get(d); !bytes.Equal(b, []byte("12345678")) {
			t.Fatalf("bytes = %q", b)
		}
		if _, err := u.Append(strings.NewReader("9"), -1, 1); !errors.Is(err, ErrUploadClosed) {
			t.Fatalf("append after commit: %v", err)
		}
	})
}

// A body that says more than it sends, or says nothing, still ends up exact.
func TestUploadLengthsLie(t *testing.T) {
	stores(t, func(t *testing.T, s *Store) {
		u, _ := s.NewUpload(0)
		if _, err := u.Append(strings.NewReader("abc"), -1, 100); err != nil {
			t.Fatal(err)
		}
		if _, err := u.Append(strings.NewReader("defg"), -1, 2); err != nil {
			t.Fatal(err)
		}
		d := digest.FromString("abcdefg")
		if err := s.Commit(u, d); err != nil {
			t.Fatal(err)
		}
		if b, _ := s.Get(d); string(b) != "abcdefg" {
			t.Fatalf("bytes = %q", b)
		}
	})
}

// Stored blobs cost their size: whatever the announced lengths, chunk capacity equals content.
func TestMemoryChunksAreExact(t *testing.T) {
	data := make([]byte, 2*maxChunk+12345)
	r := rand.NewChaCha8([32]byte{7})
	_, _ = r.Read(data)
	for _, tc := range []struct {
		name string
		want func(part []byte) int64
		part int
	}{
		{"announced", func(p []byte) int64 { return int64(len(p)) }, len(data)},
		{"unknown length", func([]byte) int64 { return -1 }, len(data)},
		{"4 MiB chunks", func(p []byte) int64 { return int64(len(p)) }, 4 << 20},
		{"odd chunks, unknown length", func([]byte) int64 { return -1 }, 1<<20 + 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := New()
			u, _ := s.NewUpload(0)
			for off := 0; off < len(data); off += tc.part {
				p := data[off:min(off+tc.part, len(data))]
				if _, err := u.Append(bytes.NewReader(p), int64(off), tc.want(p)); err != nil {
					t.Fatal(err)
				}
			}
			d := digest.FromBytes(data)
			if err := s.Commit(u, d); err != nil {
				t.Fatal(err)
			}
			var capacity int64
			for _, c := range s.blobs[d].c.(*memContent).chunks {
				capacity += int64(cap(c))
			}
			if capacity != int64(len(data)) {
				t.Errorf("chunks hold %d bytes of capacity for %d bytes", capacity, len(data))
			}
			if held, _ := s.Pending(); held != 0 {
				t.Errorf("pending after commit = %d", held)
			}
			b, _ := s.Open(d)
			var out bytes.Buffer
			if _, err := b.WriteTo(&out); err != nil || !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("WriteTo gave %d bytes, %v", out.Len(), err)
			}
		})
	}
}

func TestBlobReading(t *testing.T) {
	stores(t, testBlobReading)
}

func testBlobReading(t *testing.T, s *Store) {
	u := upload(t, s, 0, "0123", "456", "789ab")
	d := digest.FromString("0123456789ab")
	if err := s.Commit(u, d); err != nil {
		t.Fatal(err)
	}
	b, ok := s.Open(d)
	if !ok {
		t.Fatal("not held")
	}
	defer b.Close()
	if err := iotest.TestReader(b, []byte("0123456789ab")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Seek(5, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	var rest bytes.Buffer
	if _, err := b.WriteTo(&rest); err != nil || rest.String() != "56789ab" {
		t.Fatalf("WriteTo after Seek = %q, %v", rest.String(), err)
	}
	if got, _ := s.Get(d); string(got) != "0123456789ab" {
		t.Fatalf("Get = %q", got)
	}
}

func TestPendingLimit(t *testing.T) {
	const limit = 3 * minChunk
	s := New(WithPendingLimit(limit))
	a, _ := s.NewUpload(0)
	if _, err := a.Append(bytes.NewReader(make([]byte, 2*minChunk)), 0, 2*minChunk); err != nil {
		t.Fatal(err)
	}
	b, _ := s.NewUpload(0)
	if _, err := b.Append(bytes.NewReader(make([]byte, minChunk)), 0, minChunk); err != nil {
		t.Fatalf("up to the limit: %v", err)
	}
	if _, err := b.Append(strings.NewReader("x"), minChunk, 1); !errors.Is(err, ErrPendingLimit) {
		t.Fatalf("past the limit: %v", err)
	}
	if b.Size() != minChunk {
		t.Fatalf("refused chunk left %d bytes", b.Size())
	}
	if held, max := s.Pending(); held != limit || max != limit {
		t.Fatalf("pending = %d of %d", held, max)
	}
	a.Discard()
	if _, err := b.Append(strings.NewReader("x"), minChunk, 1); err != nil {
		t.Fatalf("after another upload was discarded: %v", err)
	}
	d := digest.FromBytes(append(make([]byte, minChunk), 'x'))
	if err := s.Commit(b, d); err != nil {
		t.Fatal(err)
	}
	if held, _ := s.Pending(); held != 0 {
		t.Fatalf("pending after commit and discard = %d", held)
	}
}

// blockingReader hands out one byte, then waits until released.
type blockingReader struct {
	sent    bool
	release chan struct{}
	reading chan struct{}
}

func (r *blockingReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		p[0] = 'a'
		close(r.reading)
		return 1, nil
	}
	<-r.release
	return 0, errors.New("connection closed")
}

// Discard does not wait for a body being read, and the bytes go when that read ends.
func TestDiscardWhileReading(t *testing.T) {
	s := New(WithPendingLimit(1 << 30))
	u, _ := s.NewUpload(0)
	r := &blockingReader{release: make(chan struct{}), reading: make(chan struct{})}
	done := make(chan error)
	go func() {
		_, err := u.Append(r, 0, -1)
		done <- err
	}()
	<-r.reading
	u.Discard()
	if held, _ := s.Pending(); held == 0 {
		t.Fatal("the reading chunk's space was freed under it")
	}
	close(r.release)
	if err := <-done; err == nil {
		t.Fatal("the chunk succeeded")
	}
	if held, _ := s.Pending(); held != 0 {
		t.Fatalf("pending after the read ended = %d", held)
	}
	if err := s.Commit(u, digest.FromString("a")); !errors.Is(err, ErrUploadClosed) {
		t.Fatalf("commit of a discarded upload: %v", err)
	}
}

func TestGetIsBounded(t *testing.T) {
	stores(t, testGetIsBounded)
}

func testGetIsBounded(t *testing.T, s *Store) {
	big := make([]byte, MaxGet+1)
	d := digest.FromBytes(big)
	if err := s.Put(d, big); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Get(d); ok {
		t.Fatal("Get handed out more than MaxGet")
	}
	if b, ok := s.Open(d); !ok || b.Size() != int64(len(big)) {
		t.Fatal("Open must still stream it")
	}
}

// A body whose announced length does not fit is refused before a byte of it is read.
func TestPendingLimitRefusesAnnouncedLength(t *testing.T) {
	stores(t, func(t *testing.T, s *Store) {
		u, _ := s.NewUpload(0)
		r := &countingReader{r: bytes.NewReader(make([]byte, 4096))}
		if _, err := u.Append(r, 0, 4096); !errors.Is(err, ErrPendingLimit) {
			t.Fatalf("over the limit: %v", err)
		}
		if r.n != 0 {
			t.Fatalf("read %d bytes of a refused body", r.n)
		}
		if _, err := u.Append(strings.NewReader("ok"), 0, 2); err != nil {
			t.Fatalf("within the limit: %v", err)
		}
		if err := s.Commit(u, digest.FromString("ok")); err != nil {
			t.Fatal(err)
		}
		if held, _ := s.Pending(); held != 0 {
			t.Fatalf("pending after commit = %d", held)
		}
	}, WithPendingLimit(1024))
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// Pins keep content that no record refers to; Refs counts references only.
func TestPins(t *testing.T) {
	stores(t, func(t *testing.T, s *Store) {
		d := digest.FromString("kept")
		if s.Pin(d) {
			t.Fatal("pinned an absent digest")
		}
		if err := s.Put(d, []byte("kept")); err != nil {
			t.Fatal(err)
		}
		if !s.Pin(d) {
			t.Fatal("pin failed")
		}
		s.Release(d)
		if info, ok := s.Stat(d); !ok || info.Refs != 0 || info.Pins != 1 || info.Size != 4 {
			t.Fatalf("stat after release = %+v, %v", info, ok)
		}
		if b, ok := s.Get(d); !ok || string(b) != "kept" {
			t.Fatal("a pinned blob went with its last reference")
		}
		if !s.Acquire(d) || s.Refs(d) != 1 {
			t.Fatal("a pinned blob cannot be referred to again")
		}
		s.Unpin(d)
		s.Release(d)
		if _, ok := s.Stat(d); ok {
			t.Fatal("not freed with its last pin and reference")
		}
		if n, b := s.Stats(); n != 0 || b != 0 {
			t.Fatalf("stats = %d, %d", n, b)
		}
	})
}

func TestIngest(t *testing.T) {
	stores(t, func(t *testing.T, s *Store) {
		data := bytes.Repeat([]byte("0123456789"), 300000) // several reads and chunks
		d := digest.FromBytes(data)
		if err := s.Ingest(digest.FromString("other"), int64(len(data)), bytes.NewReader(data)); err == nil {
			t.Fatal("ingested bytes that are not the digest's")
		}
		if err := s.Ingest(d, int64(len(data))-1, bytes.NewReader(data)); err == nil {
			t.Fatal("ingested more bytes than announced")
		}
		if n, _ := s.Stats(); n != 0 {
			t.Fatal("a refused ingest left content")
		}
		if err := s.Ingest(d, int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		// Held already: the reader is not read.
		if err := s.Ingest(d, int64(len(data)), iotest.ErrReader(errors.New("read"))); err != nil || s.Refs(d) != 2 {
			t.Fatalf("second ingest: %v, refs %d", err, s.Refs(d))
		}
		b, _ := s.Open(d)
		defer b.Close()
		var out bytes.Buffer
		if _, err := b.WriteTo(&out); err != nil || !bytes.Equal(out.Bytes(), data) {
			t.Fatalf("read back %d bytes, %v", out.Len(), err)
		}
	})
}

// A disk store links a file it is handed instead of copying it, and the link outlives the
// source's removal.
func TestDiskIngestLinks(t *testing.T) {
	dir := t.TempDir()
	s, err := NewDisk(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(dir, "src")
	data := []byte("snapshot content")
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(src)
	defer f.Close()
	d := digest.FromBytes(data)
	if err := s.Ingest(d, int64(len(data)), f); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(src)
	b, ok := s.Open(d)
	if !ok {
		t.Fatal("not held")
	}
	defer b.Close()
	bs, _ := os.Stat(b.Name())
	if !os.SameFile(a, bs) {
		t.Fatal("copied instead of linked")
	}
	os.Remove(src)
	if got, ok := s.Get(d); !ok || !bytes.Equal(got, data) {
		t.Fatalf("after the source went: %q", got)
	}
}

// NewDisk empties its own directory and refuses anyone else's.
func TestDiskDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "blobs")
	s, err := NewDisk(dir)
	if err != nil {
		t.Fatal(err)
	}
	d := digest.FromString("x")
	if err := s.Put(d, []byte("x")); err != nil {
		t.Fatal(err)
	}
	upload(t, s, 0, "unfinished")
	if entries, _ := os.ReadDir(filepath.Join(dir, "uploads")); len(entries) != 1 {
		t.Fatalf("uploads dir holds %d files", len(entries))
	}
	if _, err := NewDisk(dir); err != nil {
		t.Fatal(err)
	}
	var left []string
	filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() && e.Name() != diskMarker {
			left = append(left, p)
		}
		return nil
	})
	if len(left) != 0 {
		t.Fatalf("a new store kept %v", left)
	}
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("mine"), 0o644)
	if _, err := NewDisk(foreign); !errors.Is(err, ErrForeignDir) {
		t.Fatalf("a foreign directory: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(foreign, "notes.txt")); string(b) != "mine" {
		t.Fatal("a refused directory was touched")
	}
}

// Releasing the last reference removes the file; an open handle still reads it.
func TestDiskRemovesWithLastReference(t *testing.T) {
	s, err := NewDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	u := upload(t, s, 0, "abc", "def")
	d := digest.FromString("abcdef")
	if err := s.Commit(u, d); err != nil {
		t.Fatal(err)
	}
	b, _ := s.Open(d)
	defer b.Close()
	s.Release(d)
	if _, err := os.Stat(b.Name()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("file after the last reference: %v", err)
	}
	if got, err := io.ReadAll(b); err != nil || string(got) != "abcdef" {
		t.Fatalf("open handle read %q, %v", got, err)
	}
}
