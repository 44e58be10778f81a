package emulator_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/opencontainers/go-digest"
)

// The digest of the generated image in preloadWorld, pinned by emulator/images' test too.
const helloIndex = "sha256:d3ad13c626fe9123252cc33e68018ae1361385618cd213ad734a09fa55f56076"

// preloadWorld writes a layout and a docker archive and returns a world preloading them with
// a generated multi-arch image, into an open registry and a locked one.
func preloadWorld(t *testing.T) (*world.World, v1.Image, v1.Image) {
	t.Helper()
	dir := t.TempDir()
	fromLayout, _ := random.Image(4096, 2)
	p, _ := layout.Write(filepath.Join(dir, "app-layout"), empty.Index)
	if err := p.AppendImage(fromLayout, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "v1"})); err != nil {
		t.Fatal(err)
	}
	fromArchive, _ := random.Image(2048, 1)
	tag, _ := name.NewTag("example.com/tools:2.0")
	if err := tarball.WriteToFile(filepath.Join(dir, "tools.tar"), tag, fromArchive); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "world.yaml")
	if err := os.WriteFile(file, []byte(`
registries:
  - name: myregistry
    adminUserEnabled: true
    adminPassword: pw
    images:
      - repository: samples/hello
        tags: [v1]
        digest: `+helloIndex+`
        generate:
          layers: 1
          layerSize: 4KiB
          platforms: [linux/amd64, linux/arm64, linux/arm/v7]
          seed: hello
      - repository: samples/hello-copy
        generate: {layers: 1, layerSize: 4096, platforms: [linux/amd64, linux/arm64, linux/arm/v7], seed: hello}
      - repository: apps/app
        layout: app-layout
      - repository: tools
        archive: tools.tar
        tags: [stable]
  - name: lockedregistry
    port: 1
    publicNetworkAccess: Disabled
    adminUserEnabled: true
    adminPassword: pw
    images:
      - repository: private/app
        layout: app-layout
        ref: v1
`), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := world.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return w, fromLayout, fromArchive
}

func TestWorldPreloadsImages(t *testing.T) {
	w, fromLayout, fromArchive := preloadWorld(t)
	emu := emulatortest.New(t, emulatortest.WithWorld(w))
	auth := remote.WithAuth(&authn.Basic{Username: "myregistry", Password: "pw"})
	host := emu.Registry().Host
	ref := func(s string) name.Reference {
		r, err := name.ParseReference(host + "/" + s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	idx, err := remote.Index(ref("samples/hello:v1"), remote.WithTransport(emu.Transport()), auth)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := idx.Digest(); d.String() != helloIndex {
		t.Fatalf("hello:v1 = %s, declared %s", d, helloIndex)
	}
	if err := validate.Index(idx); err != nil {
		t.Fatal(err)
	}
	for r, want := range map[string]v1.Image{"apps/app:v1": fromLayout, "tools:stable": fromArchive} {
		img, err := remote.Image(ref(r), remote.WithTransport(emu.Transport()), auth)
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if err := validate.Image(img); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		got, _ := img.ConfigName()
		if w, _ := want.ConfigName(); got != w {
			t.Fatalf("%s: config %s, want %s", r, got, w)
		}
	}
	d, _ := fromLayout.Digest()
	if tag, _ := emu.Store().GetTag("lockedregistry", "private/app", "v1"); tag == nil || tag.Digest.String() != d.String() {
		t.Fatalf("locked registry's image: %+v, want %s", tag, d)
	}
	// The same layers in two repositories of a registry are stored once, each link holding
	// one reference, as pushes by mount are.
	m, _ := idx.IndexManifest()
	child, _ := idx.Image(m.Manifests[0].Digest)
	layers, _ := child.Layers()
	ld, _ := layers[0].Digest()
	if refs := emu.Store().Blobs().Refs(digest.Digest(ld.String())); refs != 2 {
		t.Fatalf("layer %s has %d references, want 2 (two repositories)", ld, refs)
	}
	// From this machine the locked registry still refuses, preloaded or not.
	res, err := emu.Client().Get("https://" + emu.Registry("lockedregistry").Host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 403 {
		t.Fatalf("locked registry from this machine: %d", res.StatusCode)
	}
}

func TestPreloadAtRunTime(t *testing.T) {
	emu := emulatortest.New(t)
	got, err := emu.Preload(context.Background(), "myregistry", world.Image{Repository: "fixture/app", Tags: []string{"v1", "latest"},
		Generate: &world.Generated{Layers: 2, LayerSize: 512}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || len(got[0].Tags) != 2 || got[0].Platforms[0] != "linux/amd64" {
		t.Fatalf("Preload = %+v", got)
	}
	u, p := emu.Admin()
	r, _ := name.ParseReference(emu.Registry().Host + "/fixture/app:latest")
	d, err := remote.Head(r, remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: u, Password: p}))
	if err != nil || d.Digest.String() != got[0].Digest {
		t.Fatalf("HEAD = %v %v, want %s", d, err, got[0].Digest)
	}
	if _, err := emu.Preload(context.Background(), "myregistry", world.Image{Repository: "Bad Name", Generate: &world.Generated{}}); err == nil ||
		!strings.Contains(err.Error(), "image.repository") {
		t.Fatalf("bad image: %v", err)
	}
	if _, err := emu.Preload(context.Background(), "nosuchregistry", world.Image{Repository: "x", Generate: &world.Generated{}}); err == nil {
		t.Fatal("preloaded into a registry that does not exist")
	}
}

// A declared digest the content does not have stops the start, naming the image's line.
func TestPreloadDigestMismatchNamesTheLine(t *testing.T) {
	err := startError(t, "registries:\n  - name: myregistry\n    images:\n      - repository: hello\n        digest: sha256:"+strings.Repeat("ab", 32)+"\n        generate: {layers: 1}\n")
	if err == nil || !strings.HasPrefix(err.Error(), "w.yaml:4:") || !strings.Contains(err.Error(), "registries[0].images[0]: the image's digest is sha256:") {
		t.Fatalf("Start = %v", err)
	}
}
