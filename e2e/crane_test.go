package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// writeLayout writes a random multi-layer image as an OCI image layout and returns its digest.
func writeLayout(t *testing.T, dir string, layers int) v1.Hash {
	t.Helper()
	img, err := random.Image(64<<10, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d
}

// layoutManifest returns the digest recorded in a layout's index.json (its single image).
func layoutManifest(t *testing.T, dir string) v1.Hash {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 1 {
		t.Fatalf("%s: index.json has %d manifests, want 1", dir, len(idx.Manifests))
	}
	return idx.Manifests[0].Digest
}

// blobs maps every file under blobs/ of a layout to its bytes.
func blobs(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	root := filepath.Join(dir, "blobs")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCraneRoundTrip pushes a multi-layer image from an OCI layout with crane, copies it to
// another repository, pulls it back into a new layout and compares every byte.
func TestCraneRoundTrip(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	src := t.TempDir()
	want := writeLayout(t, src, 4)
	ref := emu.RegistryHost() + "/e2e/app:v1"

	emu.Run(t, crane, "push", src, ref)
	if got := strings.TrimSpace(emu.Run(t, crane, "digest", ref)); got != want.String() {
		t.Fatalf("crane digest = %s, want %s", got, want)
	}
	copyRef := emu.RegistryHost() + "/e2e/copy:v2"
	emu.Run(t, crane, "copy", ref, copyRef)
	if tags := strings.Fields(emu.Run(t, crane, "ls", emu.RegistryHost()+"/e2e/copy")); len(tags) != 1 || tags[0] != "v2" {
		t.Fatalf("crane ls = %v, want [v2]", tags)
	}
	catalog := emu.Run(t, crane, "catalog", emu.RegistryHost())
	if !strings.Contains(catalog, "e2e/app") || !strings.Contains(catalog, "e2e/copy") {
		t.Fatalf("crane catalog = %q", catalog)
	}

	dst := filepath.Join(t.TempDir(), "pulled")
	emu.Run(t, crane, "pull", "--format", "oci", copyRef, dst)
	if got := layoutManifest(t, dst); got != want {
		t.Fatalf("pulled manifest %s, want %s", got, want)
	}
	srcBlobs, dstBlobs := blobs(t, src), blobs(t, dst)
	if len(srcBlobs) != 6 { // manifest, config, 4 layers
		t.Fatalf("source layout has %d blobs, want 6", len(srcBlobs))
	}
	for name, b := range srcBlobs {
		if !bytes.Equal(dstBlobs[name], b) {
			t.Errorf("blob %s differs after the round trip (%d vs %d bytes)", name, len(dstBlobs[name]), len(b))
		}
	}
	if len(dstBlobs) != len(srcBlobs) {
		t.Errorf("pulled layout has %d blobs, want %d", len(dstBlobs), len(srcBlobs))
	}
	manifest := emu.Run(t, crane, "manifest", ref)
	if !bytes.Equal([]byte(manifest), srcBlobs[filepath.Join("sha256", want.Hex)]) {
		t.Errorf("crane manifest does not return the pushed bytes")
	}
}

// TestCraneErrors checks what a user sees for content that is not there.
func TestCraneErrors(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	out, err := emu.TryRun(t, crane, "manifest", emu.RegistryHost()+"/nothere:v1")
	if err == nil || !strings.Contains(out, `repository "nothere" is not found`) {
		t.Fatalf("missing repository: err=%v output=%s", err, out)
	}
	src := t.TempDir()
	writeLayout(t, src, 1)
	emu.Run(t, crane, "push", src, emu.RegistryHost()+"/app:v1")
	out, err = emu.TryRun(t, crane, "manifest", emu.RegistryHost()+"/app:nope")
	if err == nil || !strings.Contains(out, `manifest tagged by "nope" is not found`) {
		t.Fatalf("missing tag: err=%v output=%s", err, out)
	}
	out, err = emu.TryRun(t, crane, "delete", emu.RegistryHost()+"/app:v1")
	if err == nil || !strings.Contains(out, "A manifest can only be deleted by digest.") {
		t.Fatalf("delete by tag: err=%v output=%s", err, out)
	}
}

// TestMultipleRegistries serves two registries from one process, each with its own login
// server, and copies an image from one to the other.
func TestMultipleRegistries(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	otherAddr := harness.FreeAddr(t)
	_, otherPort, _ := strings.Cut(otherAddr, ":")
	world := filepath.Join(t.TempDir(), "world.yaml")
	body := "registries:\n  - name: myregistry\n    adminUserEnabled: true\n    adminPassword: " + harness.AdminPassword +
		"\n  - name: otherregistry\n    sku: Standard\n    port: " + otherPort + "\n" +
		"servicePrincipals:\n  - {name: sp, clientId: " + harness.ClientID + ", secret: " + harness.ClientSecret + "}\n" +
		"roleAssignments:\n  - {principal: sp, role: Owner, scope: subscription}\n"
	if err := os.WriteFile(world, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	emu := harness.Start(t, harness.WithArgs("--config", world))
	other := "localhost:" + otherPort

	src := t.TempDir()
	want := writeLayout(t, src, 2)
	emu.Run(t, crane, "push", src, emu.RegistryHost()+"/app:v1")
	// One identity for both registries: the service principal, Owner on the subscription.
	sp := emu.EnvWithLogin(t, harness.ClientID, harness.ClientSecret)
	writeDockerConfig(t, sp, fmt.Sprintf(`{"auths":{%q:{"auth":%[3]q},%[2]q:{"auth":%[3]q}}}`, emu.RegistryHost(), other,
		base64.StdEncoding.EncodeToString([]byte(harness.ClientID+":"+harness.ClientSecret))))
	if out, err := emu.TryRunEnv(t, sp, crane, "copy", emu.RegistryHost()+"/app:v1", other+"/mirror/app:v1"); err != nil {
		t.Fatalf("copy between registries: %v\n%s", err, out)
	}
	if got, _ := emu.TryRunEnv(t, sp, crane, "digest", other+"/mirror/app:v1"); strings.TrimSpace(got) != want.String() {
		t.Fatalf("digest in otherregistry = %s, want %s", got, want)
	}
	if got := strings.Fields(emu.Run(t, crane, "catalog", emu.RegistryHost())); len(got) != 1 || got[0] != "app" {
		t.Fatalf("myregistry catalog = %v", got)
	}
	if out, _ := emu.TryRunEnv(t, sp, crane, "catalog", other); len(strings.Fields(out)) != 1 || strings.Fields(out)[0] != "mirror/app" {
		got := strings.Fields(out)
		t.Fatalf("otherregistry catalog = %v", got)
	}
	if !strings.Contains(emu.Logs(), "otherregistry") || !strings.Contains(emu.Logs(), "login server "+other) {
		t.Fatalf("startup output does not list otherregistry at %s:\n%s", other, emu.Logs())
	}
}
