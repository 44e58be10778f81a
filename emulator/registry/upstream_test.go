package registry_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/opencontainers/go-digest"
)

// fakeUpstream answers every miss with one artifact.
type fakeUpstream struct{ a *registry.Artifact }

func (f fakeUpstream) Fill(_ context.Context, _, _ string, save func(*registry.Artifact) error) (bool, error) {
	if f.a == nil {
		return false, nil
	}
	return true, save(f.a)
}

// An upstream's artifact is stored only when every manifest of it is valid; a bad one is the
// upstream's failure (424), not the client's.
func TestUpstreamArtifactIsStoredWhole(t *testing.T) {
	config := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := []byte("layer")
	image := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + digest.FromBytes(config).String() + `","size":` + strconv.Itoa(len(config)) + `},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + digest.FromBytes(layer).String() + `","size":` + strconv.Itoa(len(layer)) + `}]}`)
	blobs := map[digest.Digest][]byte{digest.FromBytes(config): config, digest.FromBytes(layer): layer}
	good := registry.UpstreamManifest{Digest: digest.FromBytes(image), MediaType: "application/vnd.oci.image.manifest.v1+json", Body: image}
	bad := registry.UpstreamManifest{Digest: digest.FromBytes([]byte("{")), MediaType: "application/vnd.oci.image.index.v1+json", Body: []byte("{")}

	srv, st := newServer(t, registry.WithUpstream(fakeUpstream{&registry.Artifact{Manifests: []registry.UpstreamManifest{good, bad}, Blobs: blobs}}))
	r := do(t, srv, call{method: http.MethodGet, path: "/v2/cached/app/manifests/v1", header: acceptOCI})
	if r.status != http.StatusFailedDependency || !strings.Contains(string(r.body), "is not valid") {
		t.Fatalf("a bad upstream manifest: %d %s", r.status, r.body)
	}
	if m, _ := st.GetManifest(regName, "cached/app", good.Digest); m != nil {
		t.Fatal("the valid child of a bad artifact was stored")
	}
	if l, _ := st.GetBlobLink(regName, "cached/app", digest.FromBytes(layer)); l != nil {
		t.Fatal("a blob of a bad artifact was linked")
	}

	srv, st = newServer(t, registry.WithUpstream(fakeUpstream{&registry.Artifact{Manifests: []registry.UpstreamManifest{good}, Blobs: blobs}}))
	r = do(t, srv, call{method: http.MethodGet, path: "/v2/cached/app/manifests/v1", header: acceptOCI})
	if r.status != http.StatusOK || r.header.Get("X-Azure-Origin") != "upstream" || r.header.Get("Docker-Content-Digest") != good.Digest.String() {
		t.Fatalf("a good artifact: %d %v %s", r.status, r.header, r.body)
	}
	if tag, _ := st.GetTag(regName, "cached/app", "v1"); tag == nil || tag.Digest != good.Digest {
		t.Fatalf("tag: %+v", tag)
	}
	r = do(t, srv, call{method: http.MethodGet, path: "/v2/cached/app/blobs/" + digest.FromBytes(layer).String()})
	if r.status != http.StatusOK || string(r.body) != "layer" {
		t.Fatalf("the cached layer: %d %s", r.status, r.body)
	}
}
