package store

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/store/blobstore"
	"github.com/opencontainers/go-digest"
)

// largeLayer is larger than what blobstore.Get hands out whole.
func largeLayer(t *testing.T, s *Store, repo string) (digest.Digest, []byte) {
	t.Helper()
	data := make([]byte, blobstore.MaxGet+12345)
	r := rand.NewChaCha8([32]byte{3})
	_, _ = r.Read(data)
	d := digest.FromBytes(data)
	if err := s.PutBlob("reg", repo, d, data); err != nil {
		t.Fatal(err)
	}
	return d, data
}

// A layer larger than blobstore.MaxGet is held like any other: Check sees its size.
func TestCheckLargeBlob(t *testing.T) {
	s := New()
	largeLayer(t, s, "app")
	if vs := mustCheck(t, s); len(vs) != 0 {
		t.Fatalf("violations for a large layer: %v", vs)
	}
}

// Dump and Restore carry layers larger than blobstore.MaxGet, into the same store (a reset)
// and into another (a snapshot started from).
func TestDumpRestoreLargeBlob(t *testing.T) {
	s := New()
	if err := s.PutRegistry(&Registry{Name: "reg"}); err != nil {
		t.Fatal(err)
	}
	d, data := largeLayer(t, s, "app")
	dump, err := s.Dump()
	if err != nil {
		t.Fatal(err)
	}
	defer dump.Close()
	if err := s.DeleteBlob("reg", "app", d); err != nil {
		t.Fatal(err)
	}
	// The dump keeps the layer it refers to, and Check accounts for it.
	if vs := mustCheck(t, s); len(vs) != 0 {
		t.Fatalf("violations with a dump's pinned layer: %v", vs)
	}
	for _, into := range []*Store{s, New()} {
		if err := into.Restore(dump); err != nil {
			t.Fatal(err)
		}
		b, ok := into.Blobs().Open(d)
		if !ok {
			t.Fatal("layer not restored")
		}
		got, _ := io.ReadAll(b)
		b.Close()
		if !bytes.Equal(got, data) || into.Blobs().Refs(d) != 1 {
			t.Fatalf("restored %d bytes, %d refs", len(got), into.Blobs().Refs(d))
		}
		if vs := mustCheck(t, into); len(vs) != 0 {
			t.Fatalf("violations after restore: %v", vs)
		}
	}
}

// Closing a dump frees what only it kept.
func TestDumpCloseUnpins(t *testing.T) {
	s := New()
	d := putBlob(t, s, "app", "layer")
	dump, err := s.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBlob("reg", "app", d); err != nil {
		t.Fatal(err)
	}
	if _, held := s.Blobs().Stat(d); !held {
		t.Fatal("the dump's layer went with its last record")
	}
	dump.Close()
	dump.Close()
	if _, held := s.Blobs().Stat(d); held {
		t.Fatal("closing the dump did not free its layer")
	}
	if vs := mustCheck(t, s); len(vs) != 0 {
		t.Fatalf("violations: %v", vs)
	}
}

// failingContent serves some digests and fails the rest, as a damaged snapshot would.
type failingContent struct {
	good map[digest.Digest][]byte
	bad  map[digest.Digest][]byte // bytes that are not the digest's
}

func (c failingContent) Open(d digest.Digest) (io.ReadCloser, error) {
	if b, ok := c.good[d]; ok {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	if b, ok := c.bad[d]; ok {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	return nil, errors.New("no such file")
}

// A dump whose bytes cannot be read or stored changes nothing, and leaves no reference behind.
func TestRestoreFailsCleanly(t *testing.T) {
	src := New()
	if err := src.PutRegistry(&Registry{Name: "reg"}); err != nil {
		t.Fatal(err)
	}
	a := putBlob(t, src, "app", "a-layer")
	b := putBlob(t, src, "app", "b-layer")
	putBlob(t, src, "other", "a-layer")
	dump, err := src.Dump()
	if err != nil {
		t.Fatal(err)
	}
	defer dump.Close()

	dst := New()
	if err := dst.PutRegistry(&Registry{Name: "kept"}); err != nil {
		t.Fatal(err)
	}
	kept := putBlob(t, dst, "mine", "mine")
	for name, c := range map[string]Content{
		"missing bytes": failingContent{good: map[digest.Digest][]byte{a: []byte("a-layer")}},
		"wrong bytes":   failingContent{good: map[digest.Digest][]byte{a: []byte("a-layer")}, bad: map[digest.Digest][]byte{b: []byte("b-layeR")}},
		"no content":    nil,
	} {
		d := *dump
		d.Content = c
		if err := dst.Restore(&d); err == nil {
			t.Fatalf("%s: restored", name)
		}
		if reg, _ := dst.GetRegistry("kept"); reg == nil {
			t.Fatalf("%s: a refused restore changed the records", name)
		}
		if n, _ := dst.Blobs().Stats(); n != 1 || dst.Blobs().Refs(kept) != 1 {
			t.Fatalf("%s: a refused restore left %d blobs", name, n)
		}
		if vs := mustCheck(t, dst); len(vs) != 0 {
			t.Fatalf("%s: violations: %v", name, vs)
		}
	}
}

// A restore drops upload sessions and frees what they held of the pending limit.
func TestRestoreFreesUploads(t *testing.T) {
	s := NewWithBlobs(blobstore.New(blobstore.WithPendingLimit(1 << 20)))
	if err := s.PutRegistry(&Registry{Name: "reg"}); err != nil {
		t.Fatal(err)
	}
	base, err := s.Dump()
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUpload("reg", "app", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Data.Append(bytes.NewReader(make([]byte, 1000)), 0, 1000); err != nil {
		t.Fatal(err)
	}
	if held, _ := s.Blobs().Pending(); held == 0 {
		t.Fatal("nothing pending")
	}
	if err := s.Restore(base); err != nil {
		t.Fatal(err)
	}
	if held, _ := s.Blobs().Pending(); held != 0 {
		t.Fatalf("pending after restore = %d", held)
	}
}
