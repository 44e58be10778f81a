package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/snapshot"
	"github.com/acr-emulator/acr-emulator/emulator/world"
)

func TestSnapshotSave(t *testing.T) {
	emu := emulatortest.New(t)
	pushed, err := emu.Preload(context.Background(), "myregistry", world.Image{Repository: "demo/app", Tags: []string{"v1"}, Generate: &world.Generated{Layers: 2}})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "demo")
	var stdout, stderr bytes.Buffer
	if code := run([]string{"snapshot", "save", dir, "--emulator", emu.HTTPURL()}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "Saved 1 registries, 1 repositories, 1 tags") || !strings.Contains(stdout.String(), "acr-emulator --snapshot "+dir) {
		t.Fatalf("stdout: %s", stdout.String())
	}
	snap, err := snapshot.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tag := range snap.State.Tags {
		found = found || tag.Repo == "demo/app" && tag.Digest.String() == pushed[0].Digest
	}
	if !found {
		t.Fatalf("the snapshot lacks demo/app:v1 at %s", pushed[0].Digest)
	}
	// Saving again replaces the older snapshot; a directory of something else is refused.
	if code := run([]string{"snapshot", "save", "--emulator", emu.HTTPURL(), dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("second save: exit %d: %s", code, stderr.String())
	}
	other := t.TempDir()
	os.WriteFile(filepath.Join(other, "keep"), nil, 0o644)
	stderr.Reset()
	if code := run([]string{"snapshot", "save", other, "--emulator", emu.HTTPURL()}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "holds no snapshot") {
		t.Fatalf("save over a non-snapshot: exit %d: %s", code, stderr.String())
	}
}
