package emulator_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator"
	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/snapshot"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// With a blob directory, pushed content is files there; a snapshot links them out and an
// emulator started from it on the same directory (emptied at its start) links them back, so
// the bytes are never copied and the image pulls the same.
func TestBlobDirSnapshot(t *testing.T) {
	blobs := filepath.Join(t.TempDir(), "blobs")
	withDir := emulatortest.WithConfig(func(c *emulator.Config) { c.BlobDir = blobs })
	a := emulatortest.New(t, withDir)
	user, pw := a.Admin()
	auth := remote.WithAuth(&authn.Basic{Username: user, Password: pw})
	ref, _ := name.ParseReference(a.Registry().Host + "/disk:v1")
	img, _ := random.Image(64<<10, 2)
	if err := remote.Write(ref, img, remote.WithTransport(a.Transport()), auth); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	layer, _ := layers[0].Digest()
	held := filepath.Join(blobs, "sha256", layer.Hex)
	if _, err := os.Stat(held); err != nil {
		t.Fatalf("the layer is not a file of the blob directory: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "snap")
	res, err := http.Post(a.HTTPURL()+"/_emulator/snapshot?dir="+url.QueryEscape(dir), "", nil)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("POST snapshot: %v %v", res, err)
	}
	res.Body.Close()
	snap, err := snapshot.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Emulator.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	b := emulatortest.New(t, withDir, emulatortest.WithConfig(func(c *emulator.Config) { c.Snapshot = snap }))
	ref, _ = name.ParseReference(b.Registry().Host + "/disk:v1")
	got, err := remote.Image(ref, remote.WithTransport(b.Transport()), auth)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if d, _ := got.Digest(); d != want {
		t.Fatalf("restored digest %s, want %s", d, want)
	}
	inDir, err1 := os.Stat(held)
	inSnap, err2 := os.Stat(filepath.Join(dir, "blobs", "sha256", layer.Hex))
	if err1 != nil || err2 != nil || !os.SameFile(inDir, inSnap) {
		t.Fatalf("the restored layer is not the snapshot's file linked back (%v, %v)", err1, err2)
	}
}
