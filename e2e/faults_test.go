package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/acr-emulator/acr-emulator/e2e/harness"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// faults posts fault rules to the running emulator.
func faults(t *testing.T, emu *harness.Emulator, rules string) {
	t.Helper()
	res, err := http.Post("http://"+emu.HTTPAddr+"/_emulator/faults", "application/json", strings.NewReader(rules))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		t.Fatalf("POST /_emulator/faults: %d %s", res.StatusCode, b.String())
	}
}

func faultsLeft(t *testing.T, emu *harness.Emulator) int {
	t.Helper()
	res, err := http.Get("http://" + emu.HTTPAddr + "/_emulator/faults")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct{ Faults []json.RawMessage }
	_ = json.NewDecoder(res.Body).Decode(&out)
	return len(out.Faults)
}

func consistent(t *testing.T, emu *harness.Emulator) {
	t.Helper()
	res, err := http.Get("http://" + emu.HTTPAddr + "/_emulator/check")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var c struct {
		Consistent bool
		Violations []map[string]any
	}
	if err := json.NewDecoder(res.Body).Decode(&c); err != nil || !c.Consistent {
		t.Fatalf("/_emulator/check: %v %+v", err, c)
	}
}

// Real clients meet injected faults as they would meet a flaky registry: they retry what is
// worth retrying, fail cleanly otherwise, and a failed upload leaves nothing half-written.
func TestFaults(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	ref := emu.RegistryHost() + "/flaky/app:v1"
	emu.Run(t, crane, "append", "-f", "/dev/null", "-t", ref)

	t.Run("crane retries 503", func(t *testing.T) {
		faults(t, emu, `{"registry":"myregistry","route":"manifests","status":503,"retryAfter":1,"count":2}`)
		emu.Run(t, crane, "digest", ref)
		if n := faultsLeft(t, emu); n != 0 {
			t.Fatalf("crane did not meet both faults: %d left", n)
		}
	})
	t.Run("crane fails cleanly on persistent 500s", func(t *testing.T) {
		faults(t, emu, `{"registry":"myregistry","route":"manifests","status":500,"count":20}`)
		out, err := emu.TryRun(t, crane, "digest", ref)
		if err == nil || !strings.Contains(out, "500 Internal Server Error") {
			t.Fatalf("crane with a failing registry: %v\n%s", err, out)
		}
		clearFaults(t, emu)
	})
	t.Run("an upload cut midway leaves no partial state", func(t *testing.T) {
		faults(t, emu, `{"registry":"myregistry","route":"uploads","cutUpload":true}`)
		big := filepath.Join(t.TempDir(), "layer.tar")
		img, _ := random.Image(1<<20, 1)
		tag, _ := name.NewTag("example.com/big:v1")
		if err := tarball.WriteToFile(big, tag, img); err != nil {
			t.Fatal(err)
		}
		broken := emu.RegistryHost() + "/flaky/broken:v1"
		if out, err := emu.TryRun(t, crane, "push", big, broken); err == nil {
			t.Fatalf("push through cut uploads succeeded:\n%s", out)
		}
		clearFaults(t, emu)
		if out, err := emu.TryRun(t, crane, "digest", broken); err == nil {
			t.Fatalf("a manifest of the failed push exists: %s", out)
		}
		consistent(t, emu)
		emu.Run(t, crane, "push", big, broken) // the same push, without the fault
		consistent(t, emu)
	})
	t.Run("the Azure SDK honours 429 Retry-After", func(t *testing.T) {
		faults(t, emu, `{"registry":"myregistry","route":"acr","status":429,"retryAfter":1,"count":1}`)
		opts := sdkClientOptions(t, emu)
		opts.Retry = policy.RetryOptions{} // the SDK's defaults: retries on 429 and 5xx, honouring Retry-After
		client, _ := sdkClientsWith(t, emu, opts)
		if _, err := client.GetRepositoryProperties(context.Background(), "flaky/app", nil); err != nil {
			t.Fatalf("GetRepositoryProperties through one 429: %v", err)
		}
		if n := faultsLeft(t, emu); n != 0 {
			t.Fatalf("the SDK did not meet the 429: %d left", n)
		}
		faults(t, emu, `{"registry":"myregistry","route":"acr","status":503,"count":50}`)
		_, err := client.GetRepositoryProperties(context.Background(), "flaky/app", nil)
		var re *azcore.ResponseError
		if !errors.As(err, &re) || re.StatusCode != 503 || !strings.Contains(err.Error(), `"code": "UNAVAILABLE"`) {
			t.Fatalf("persistent 503s: %v", err)
		}
		clearFaults(t, emu)
	})
	t.Run("docker retries a dropped connection", func(t *testing.T) {
		dk := harness.StartDocker(t)
		dk.Run(t, "login", emu.RegistryHost(), "-u", harness.AdminUser, "-p", harness.AdminPassword)
		faults(t, emu, `{"registry":"myregistry","method":"GET","route":"blobs","drop":true,"count":1}`)
		dk.Run(t, "pull", ref)
		if n := faultsLeft(t, emu); n != 0 {
			t.Fatalf("docker did not meet the dropped connection: %d left", n)
		}
	})
	consistent(t, emu)
}

func clearFaults(t *testing.T, emu *harness.Emulator) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, "http://"+emu.HTTPAddr+"/_emulator/faults", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
}
