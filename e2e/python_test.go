package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// python3 is Debian's interpreter, where python3-azure installs azure-containerregistry and
// azure-identity (a python3 earlier on PATH may be another installation without them).
func python3(t *testing.T) string {
	t.Helper()
	py := os.Getenv("PYTHON3")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if out, err := exec.Command(py, "-I", "-c", "import azure.containerregistry, azure.identity").CombinedOutput(); err != nil {
		t.Fatalf("%s cannot import the Azure SDK (apt-get install python3-azure, or set PYTHON3): %v\n%s", py, err, out)
	}
	return py
}

// runPython runs e2e/testdata/python/acr_sdk.py in one of its modes against the emulator; the
// script's assertions fail the test.
func runPython(t *testing.T, emu *harness.Emulator, env []string, args ...string) {
	t.Helper()
	py := python3(t)
	script, err := filepath.Abs(filepath.Join("testdata", "python", "acr_sdk.py"))
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + emu.RegistryHost()
	env = append(emu.AnonymousEnv(t), append([]string{
		"REQUESTS_CA_BUNDLE=" + emu.CAFile, "ACR_ENDPOINT=" + base, "AZURE_AUTHORITY_HOST=" + base,
		"AZURE_TENANT_ID=" + harness.TenantID, "AZURE_CLIENT_ID=" + harness.ClientID, "AZURE_CLIENT_SECRET=" + harness.ClientSecret,
	}, env...)...)
	out, err := emu.TryRunEnv(t, env, py, append([]string{"-I", script}, args...)...)
	if err != nil || !strings.Contains(out, "OK "+args[0]) {
		t.Fatalf("acr_sdk.py %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestPythonSDK drives the registry with the Azure SDK for Python (Debian's
// azure-containerregistry and azure-identity) signed in as the default world's service
// principal through the emulator's Entra ID: blob and manifest uploads, repositories, tags and
// manifests listed a page at a time, downloads checked against their digests, locks, deletes.
func TestPythonSDK(t *testing.T) {
	emu := harness.Start(t)
	runPython(t, emu, nil, "service-principal")
}

// TestPythonManagedIdentity signs the Python SDK in with ManagedIdentityCredential through the
// App Service protocol, as the default world's workstation (system-assigned) and as demo-identity
// (user-assigned), both AcrPush on myregistry.
func TestPythonManagedIdentity(t *testing.T) {
	emu := harness.Start(t)
	env := []string{"IDENTITY_ENDPOINT=http://" + emu.HTTPAddr + "/msi/token", "IDENTITY_HEADER=acr-emulator-identity-header"}
	runPython(t, emu, env, "managed-identity")
	runPython(t, emu, env, "managed-identity", "55555555-5555-5555-5555-555555555555")
}

// TestPythonSDKManifestNegotiation: this Python SDK's download_manifest accepts only OCI
// manifests, so a Docker schema 2 image (pushed by crane) comes back by tag as ACR's signed
// schema 1 rewrite, which azure-core cannot decode, and by digest as stored.
func TestPythonSDKManifestNegotiation(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	src := t.TempDir()
	d := writeLayout(t, src, 1)
	emu.Run(t, crane, "push", src, emu.RegistryHost()+"/py/docker:v1")
	runPython(t, emu, nil, "docker-image", "py/docker", "v1", d.String())
}

// TestPythonSDKLockedRegistry locks myregistry through ARM (public network access disabled)
// and checks the Python SDK surfaces ACR's 403 DENIED text.
func TestPythonSDKLockedRegistry(t *testing.T) {
	emu := harness.Start(t)
	if _, err := update(t, registriesClient(t, emu), "myregistry", armcontainerregistry.RegistryUpdateParameters{
		Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{
			PublicNetworkAccess: to.Ptr(armcontainerregistry.PublicNetworkAccessDisabled)}}); err != nil {
		t.Fatalf("disable public access: %v", err)
	}
	runPython(t, emu, nil, "locked")
}

// TestPythonReadmeSnippet runs the README's Python example (e2e/readme/python/readme.py, which
// TestReadmeBlocks holds the README to) as written, pointed at this test's emulator instead of
// localhost:8443.
func TestPythonReadmeSnippet(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	b, err := os.ReadFile(filepath.Join(mustRoot(t), "e2e", "readme", "python", "readme.py"))
	if err != nil {
		t.Fatal(err)
	}
	code := string(b)
	if !strings.Contains(code, "https://localhost:8443") {
		t.Fatal("the README's Python example (e2e/readme/python/readme.py) does not use https://localhost:8443")
	}
	emu := harness.Start(t)
	src := t.TempDir()
	writeLayout(t, src, 1)
	emu.Run(t, crane, "push", src, emu.RegistryHost()+"/readme/app:v1")
	script := filepath.Join(t.TempDir(), "readme.py")
	if err := os.WriteFile(script, []byte(strings.ReplaceAll(code, "https://localhost:8443", "https://"+emu.RegistryHost())), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := emu.TryRunEnv(t, append(emu.AnonymousEnv(t), "REQUESTS_CA_BUNDLE="+emu.CAFile), python3(t), "-I", script)
	if err != nil || strings.TrimSpace(out) != "['readme/app']" {
		t.Fatalf("the README's Python example: %v\n%s", err, out)
	}
}
