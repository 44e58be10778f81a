package emulator_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestImportBetweenRestrictedRegistries(t *testing.T) {
	w := world.Default()
	w.Registries = append(w.Registries, world.Registry{Name: "sourceregistry", SKU: "Premium", AdminUserEnabled: true, AdminPassword: "src-pass", Port: 1})
	emu := emulatortest.New(t, emulatortest.WithWorld(w))
	arm := armClient(t, emu)
	src := emu.Registry("sourceregistry").Host
	img, _ := random.Image(1024, 2)
	ref, _ := name.ParseReference(src + "/library/hello:v1")
	if err := remote.Write(ref, img, remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: "sourceregistry", Password: "src-pass"})); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	srcID := rg + "/providers/Microsoft.ContainerRegistry/registries/sourceregistry"
	dstID := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	for _, id := range []string{srcID, dstID} {
		if status, out := arm("PATCH", id, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled"}}); status != 200 {
			t.Fatalf("lock %s: %d %v", id, status, out)
		}
	}
	// importImage answers 202; its Location tells the outcome.
	importImage := func(body map[string]any) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", emu.HTTPSURL()+dstID+"/importImage?api-version=2025-11-01", strings.NewReader(mustJSON(body)))
		res := doARM(t, emu, req)
		if res.StatusCode != http.StatusAccepted || res.Header.Get("Location") == "" {
			t.Fatalf("importImage: %d", res.StatusCode)
		}
		loc := res.Header.Get("Location")
		return arm("GET", loc[strings.Index(loc, "/subscriptions"):strings.Index(loc, "?")], nil)
	}
	body := map[string]any{"source": map[string]any{"resourceId": srcID, "sourceImage": "library/hello:v1"},
		"targetTags": []string{"imported/hello:v1"}, "untaggedTargetRepositories": []string{"imported/untagged"}, "mode": "NoForce"}
	if status, out := importImage(body); status != 200 {
		t.Fatalf("import: %d %v", status, out)
	}
	tag, err := emu.Store().GetTag("myregistry", "imported/hello", "v1")
	if err != nil || tag == nil || tag.Digest.String() != want.String() {
		t.Fatalf("imported tag = %+v, %v", tag, err)
	}
	if m, _ := emu.Store().GetManifest("myregistry", "imported/untagged", tag.Digest); m == nil {
		t.Fatal("untagged target repository lacks the manifest")
	}
	status, out := importImage(body)
	if status != 400 || get(out, "error", "code") != "InvalidParameters" || !strings.Contains(get(out, "error", "message").(string), "already exists") {
		t.Fatalf("NoForce over an existing tag: %d %v", status, out)
	}
	body["mode"] = "Force"
	if status, out := importImage(body); status != 200 {
		t.Fatalf("Force: %d %v", status, out)
	}
	// Export disabled on the source (Premium, public access disabled): no import from it, and
	// nothing written; enabled again, import works.
	if status, out := arm("PATCH", srcID, map[string]any{"properties": map[string]any{"policies": map[string]any{"exportPolicy": map[string]any{"status": "disabled"}}}}); status != 200 ||
		get(out, "properties", "policies", "exportPolicy", "status") != "disabled" {
		t.Fatalf("export off: %d %v", status, out)
	}
	body["targetTags"] = []string{"imported/blocked:v1"}
	status, out = importImage(body)
	if status != 400 || get(out, "error", "code") != "ExportPolicyDisabled" || !strings.Contains(fmt.Sprint(get(out, "error", "message")), "'sourceregistry'") {
		t.Fatalf("import from an export-disabled registry: %d %v", status, out)
	}
	if tag, _ := emu.Store().GetTag("myregistry", "imported/blocked", "v1"); tag != nil {
		t.Fatal("a refused import wrote a tag")
	}
	// Public access cannot come back while export is disabled.
	if status, out := arm("PATCH", srcID, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Enabled"}}); status != 400 ||
		get(out, "error", "code") != "ExportPolicyRequiresPublicNetworkAccessDisabled" {
		t.Fatalf("public access with export disabled: %d %v", status, out)
	}
	if status, out := arm("PATCH", srcID, map[string]any{"properties": map[string]any{"policies": map[string]any{"exportPolicy": map[string]any{"status": "Enabled"}}}}); status != 200 {
		t.Fatalf("export on: %d %v", status, out)
	}
	if status, out := importImage(body); status != 200 {
		t.Fatalf("import after export is enabled again: %d %v", status, out)
	}
	// With trusted services off on the source, import is refused with the registry's text.
	if status, out := arm("PATCH", srcID, map[string]any{"properties": map[string]any{"networkRuleBypassOptions": "None"}}); status != 200 {
		t.Fatalf("bypass off: %d %v", status, out)
	}
	status, out = importImage(body)
	msg, _ := get(out, "error", "message").(string)
	if status != 400 || get(out, "error", "code") != "Forbidden" || !strings.Contains(msg, "denied: client with IP") {
		t.Fatalf("import with the source's bypass off: %d %v", status, out)
	}
}
