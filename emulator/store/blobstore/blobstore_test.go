package blobstore

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/opencontainers/go-digest"
)

func TestRefcounts(t *testing.T) {
	s := New()
	d := digest.FromString("x")
	s.Put(d, []byte("x"))
	s.Put(d, []byte("x"))
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
}

func TestUploadDigests(t *testing.T) {
	u := NewUpload(0)
	for _, part := range []string{"hello ", "world"} {
		if _, err := u.Append(strings.NewReader(part), -1); err != nil {
			t.Fatal(err)
		}
	}
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
		got, err := u.Digest(alg)
		if err != nil || got != alg.FromString("hello world") {
			t.Fatalf("%s digest = %s, %v", alg, got, err)
		}
	}
}

func TestUploadRollsBackFailedChunk(t *testing.T) {
	u := NewUpload(8)
	if _, err := u.Append(strings.NewReader("1234"), 0); err != nil {
		t.Fatal(err)
	}
	var oe *OffsetError
	if _, err := u.Append(strings.NewReader("x"), 2); !errors.As(err, &oe) || oe.Want != 4 {
		t.Fatalf("wrong offset: %v", err)
	}
	if _, err := u.Append(strings.NewReader("56789"), 4); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over limit: %v", err)
	}
	broken := io.MultiReader(strings.NewReader("ab"), iotest.ErrReader(errors.New("client went away")))
	if _, err := u.Append(broken, 4); err == nil {
		t.Fatal("a failing reader must fail the chunk")
	}
	if _, err := u.Append(strings.NewReader("5678"), 4); err != nil {
		t.Fatalf("exactly at the limit: %v", err)
	}
	got, _ := u.Digest(digest.SHA256)
	if got != digest.FromString("12345678") {
		t.Fatal("the hash kept bytes of rolled-back chunks")
	}
	if b := u.Bytes(); !bytes.Equal(b, []byte("12345678")) {
		t.Fatalf("bytes = %q", b)
	}
}
