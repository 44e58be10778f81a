package images_test

import (
	"archive/tar"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/images"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// target is a go-containerregistry in-memory registry: an independent judge of what Push sends.
func target(t *testing.T) string {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func push(t *testing.T, s *images.Set, repo string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(repo)
	if err != nil {
		t.Fatal(err)
	}
	if err := images.Push(context.Background(), s, r); err != nil {
		t.Fatal(err)
	}
	return r
}

// The promise world files rely on: the same description gives the same digests, on any
// machine, now and later. These digests are pinned; a change to them is a breaking change
// (bump generatorVersion and say so).
func TestGeneratedDigestsArePinned(t *testing.T) {
	for _, tc := range []struct {
		desc string
		g    world.Generated
		want string
	}{
		{"one platform", world.Generated{Layers: 2, LayerSize: 1024, Platforms: []string{"linux/amd64"}, Seed: "hello"},
			"sha256:54dcd8a11030282928b20a43b05460a3a8b019333245914d5cd2940d0678953b"},
		{"multi-arch", world.Generated{Layers: 1, LayerSize: 4096, Platforms: []string{"linux/amd64", "linux/arm64", "linux/arm/v7"}, Seed: "hello"},
			"sha256:d3ad13c626fe9123252cc33e68018ae1361385618cd213ad734a09fa55f56076"},
	} {
		s, err := images.Generate("hello", tc.g, []string{"v1"})
		if err != nil {
			t.Fatal(err)
		}
		again, _ := images.Generate("hello", tc.g, []string{"v1"})
		got := s.Tops()[0].Digest.String()
		if got != again.Tops()[0].Digest.String() {
			t.Fatalf("%s: two generations differ", tc.desc)
		}
		if got != tc.want {
			t.Errorf("%s: digest %s, pinned %s", tc.desc, got, tc.want)
		}
	}
	a, _ := images.Generate("hello", world.Generated{Layers: 1, LayerSize: 10, Platforms: []string{"linux/amd64"}, Seed: "a"}, nil)
	b, _ := images.Generate("hello", world.Generated{Layers: 1, LayerSize: 10, Platforms: []string{"linux/amd64"}, Seed: "b"}, nil)
	if a.Tops()[0].Digest == b.Tops()[0].Digest {
		t.Fatal("different seeds gave the same image")
	}
}

// Generated images are valid images to go-containerregistry's validator: every digest, size
// and diff id checked, pulled back from a registry that is not ours.
func TestGeneratedImagesAreValid(t *testing.T) {
	reg := target(t)
	multi, err := images.Generate("hello", world.Generated{Layers: 3, LayerSize: 100 << 10, Platforms: []string{"linux/amd64", "linux/arm64"}}, []string{"v1", "latest"})
	if err != nil {
		t.Fatal(err)
	}
	repo := push(t, multi, reg+"/hello")
	idx, err := remote.Index(repo.Tag("latest"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(idx); err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 2 || im.Manifests[1].Platform.Architecture != "arm64" {
		t.Fatalf("index = %+v", im)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	// A tar of one 100 KiB file (header, data, end blocks) in gzip's stored form: a 10-byte
	// header, a 5-byte header per 64 KiB block, an 8-byte trailer.
	if size, _ := layers[2].Size(); len(layers) != 3 || size != (100<<10+512+1024)+10+2*5+8 {
		t.Fatalf("layers: %d, last %d bytes", len(layers), size)
	}
	single, _ := images.Generate("solo", world.Generated{Layers: 1, LayerSize: 1, Platforms: []string{"windows/amd64"}}, []string{"v1"})
	repo = push(t, single, reg+"/solo")
	one, err := remote.Image(repo.Tag("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(one); err != nil {
		t.Fatal(err)
	}
	if cf, _ := one.ConfigFile(); cf.OS != "windows" || cf.Architecture != "amd64" {
		t.Fatalf("config: %+v", cf)
	}
}

func TestGenerateRefusesOutOfBounds(t *testing.T) {
	for _, g := range []world.Generated{
		{Layers: world.MaxLayers + 1, LayerSize: 1, Platforms: []string{"linux/amd64"}},
		{Layers: 1, LayerSize: world.MaxLayerSize + 1, Platforms: []string{"linux/amd64"}},
		{Layers: 1, LayerSize: 1},
	} {
		if _, err := images.Generate("x", g, nil); err == nil {
			t.Errorf("Generate(%+v) accepted", g)
		}
	}
}

// writeLayout writes an image tagged v1 and a two-image index tagged multi.
func writeLayout(t *testing.T, dir string) (v1.Image, v1.ImageIndex) {
	t.Helper()
	img, _ := random.Image(2048, 2)
	idx, _ := random.Index(1024, 1, 2)
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "v1"})); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "docker.io/library/app:multi"})); err != nil {
		t.Fatal(err)
	}
	return img, idx
}

func TestLayoutKeepsDigestsAndNames(t *testing.T) {
	dir := t.TempDir()
	img, idx := writeLayout(t, dir)
	s, err := images.FromLayout(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	repo := push(t, s, target(t)+"/app")
	wantImg, _ := img.Digest()
	wantIdx, _ := idx.Digest()
	for tag, want := range map[string]v1.Hash{"v1": wantImg, "multi": wantIdx} {
		d, err := remote.Head(repo.Tag(tag))
		if err != nil || d.Digest != want {
			t.Fatalf("%s: %v %v, want %s", tag, d, err, want)
		}
	}
	got, _ := remote.Index(repo.Digest(wantIdx.String()))
	if err := validate.Index(got); err != nil {
		t.Fatal(err)
	}
	// ref selects one image, by tag or by full name.
	for _, ref := range []string{"multi", "app:multi", "docker.io/library/app:multi"} {
		s, err := images.FromLayout(dir, ref)
		if err != nil || len(s.Tops()) != 1 || s.Tops()[0].Digest.String() != wantIdx.String() {
			t.Fatalf("ref %s: %v %+v", ref, err, s)
		}
	}
}

func TestLayoutMistakes(t *testing.T) {
	for _, tc := range []struct {
		desc  string
		spoil func(t *testing.T, dir string, img v1.Image)
		want  string
	}{
		{"not a layout", func(t *testing.T, dir string, _ v1.Image) { os.Remove(filepath.Join(dir, "oci-layout")) }, "not an OCI image layout"},
		{"missing layer", func(t *testing.T, dir string, img v1.Image) {
			ls, _ := img.Layers()
			d, _ := ls[0].Digest()
			os.Remove(filepath.Join(dir, "blobs", "sha256", d.Hex))
		}, "no such file"},
		{"truncated layer", func(t *testing.T, dir string, img v1.Image) {
			ls, _ := img.Layers()
			d, _ := ls[1].Digest()
			os.Truncate(filepath.Join(dir, "blobs", "sha256", d.Hex), 10)
		}, "the manifest says"},
		{"corrupt manifest", func(t *testing.T, dir string, img v1.Image) {
			d, _ := img.Digest()
			os.WriteFile(filepath.Join(dir, "blobs", "sha256", d.Hex), []byte(`{"schemaVersion":2}`), 0o644)
		}, "does not hold"},
		{"unknown ref", nil, `no image named "nope"`},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			dir := t.TempDir()
			img, _ := writeLayout(t, dir)
			ref := ""
			if tc.spoil != nil {
				tc.spoil(t, dir, img)
			} else {
				ref = "nope"
			}
			if _, err := images.FromLayout(dir, ref); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// A docker save archive of the old format (manifest.json, config and layer files) becomes OCI
// images with the same config and layers.
func TestLegacyArchive(t *testing.T) {
	a, _ := random.Image(1024, 2)
	b, _ := random.Image(512, 1)
	p := filepath.Join(t.TempDir(), "images.tar")
	ta, _ := name.NewTag("example.com/hello:v1")
	tb, _ := name.NewTag("example.com/other:v2")
	if err := tarball.MultiWriteToFile(p, map[name.Tag]v1.Image{ta: a, tb: b}); err != nil {
		t.Fatal(err)
	}
	s, err := images.FromArchive(p, "hello:v1")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Tops()) != 1 || !slices.Equal(s.Tops()[0].Tags, []string{"v1"}) {
		t.Fatalf("tops = %+v", s.Tops())
	}
	repo := push(t, s, target(t)+"/hello")
	got, err := remote.Image(repo.Tag("v1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatal(err)
	}
	wantCfg, _ := a.ConfigName()
	gotCfg, _ := got.ConfigName()
	wantLayers, _ := a.Layers()
	gotLayers, _ := got.Layers()
	w0, _ := wantLayers[0].Digest()
	g0, _ := gotLayers[0].Digest()
	if wantCfg != gotCfg || len(gotLayers) != 2 || w0 != g0 {
		t.Fatalf("config %s layer %s, want %s and %s", gotCfg, g0, wantCfg, w0)
	}
	all, err := images.FromArchive(p, "")
	if err != nil || len(all.Tops()) != 2 {
		t.Fatalf("every image: %v %d", err, len(all.Tops()))
	}
}

// An archive that holds an OCI layout (docker save since docker 25) keeps its digests.
func TestArchiveWithLayout(t *testing.T) {
	dir := t.TempDir()
	img, _ := writeLayout(t, dir)
	p := filepath.Join(t.TempDir(), "save.tar")
	tarDir(t, dir, p)
	s, err := images.FromArchive(p, "v1")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if len(s.Tops()) != 1 || s.Tops()[0].Digest.String() != want.String() {
		t.Fatalf("tops = %+v, want %s", s.Tops(), want)
	}
	repo := push(t, s, target(t)+"/saved")
	if d, err := remote.Head(repo.Tag("v1")); err != nil || d.Digest != want {
		t.Fatalf("pushed %v %v", d, err)
	}
}

func tarDir(t *testing.T, dir, out string) {
	t.Helper()
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: "./" + filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(b)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
}

func TestLoadTagsAndDigest(t *testing.T) {
	dir := t.TempDir()
	img, _ := writeLayout(t, dir)
	want, _ := img.Digest()
	resolve := func(p string) string { return p }
	if _, err := images.Load(world.Image{Repository: "app", Layout: dir, Tags: []string{"x"}}, resolve); err == nil || !strings.Contains(err.Error(), "select one with ref") {
		t.Fatalf("tags on two images: %v", err)
	}
	s, err := images.Load(world.Image{Repository: "app", Layout: dir, Ref: "v1", Tags: []string{"stable", "1.0"}, Digest: want.String()}, resolve)
	if err != nil || !slices.Equal(s.Tops()[0].Tags, []string{"stable", "1.0"}) {
		t.Fatalf("Load = %+v, %v", s, err)
	}
	_, err = images.Load(world.Image{Repository: "app", Layout: dir, Ref: "v1", Digest: "sha256:" + strings.Repeat("0", 64)}, resolve)
	if err == nil || !strings.Contains(err.Error(), "the image's digest is "+want.String()) {
		t.Fatalf("wrong digest: %v", err)
	}
	g := world.Generated{Layers: 1, LayerSize: 8, Platforms: []string{"linux/amd64", "linux/arm64"}, Seed: "s"}
	s, err = images.Load(world.Image{Repository: "gen", Generate: &g, Tags: []string{"v1"}}, resolve)
	if err != nil || len(s.Manifests) != 3 || !slices.Equal(s.Tops()[0].Tags, []string{"v1"}) || s.Tops()[0].MediaType != images.OCIIndex {
		t.Fatalf("generated: %+v %v", s, err)
	}
}
