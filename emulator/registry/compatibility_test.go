package registry_test

import (
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// These tests drive the registry with go-containerregistry's client, the library under crane.

func TestPushPullImageAndIndex(t *testing.T) {
	srv, _ := newServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")

	img, err := random.Image(1024, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host+"/team/app:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatalf("push image: %v", err)
	}
	got, err := remote.Image(ref)
	if err != nil {
		t.Fatalf("pull image: %v", err)
	}
	wantDigest, _ := img.Digest()
	gotDigest, _ := got.Digest()
	if wantDigest != gotDigest {
		t.Fatalf("digest %s, want %s", gotDigest, wantDigest)
	}
	layers, _ := got.Layers()
	for _, l := range layers {
		// Reading verifies each layer's bytes against its digest.
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		for {
			if _, err := rc.Read(buf); err != nil {
				break
			}
		}
		rc.Close()
	}

	idx, err := random.Index(512, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	idxRef, _ := name.ParseReference(host+"/team/multi:latest", name.Insecure)
	if err := remote.WriteIndex(idxRef, idx); err != nil {
		t.Fatalf("push index: %v", err)
	}
	gotIdx, err := remote.Index(idxRef)
	if err != nil {
		t.Fatalf("pull index: %v", err)
	}
	im, _ := gotIdx.IndexManifest()
	if len(im.Manifests) != 3 {
		t.Fatalf("index has %d children, want 3", len(im.Manifests))
	}
	tags, err := remote.List(idxRef.Context())
	if err != nil || len(tags) != 1 || tags[0] != "latest" {
		t.Fatalf("tags = %v, %v", tags, err)
	}
}

func TestReferrers(t *testing.T) {
	srv, _ := newServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, _ := random.Image(256, 1)
	ref, _ := name.ParseReference(host+"/app:v1", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	subject, _ := remote.Get(ref)
	sig, _ := random.Image(64, 1)
	sig = mutate.MediaType(sig, types.OCIManifestSchema1)
	sig = mutate.ConfigMediaType(sig, "application/vnd.example.signature")
	sig = mutate.Subject(sig, subject.Descriptor).(v1.Image)
	sigDigest, _ := sig.Digest()
	sigRef, _ := name.ParseReference(host+"/app@"+sigDigest.String(), name.Insecure)
	if err := remote.Write(sigRef, sig); err != nil {
		t.Fatalf("push referrer: %v", err)
	}
	idx, err := remote.Referrers(ref.Context().Digest(subject.Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != sigDigest || im.Manifests[0].ArtifactType != "application/vnd.example.signature" {
		t.Fatalf("referrers = %+v", im.Manifests)
	}
}

// Concurrent pushes of the same layers and tag must leave one consistent copy of each blob.
func TestConcurrentPushes(t *testing.T) {
	srv, st := newServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, _ := random.Image(2048, 4)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ref, _ := name.ParseReference(host+"/race:same", name.Insecure)
			errs <- remote.Write(ref, img)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent push: %v", err)
		}
	}
	n, _ := st.Blobs().Stats()
	// 4 layers + config + manifest bytes, each once.
	if n != 6 {
		t.Fatalf("blobstore holds %d digests, want 6", n)
	}
	layers, _ := img.Layers()
	for _, l := range layers {
		d, _ := l.Digest()
		if refs := st.Blobs().Refs(mustDigest(t, d.String())); refs != 1 {
			t.Fatalf("layer %s has %d refs, want 1", d, refs)
		}
	}
}
