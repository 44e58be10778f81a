package e2e

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

const mtSchema1Signed = "application/vnd.docker.distribution.manifest.v1+prettyjws"

// schema1Doc is the part of a signed schema 1 manifest the test reads.
type schema1Doc struct {
	SchemaVersion int    `json:"schemaVersion"`
	Name          string `json:"name"`
	Tag           string `json:"tag"`
	FSLayers      []struct {
		BlobSum string `json:"blobSum"`
	} `json:"fsLayers"`
	History    []json.RawMessage `json:"history"`
	Signatures []json.RawMessage `json:"signatures"`
}

// TestSchema1 runs Docker's schema 1 through real clients. The Azure SDK for Go asks for a
// schema 1 manifest of a schema 2 image by tag and gets ACR's signed rewrite, whose
// Docker-Content-Digest skopeo (containers/image, which strips the signatures as libtrust does)
// computes alike; by digest the stored schema 2 comes back. skopeo then pushes a schema 1
// manifest of its own (converted and signed client-side by containers/image) and pulls it back
// by tag and by digest, layers included.
func TestSchema1(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	skopeo := harness.Tool(t, "SKOPEO", "skopeo")
	emu := harness.Start(t)
	ctx := context.Background()
	host := emu.RegistryHost()
	const repo = "legacy/app"
	src := t.TempDir()
	v2Digest := writeLayout(t, src, 2) // a Docker schema 2 image with a history entry per layer
	emu.Run(t, crane, "push", src, host+"/"+repo+":v2")
	client, _ := sdkClients(t, emu)

	got, err := client.GetManifest(ctx, repo, "v2", &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(mtSchema1Signed)})
	if err != nil {
		t.Fatalf("GetManifest with Accept schema 1: %v", err)
	}
	body, _ := io.ReadAll(got.ManifestData)
	var doc schema1Doc
	if err := json.Unmarshal(body, &doc); err != nil || doc.SchemaVersion != 1 || doc.Name != repo || doc.Tag != "v2" ||
		len(doc.FSLayers) != 2 || len(doc.History) != 2 || len(doc.Signatures) != 1 {
		t.Fatalf("not ACR's schema 1 rewrite (%v):\n%s", err, body)
	}
	file := filepath.Join(t.TempDir(), "manifest.json")
	if err := os.WriteFile(file, body, 0o644); err != nil {
		t.Fatal(err)
	}
	rewritten := strings.TrimSpace(emu.Run(t, skopeo, "manifest-digest", file))
	if got.DockerContentDigest == nil || *got.DockerContentDigest != rewritten || rewritten == v2Digest.String() {
		t.Fatalf("Docker-Content-Digest %v; skopeo computes %s over the unsigned payload (schema 2: %s)", got.DockerContentDigest, rewritten, v2Digest)
	}

	byDigest, err := client.GetManifest(ctx, repo, v2Digest.String(), &azcontainerregistry.ClientGetManifestOptions{Accept: to.Ptr(mtSchema1Signed)})
	if err != nil {
		t.Fatalf("GetManifest by digest: %v", err)
	}
	verified, err := azcontainerregistry.NewDigestValidationReader(v2Digest.String(), byDigest.ManifestData)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(verified); err != nil || !strings.Contains(string(b), `"schemaVersion":2`) {
		t.Fatalf("by digest, the stored schema 2 manifest: %v\n%s", err, b)
	}

	emu.Run(t, skopeo, "copy", "--format", "v2s1", "docker://"+host+"/"+repo+":v2", "docker://"+host+"/"+repo+":s1")
	raw := emu.Run(t, skopeo, "inspect", "--raw", "docker://"+host+"/"+repo+":s1")
	doc = schema1Doc{}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil || doc.SchemaVersion != 1 || doc.Tag != "s1" || len(doc.Signatures) != 1 {
		t.Fatalf("skopeo inspect --raw of the pushed schema 1 (%v):\n%s", err, raw)
	}
	var inspect struct{ Digest string }
	if out := emu.Run(t, skopeo, "inspect", "docker://"+host+"/"+repo+":s1"); json.Unmarshal([]byte(out), &inspect) != nil || inspect.Digest == "" {
		t.Fatalf("skopeo inspect: %s", out)
	}
	props, err := client.GetManifestProperties(ctx, repo, inspect.Digest, nil)
	if err != nil || props.Manifest.MediaType == nil || *props.Manifest.MediaType != mtSchema1Signed {
		t.Fatalf("GetManifestProperties of the schema 1 push %s: %v %+v", inspect.Digest, err, props.Manifest)
	}
	// containers/image checks a manifest fetched by digest against that digest.
	emu.Run(t, skopeo, "inspect", "--raw", "docker://"+host+"/"+repo+"@"+inspect.Digest)
	dst := t.TempDir()
	emu.Run(t, skopeo, "copy", "docker://"+host+"/"+repo+":s1", "oci:"+dst)
	pulled, original := blobs(t, dst), blobs(t, src)
	layers := 0
	for _, l := range doc.FSLayers {
		name := strings.Replace(l.BlobSum, ":", "/", 1)
		if _, ok := original[name]; ok && pulled[name] != nil {
			layers++
		}
	}
	if layers != 2 {
		t.Fatalf("the layers of the schema 1 image did not come back intact: %d of %v", layers, doc.FSLayers)
	}
}
