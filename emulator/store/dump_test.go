package store

import (
	"testing"

	"github.com/opencontainers/go-digest"
)

// Restore puts back exactly what Dump saw, with one blobstore reference per record holding
// bytes, and frees what only the discarded state held.
func TestDumpRestore(t *testing.T) {
	s := New()
	if err := s.PutRegistry(&Registry{Name: "reg", SKU: "Premium"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutPrincipal(&Principal{ObjectID: "p1", AppID: "a1", Kind: KindServicePrincipal}); err != nil {
		t.Fatal(err)
	}
	shared := putBlob(t, s, "app", "shared-layer")
	putBlob(t, s, "other", "shared-layer")
	body := "manifest-1"
	if err := s.PutManifest(manifest("app", body, shared), []byte(body), []string{"v1"}, nil); err != nil {
		t.Fatal(err)
	}
	base, err := s.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if len(base.Sizes()) != 2 || len(base.BlobLinks) != 2 || len(base.Tags) != 1 {
		t.Fatalf("dump = %+v", base)
	}

	// Change everything: a new blob and manifest, the old ones deleted, a registry changed.
	extra := putBlob(t, s, "app", "only-after")
	if _, err := s.DeleteManifest("reg", "app", digest.FromString(body)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteBlob("reg", "other", shared); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRegistry(&Registry{Name: "reg", SKU: "Basic"}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutRegistry(&Registry{Name: "created", SKU: "Basic"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUpload("reg", "app", 10); err != nil {
		t.Fatal(err)
	}

	for range 2 { // restoring twice is the same as once
		if err := s.Restore(base); err != nil {
			t.Fatal(err)
		}
	}
	if reg, _ := s.GetRegistry("reg"); reg == nil || reg.SKU != "Premium" {
		t.Fatalf("registry = %+v", reg)
	}
	if reg, _ := s.GetRegistry("created"); reg != nil {
		t.Fatal("a registry created after the dump survived")
	}
	if tag, _ := s.GetTag("reg", "app", "v1"); tag == nil || tag.Digest != digest.FromString(body) {
		t.Fatalf("tag = %+v", tag)
	}
	if l, _ := s.GetBlobLink("reg", "other", shared); l == nil {
		t.Fatal("blob link not restored")
	}
	for d, want := range map[digest.Digest]int{shared: 2, digest.FromString(body): 1, extra: 0} {
		if got := s.Blobs().Refs(d); got != want {
			t.Errorf("refs of %s = %d, want %d", d, got, want)
		}
	}
	if n, b := s.Blobs().Stats(); n != 2 || b != int64(len("shared-layer")+len(body)) {
		t.Fatalf("blobs = %d (%d bytes)", n, b)
	}
	if p, _ := s.GetPrincipal("p1"); p == nil {
		t.Fatal("principal not restored")
	}
}

func TestRestoreRefusesADumpWithoutItsBytes(t *testing.T) {
	s := New()
	if err := s.PutRegistry(&Registry{Name: "reg"}); err != nil {
		t.Fatal(err)
	}
	d := putBlob(t, s, "app", "layer")
	dump, _ := s.Dump()
	dump.Close()
	dump.Content = failingContent{}
	if err := New().Restore(dump); err == nil {
		t.Fatal("restored a dump missing bytes")
	}
	// A store that holds the bytes takes them from itself.
	if err := s.Restore(dump); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.GetBlobLink("reg", "app", d); l == nil || s.Blobs().Refs(d) != 1 {
		t.Fatal("a restore changed the state")
	}
}
