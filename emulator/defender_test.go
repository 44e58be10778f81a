package emulator_test

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/fakes/defender"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// debianImage is a one-layer image with the files a scanner reads.
func debianImage(t *testing.T, extra string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range map[string]string{
		"etc/os-release":      "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
		"var/lib/dpkg/status": "Package: libc6\nStatus: install ok installed\n\nPackage: openssl\nStatus: install ok installed\n",
		"app/" + extra:        extra,
	} {
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body))})
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestDefenderScansPushes(t *testing.T) {
	emu := emulatortest.New(t)
	arm := armClient(t, emu)
	host := emu.Registry().Host
	u, p := emu.Admin()
	push := func(tag, extra string) v1.Hash {
		t.Helper()
		img := debianImage(t, extra)
		ref, _ := name.ParseReference(host + "/scan/app:" + tag)
		if err := remote.Write(ref, img, remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: u, Password: p})); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		return d
	}
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	results := func(want int) []any {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			_, out := arm("GET", reg+"/providers/Microsoft.Security/assessments/"+defender.AssessmentKey+"/subAssessments", nil)
			if vals, _ := out["value"].([]any); len(vals) >= want {
				return vals
			}
		}
		t.Fatalf("fewer than %d scan results after 10s", want)
		return nil
	}

	push("before", "a") // the plan is off: no scan
	if status, out := arm("PUT", "/subscriptions/22222222-2222-2222-2222-222222222222/providers/Microsoft.Security/pricings/Containers",
		map[string]any{"properties": map[string]any{"pricingTier": "Standard"}}); status != 200 || get(out, "properties", "pricingTier") != "Standard" {
		t.Fatalf("enable Defender: %d %v", status, out)
	}
	d := push("v1", "b")
	vals := results(1)
	if len(vals) != 1 {
		t.Fatalf("a push before the plan was on was scanned: %v", vals)
	}
	first, _ := vals[0].(map[string]any)
	if get(first, "properties", "status", "code") != "Healthy" || get(first, "properties", "additionalData", "imageDigest") != d.String() ||
		get(first, "properties", "additionalData", "operatingSystem") != "Debian GNU/Linux 12 (bookworm)" ||
		len(get(first, "properties", "additionalData", "packages").([]any)) != 2 {
		t.Fatalf("scan result = %v", first)
	}

	// A firewall that lets this machine push, with trusted services off: Defender's scan is
	// refused.
	if status, out := arm("PATCH", reg, map[string]any{"properties": map[string]any{"networkRuleBypassOptions": "None",
		"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": []any{map[string]string{"value": "127.0.0.1"}}}}}); status != 200 {
		t.Fatalf("firewall: %d %v", status, out)
	}
	push("v2", "c")
	vals = results(2)
	second, _ := vals[1].(map[string]any)
	desc, _ := get(second, "properties", "status", "description").(string)
	if get(second, "properties", "status", "code") != "NotApplicable" || !strings.Contains(desc, "denied: client with IP '20.0.0.6' is not allowed access") {
		t.Fatalf("blocked scan = %v", second)
	}
	// Trusted services on again: the scan passes the firewall.
	if status, out := arm("PATCH", reg, map[string]any{"properties": map[string]any{"networkRuleBypassOptions": "AzureServices"}}); status != 200 {
		t.Fatalf("bypass on: %d %v", status, out)
	}
	push("v3", "d")
	vals = results(3)
	if third, _ := vals[2].(map[string]any); get(third, "properties", "status", "code") != "Healthy" {
		t.Fatalf("scan with trusted services on = %v", third)
	}
}
