package snapshot

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/emulator/store/blobstore"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/opencontainers/go-digest"
)

func sample(t *testing.T) *Snapshot {
	t.Helper()
	st := store.New()
	if err := st.PutRegistry(&store.Registry{Name: "myregistry", SKU: "Premium", Tags: map[string]string{"a": "b"}}); err != nil {
		t.Fatal(err)
	}
	layer := []byte("layer bytes")
	if err := st.PutBlob("myregistry", "app", digest.FromBytes(layer), layer); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"schemaVersion":2}`)
	m := &store.Manifest{Registry: "myregistry", Repo: "app", Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Size: int64(len(body)), Blobs: []store.Descriptor{{Digest: digest.FromBytes(layer), Size: int64(len(layer))}}}
	if err := st.PutManifest(m, body, []string{"v1"}, nil); err != nil {
		t.Fatal(err)
	}
	d, err := st.Dump()
	if err != nil {
		t.Fatal(err)
	}
	return &Snapshot{World: world.Default(), State: d, Tasks: []json.RawMessage{json.RawMessage(`{"id":"/x/tasks/t"}`)}}
}

// restoreInto checks a snapshot by restoring it into a store and reading it back.
func restoreInto(t *testing.T, s *Snapshot) *store.Store {
	t.Helper()
	st := store.New()
	if err := st.Restore(s.State); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestWriteRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "snap")
	s := sample(t)
	if err := Write(dir, s); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := restoreInto(t, got)
	if tag, _ := st.GetTag("myregistry", "app", "v1"); tag == nil {
		t.Fatal("tag lost")
	}
	if reg, _ := st.GetRegistry("myregistry"); reg == nil || reg.Tags["a"] != "b" {
		t.Fatalf("registry = %+v", reg)
	}
	if got.World.TenantID != s.World.TenantID || len(got.Tasks) != 1 {
		t.Fatalf("world or tasks lost: %+v", got)
	}
	// Writing over an older snapshot replaces it; over anything else is refused.
	if err := Write(dir, s); err != nil {
		t.Fatal(err)
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "notes.txt"), []byte("mine"), 0o644)
	if err := Write(other, s); !errors.Is(err, ErrOccupied) {
		t.Fatalf("write over a non-snapshot: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(other, "notes.txt")); string(b) != "mine" {
		t.Fatal("a refused write touched the directory")
	}
}

func TestTarRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteTar(&buf, sample(t)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "snap")
	extracted, err := Extract(&buf, dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	restoreInto(t, got)
	if n, _ := extracted.Blobs(); n != 2 {
		t.Fatalf("extracted %d blobs", n)
	}
}

func TestReadRefusesDamage(t *testing.T) {
	for _, tc := range []struct {
		desc  string
		spoil func(dir string)
		want  string
	}{
		{"no header", func(dir string) { os.Remove(filepath.Join(dir, "snapshot.json")) }, "not a snapshot"},
		{"other version", func(dir string) { rewriteHeader(dir, `"version": 1`, `"version": 99`) }, "snapshot version 99"},
		{"other format", func(dir string) { rewriteHeader(dir, `"acr-emulator snapshot"`, `"tarball"`) }, "not an acr-emulator snapshot"},
		{"bad world", func(dir string) { rewriteHeader(dir, `"profile": "seed"`, `"profile": "future"`) }, "profile"},
		{"corrupt blob", func(dir string) {
			files, _ := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*"))
			os.WriteFile(files[0], []byte("something else"), 0o644)
		}, "does not hold"},
		{"missing blob", func(dir string) {
			files, _ := filepath.Glob(filepath.Join(dir, "blobs", "sha256", "*"))
			os.Remove(files[0])
		}, "no such file"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "snap")
			if err := Write(dir, sample(t)); err != nil {
				t.Fatal(err)
			}
			tc.spoil(dir)
			if _, err := Read(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Read = %v, want %q", err, tc.want)
			}
		})
	}
}

func rewriteHeader(dir, old, new string) {
	p := filepath.Join(dir, "snapshot.json")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.Replace(b, []byte(old), []byte(new), 1), 0o644)
}

// A tar stream can only create a snapshot's own files, nowhere else.
func TestExtractRefusesOtherEntries(t *testing.T) {
	for _, name := range []string{"../escape", "blobs/sha256/../../x", "/etc/passwd", "notes.txt"} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: 1, Mode: 0o644})
		tw.Write([]byte("x"))
		tw.Close()
		parent := t.TempDir()
		if _, err := Extract(&buf, filepath.Join(parent, "snap")); err == nil || !strings.Contains(err.Error(), "unexpected entry") {
			t.Fatalf("%s: %v", name, err)
		}
		if entries, _ := os.ReadDir(parent); len(entries) != 0 {
			t.Fatalf("%s: left %v behind", name, entries)
		}
	}
}

// Large content streams through a snapshot both ways, and an on-disk store's files are linked
// into the snapshot, then from it into another on-disk store, never copied.
func TestLargeContentOnDisk(t *testing.T) {
	dir := t.TempDir()
	bs, err := blobstore.NewDisk(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	st := store.NewWithBlobs(bs)
	if err := st.PutRegistry(&store.Registry{Name: "myregistry"}); err != nil {
		t.Fatal(err)
	}
	layer := make([]byte, blobstore.MaxGet+1)
	rand.NewChaCha8([32]byte{9}).Read(layer)
	d := digest.FromBytes(layer)
	if err := st.PutBlob("myregistry", "big", d, layer); err != nil {
		t.Fatal(err)
	}
	dump, err := st.Dump()
	if err != nil {
		t.Fatal(err)
	}
	snap := &Snapshot{World: world.Default(), State: dump}
	defer snap.Close()
	sdir := filepath.Join(dir, "snap")
	if err := Write(sdir, snap); err != nil {
		t.Fatal(err)
	}
	held, _ := bs.Open(d)
	defer held.Close()
	inStore, _ := os.Stat(held.Name())
	inSnap, err := os.Stat(filepath.Join(sdir, "blobs", "sha256", d.Encoded()))
	if err != nil || !os.SameFile(inStore, inSnap) {
		t.Fatalf("the snapshot's file is not the store's: %v", err)
	}
	var tarred bytes.Buffer
	if err := WriteTar(&tarred, snap); err != nil {
		t.Fatal(err)
	}
	if _, err := Extract(&tarred, filepath.Join(dir, "extracted")); err != nil {
		t.Fatal(err)
	}
	got, err := Read(sdir)
	if err != nil {
		t.Fatal(err)
	}
	bs2, err := blobstore.NewDisk(filepath.Join(dir, "blobs2"))
	if err != nil {
		t.Fatal(err)
	}
	st2 := store.NewWithBlobs(bs2)
	if err := st2.Restore(got.State); err != nil {
		t.Fatal(err)
	}
	b, ok := bs2.Open(d)
	if !ok {
		t.Fatal("not restored")
	}
	defer b.Close()
	restored, _ := os.Stat(b.Name())
	if !os.SameFile(restored, inSnap) {
		t.Fatal("restored by copying, not linking")
	}
	if vs, err := st2.Check(); err != nil || len(vs) != 0 {
		t.Fatalf("check: %v %v", vs, err)
	}
}
