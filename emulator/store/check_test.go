package store

import (
	"fmt"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"
)

func rules(vs []Violation) map[string]int {
	out := map[string]int{}
	for _, v := range vs {
		out[v.Rule]++
	}
	return out
}

func TestCheckFindsEachBrokenInvariant(t *testing.T) {
	s := New()
	layer := putBlob(t, s, "app", "layer")
	body := "manifest-1"
	if err := s.PutManifest(manifest("app", body, layer), []byte(body), []string{"v1"}, nil); err != nil {
		t.Fatal(err)
	}
	if vs, err := s.Check(); err != nil || len(vs) != 0 {
		t.Fatalf("a consistent store: %v %v", vs, err)
	}
	for _, tc := range []struct {
		desc   string
		break_ func()
		mend   func()
		want   string
	}{
		{"an extra reference", func() { s.blobs.Acquire(layer) }, func() { s.blobs.Release(layer) }, RuleReferenceCount},
		{"an orphaned digest", func() { s.blobs.Put(digest.FromString("orphan"), []byte("orphan")) }, func() { s.blobs.Release(digest.FromString("orphan")) }, RuleNoOrphans},
		{"bytes gone", func() { s.blobs.Release(layer) }, func() { s.blobs.Put(layer, []byte("layer")) }, RuleContentHeld},
	} {
		tc.break_()
		vs, err := s.Check()
		if err != nil || rules(vs)[tc.want] == 0 {
			t.Errorf("%s: violations %v (%v), want %s", tc.desc, vs, err, tc.want)
		}
		tc.mend()
		if vs, _ := s.Check(); len(vs) != 0 {
			t.Fatalf("%s, mended: %v", tc.desc, vs)
		}
	}
	// Records that point nowhere, written around the store's own checks.
	txn := s.db.Txn(true)
	_ = txn.Insert(TableTags, &Tag{Registry: "reg", Repo: "app", Name: "dangling", Digest: digest.FromString("nothing")})
	_ = txn.Insert(TableManifests, &Manifest{Registry: "reg", Repo: "app", Digest: digest.FromString("index"), Size: 5,
		Manifests: []Descriptor{{Digest: digest.FromString("child")}}, Blobs: []Descriptor{{Digest: digest.FromString("unlinked")}}})
	txn.Commit()
	s.blobs.Put(digest.FromString("index"), []byte("index"))
	got := rules(mustCheck(t, s))
	for _, r := range []string{RuleTagResolves, RuleManifestChildren, RuleManifestBlobs} {
		if got[r] == 0 {
			t.Errorf("no %s violation: %v", r, got)
		}
	}
}

func mustCheck(t *testing.T, s *Store) []Violation {
	t.Helper()
	vs, err := s.Check()
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

// Check is exact while writes go on: it never sees a reference taken for a commit that has not
// happened, nor one a commit has not released yet.
func TestCheckDuringWrites(t *testing.T) {
	s := New()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				repo := fmt.Sprintf("app%d", w%2) // two writers per repository, shared layers
				data := fmt.Sprintf("layer-%d", i%7)
				d := digest.FromString(data)
				_ = s.PutBlob("reg", repo, d, []byte(data))
				body := fmt.Sprintf("manifest-%d-%d", w, i%5)
				_ = s.PutManifest(manifest(repo, body, d), []byte(body), []string{"latest"}, nil)
				if i%3 == 0 {
					_, _ = s.DeleteManifest("reg", repo, digest.FromString(body))
				}
			}
		})
	}
	for range 200 {
		if vs := mustCheck(t, s); len(vs) != 0 {
			close(stop)
			wg.Wait()
			t.Fatalf("violations while writing: %v", vs)
		}
	}
	close(stop)
	wg.Wait()
	if vs := mustCheck(t, s); len(vs) != 0 {
		t.Fatalf("violations after: %v", vs)
	}
}
