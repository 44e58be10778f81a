package store

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

func putBlob(t *testing.T, s *Store, repo, data string) digest.Digest {
	t.Helper()
	d := digest.FromString(data)
	if err := s.PutBlob("reg", repo, d, []byte(data)); err != nil {
		t.Fatal(err)
	}
	return d
}

func manifest(repo string, body string, blobs ...digest.Digest) *Manifest {
	m := &Manifest{Registry: "reg", Repo: repo, Digest: digest.FromString(body), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: int64(len(body))}
	for _, b := range blobs {
		m.Blobs = append(m.Blobs, Descriptor{Digest: b})
	}
	return m
}

func TestPutManifestNeedsItsBlobs(t *testing.T) {
	s := New()
	layer := putBlob(t, s, "app", "layer")
	missing := digest.FromString("missing")
	body := "manifest-1"
	err := s.PutManifest(manifest("app", body, layer, missing), []byte(body), []string{"v1"}, nil)
	var mr *MissingReferenceError
	if !errors.As(err, &mr) || mr.Digest != missing || mr.Manifest {
		t.Fatalf("err = %v, want a missing blob %s", err, missing)
	}
	if tag, _ := s.GetTag("reg", "app", "v1"); tag != nil {
		t.Fatal("a rejected manifest left a tag behind")
	}
	if refs := s.Blobs().Refs(digest.FromString(body)); refs != 0 {
		t.Fatalf("rejected manifest bytes still held (%d refs)", refs)
	}
	// Non-required (foreign) descriptors are skipped.
	err = s.PutManifest(manifest("app", body, layer, missing), []byte(body), []string{"v1"}, func(d Descriptor) bool { return d.Digest != missing })
	if err != nil {
		t.Fatal(err)
	}
}

func TestIndexNeedsItsChildren(t *testing.T) {
	s := New()
	body := "index"
	idx := manifest("app", body)
	idx.MediaType = "application/vnd.oci.image.index.v1+json"
	child := digest.FromString("child")
	idx.Manifests = []Descriptor{{Digest: child}}
	var mr *MissingReferenceError
	if err := s.PutManifest(idx, []byte(body), nil, nil); !errors.As(err, &mr) || !mr.Manifest {
		t.Fatalf("err = %v, want missing child manifest", err)
	}
}

func TestLockedTagAndManifest(t *testing.T) {
	s := New()
	b1, b2 := "m1", "m2"
	if err := s.PutManifest(manifest("app", b1), []byte(b1), []string{"v1"}, nil); err != nil {
		t.Fatal(err)
	}
	f := false
	if _, err := s.UpdateTagAttributes("reg", "app", "v1", AttributesPatch{WriteEnabled: &f}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutManifest(manifest("app", b2), []byte(b2), []string{"v1"}, nil); !errors.Is(err, ErrWriteDisabled) {
		t.Fatalf("moving a locked tag: err = %v", err)
	}
	tag, _ := s.GetTag("reg", "app", "v1")
	if tag.Digest != digest.FromString(b1) {
		t.Fatal("locked tag moved")
	}
	if _, err := s.DeleteManifest("reg", "app", digest.FromString(b1)); !errors.Is(err, ErrDeleteDisabled) {
		t.Fatalf("deleting a manifest behind a locked tag: err = %v", err)
	}
	if err := s.DeleteTag("reg", "app", "v1"); !errors.Is(err, ErrDeleteDisabled) {
		t.Fatalf("deleting a locked tag: err = %v", err)
	}
	if _, err := s.UpdateRepositoryAttributes("reg", "app", AttributesPatch{DeleteEnabled: &f}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteRepository("reg", "app"); !errors.Is(err, ErrDeleteDisabled) {
		t.Fatalf("deleting a locked repository: err = %v", err)
	}
}

func TestDeleteRepositoryReleasesEverything(t *testing.T) {
	s := New()
	shared := putBlob(t, s, "a", "shared")
	putBlob(t, s, "b", "shared")
	body := "manifest"
	if err := s.PutManifest(manifest("a", body, shared), []byte(body), []string{"latest", "v1"}, nil); err != nil {
		t.Fatal(err)
	}
	out, err := s.DeleteRepository("reg", "a")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(out.TagsDeleted, ",") != "latest,v1" || len(out.ManifestsDeleted) != 1 {
		t.Fatalf("deleted = %+v", out)
	}
	if refs := s.Blobs().Refs(shared); refs != 1 {
		t.Fatalf("shared blob refs = %d, want 1 (still linked in b)", refs)
	}
	if n, _ := s.Blobs().Stats(); n != 1 {
		t.Fatalf("blobstore holds %d digests, want 1", n)
	}
	if r, _ := s.GetRepository("reg", "a"); r != nil {
		t.Fatal("repository still present")
	}
}

func TestListsArePerRepository(t *testing.T) {
	s := New()
	for _, repo := range []string{"app", "app2", "app/sub"} {
		body := "m-" + repo
		if err := s.PutManifest(manifest(repo, body), []byte(body), []string{"t-" + strings.ReplaceAll(repo, "/", "-")}, nil); err != nil {
			t.Fatal(err)
		}
	}
	tags, _ := s.ListTags("reg", "app")
	if len(tags) != 1 || tags[0].Name != "t-app" {
		t.Fatalf("tags of app leaked from its siblings: %+v", tags)
	}
	repos, _ := s.ListRepositories("reg")
	var names []string
	for _, r := range repos {
		names = append(names, r.Name)
	}
	if strings.Join(names, ",") != "app,app/sub,app2" {
		t.Fatalf("repositories = %v", names)
	}
}

func TestDeleteRegistry(t *testing.T) {
	s := New()
	for _, reg := range []string{"reg", "other"} {
		if err := s.PutRegistry(&Registry{Name: reg}); err != nil {
			t.Fatal(err)
		}
	}
	shared := digest.FromString("shared")
	if err := s.PutBlob("reg", "app", shared, []byte("shared")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBlob("other", "app", shared, []byte("shared")); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.RegistryBytes("reg"); n != 6 {
		t.Fatalf("RegistryBytes = %d", n)
	}
	f := false
	if _, err := s.UpdateRepositoryAttributes("reg", "app", AttributesPatch{DeleteEnabled: &f}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRegistry("reg"); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.GetRegistry("reg"); r != nil {
		t.Fatal("registry still there")
	}
	if repos, _ := s.ListRepositories("reg"); len(repos) != 0 {
		t.Fatal("repositories left behind")
	}
	if refs := s.Blobs().Refs(shared); refs != 1 {
		t.Fatalf("shared blob refs = %d, want 1 (still in other)", refs)
	}
}
