package blobstore

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"
)

// stores runs a test against every backend.
func stores(t *testing.T, f func(t *testing.T, s *Store), opts ...Option) {
	t.Run("memory", func(t *testing.T) { f(t, New(opts...)) })
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
	s := New()
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
	s := New()
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
