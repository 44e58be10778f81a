package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// TestOras pushes an artifact, attaches a referrer to it and discovers it, pulls it back.
func TestOras(t *testing.T) {
	oras := harness.Tool(t, "ORAS", "oras")
	emu := harness.Start(t)
	dir := t.TempDir()
	note := filepath.Join(dir, "note.txt")
	if err := os.WriteFile(note, []byte("hello from oras\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ref := emu.RegistryHost() + "/notes/app:v1"
	run := func(args ...string) string {
		t.Helper()
		cmd := append([]string{}, args...)
		return emu.RunIn(t, dir, oras, cmd...)
	}
	run("push", ref, "note.txt:text/plain", "--artifact-type", "application/vnd.example.note")
	sig := filepath.Join(dir, "sig.txt")
	if err := os.WriteFile(sig, []byte("signature"), 0o644); err != nil {
		t.Fatal(err)
	}
	run("attach", ref, "sig.txt:text/plain", "--artifact-type", "application/vnd.example.signature")

	var discovered struct {
		Referrers []struct {
			ArtifactType string `json:"artifactType"`
		} `json:"referrers"`
		Manifests []struct {
			ArtifactType string `json:"artifactType"`
		} `json:"manifests"`
	}
	out := run("discover", ref, "--format", "json")
	if err := json.Unmarshal([]byte(out), &discovered); err != nil {
		t.Fatalf("oras discover output: %v\n%s", err, out)
	}
	types := []string{}
	for _, r := range append(discovered.Referrers, discovered.Manifests...) {
		types = append(types, r.ArtifactType)
	}
	if len(types) != 1 || types[0] != "application/vnd.example.signature" {
		t.Fatalf("discovered referrers %v, want the signature", types)
	}

	pulled := t.TempDir()
	emu.Run(t, oras, "pull", ref, "-o", pulled)
	got, err := os.ReadFile(filepath.Join(pulled, "note.txt"))
	if err != nil || string(got) != "hello from oras\n" {
		t.Fatalf("pulled note = %q, %v", got, err)
	}
	if tags := strings.Fields(emu.Run(t, oras, "repo", "tags", emu.RegistryHost()+"/notes/app")); len(tags) != 1 || tags[0] != "v1" {
		t.Fatalf("oras repo tags = %v", tags)
	}
	if repos := emu.Run(t, oras, "repo", "ls", emu.RegistryHost()); !strings.Contains(repos, "notes/app") {
		t.Fatalf("oras repo ls = %q", repos)
	}
}

// TestRegctl copies an image between repositories and reads it back by digest.
func TestRegctl(t *testing.T) {
	regctl := harness.Tool(t, "REGCTL", "regctl")
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	src := t.TempDir()
	want := writeLayout(t, src, 2)
	ref := emu.RegistryHost() + "/reg/app:v1"
	emu.Run(t, crane, "push", src, ref)

	if got := strings.TrimSpace(emu.Run(t, regctl, "image", "digest", ref)); got != want.String() {
		t.Fatalf("regctl image digest = %s, want %s", got, want)
	}
	copyRef := emu.RegistryHost() + "/reg/copy:v2"
	emu.Run(t, regctl, "image", "copy", ref, copyRef)
	if got := strings.TrimSpace(emu.Run(t, regctl, "image", "digest", copyRef)); got != want.String() {
		t.Fatalf("copied digest = %s, want %s", got, want)
	}
	if tags := strings.Fields(emu.Run(t, regctl, "tag", "ls", emu.RegistryHost()+"/reg/copy")); len(tags) != 1 || tags[0] != "v2" {
		t.Fatalf("regctl tag ls = %v", tags)
	}
	raw := emu.Run(t, regctl, "manifest", "get", emu.RegistryHost()+"/reg/copy@"+want.String(), "--format", "raw-body")
	if !strings.Contains(raw, `"schemaVersion"`) {
		t.Fatalf("regctl manifest get = %q", raw)
	}
	// regctl checks every blob's digest and size while copying to a layout.
	emu.Run(t, regctl, "image", "export", copyRef, filepath.Join(t.TempDir(), "export.tar"))
}

// TestSkopeo copies an OCI layout in and out with containers/image (what podman uses).
func TestSkopeo(t *testing.T) {
	skopeo := harness.Tool(t, "SKOPEO", "skopeo")
	emu := harness.Start(t)
	src := t.TempDir()
	want := writeLayout(t, src, 3)
	ref := "docker://" + emu.RegistryHost() + "/sko/app:v1"
	emu.Run(t, skopeo, "copy", "oci:"+src, ref)
	var inspect struct {
		Digest string `json:"Digest"`
		Layers []string
	}
	out := emu.Run(t, skopeo, "inspect", ref)
	if err := json.Unmarshal([]byte(out), &inspect); err != nil {
		t.Fatalf("skopeo inspect: %v\n%s", err, out)
	}
	if len(inspect.Layers) != 3 {
		t.Fatalf("skopeo inspect layers = %v", inspect.Layers)
	}
	// skopeo may convert media types on copy; the round trip through the registry must be exact.
	dst := filepath.Join(t.TempDir(), "out")
	emu.Run(t, skopeo, "copy", "--preserve-digests", ref, "oci:"+dst)
	if got := layoutManifest(t, dst); got.String() != inspect.Digest {
		t.Fatalf("pulled digest %s, registry says %s (pushed layout %s)", got, inspect.Digest, want)
	}
	tags := emu.Run(t, skopeo, "list-tags", "docker://"+emu.RegistryHost()+"/sko/app")
	if !strings.Contains(tags, `"v1"`) {
		t.Fatalf("skopeo list-tags = %s", tags)
	}
	emu.Run(t, skopeo, "delete", "docker://"+emu.RegistryHost()+"/sko/app@"+inspect.Digest)
	if _, err := emu.TryRun(t, skopeo, "inspect", ref); err == nil {
		t.Fatal("image still served after skopeo delete")
	}
}
