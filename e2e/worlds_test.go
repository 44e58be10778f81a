package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
	"github.com/acr-emulator/acr-emulator/emulator/world"
)

// The example worlds of scenarios/worlds, each started from its file as the README says and
// exercised with real clients against the binary.

// exampleWorlds are the tests of scenarios/worlds/*.yaml, by file name.
var exampleWorlds = map[string]func(t *testing.T, file string){
	"multiarch-images.yaml":        testMultiarchImagesWorld,
	"locked-private-endpoint.yaml": testLockedPrivateEndpointWorld,
	"firewall-office-ips.yaml":     testFirewallWorld,
	"cross-registry-tasks.yaml":    testCrossRegistryTasksWorld,
	"trusted-services-aci.yaml":    testTrustedServicesACIWorld,
	"artifact-cache-trusted.yaml":  testArtifactCacheWorld,
}

func TestWorlds(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(mustRoot(t), "scenarios", "worlds", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example worlds: %v", err)
	}
	for _, f := range files {
		test, ok := exampleWorlds[filepath.Base(f)]
		if !ok {
			t.Errorf("%s has no test: add one to exampleWorlds", filepath.Base(f))
			continue
		}
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) { test(t, f) })
	}
}

// declaredImage is an image a world file preloads, with the digest it declares.
type declaredImage struct{ registry, ref, digest string }

func declaredImages(t *testing.T, file string) []declaredImage {
	t.Helper()
	w, err := world.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []declaredImage
	for _, r := range w.Registries {
		for _, img := range r.Images {
			if img.Digest == "" {
				t.Fatalf("%s: %s/%s declares no digest", file, r.Name, img.Repository)
			}
			out = append(out, declaredImage{r.Name, img.Repository + ":" + img.Tags[0], img.Digest})
		}
	}
	return out
}

// originProxies reads the named origins' proxy URLs from /_emulator/state.
func originProxies(t *testing.T, emu *harness.Emulator) map[string]string {
	t.Helper()
	res, err := http.Get("http://" + emu.HTTPAddr + "/_emulator/state")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var state struct {
		Origins []struct{ Name, ProxyURL string }
	}
	if err := json.NewDecoder(res.Body).Decode(&state); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, o := range state.Origins {
		out[o.Name] = o.ProxyURL
	}
	return out
}

// through is a client environment logged in to the registries (by their azurecr.io names and
// localhost) as their admin users, going through proxy ("" for none).
func through(t *testing.T, emu *harness.Emulator, proxy string, registries ...string) []string {
	t.Helper()
	env := emu.AnonymousEnv(t)
	var auths []string
	for _, r := range registries {
		a := base64.StdEncoding.EncodeToString([]byte(r + ":" + harness.AdminPassword))
		auths = append(auths, fmt.Sprintf("%q:{\"auth\":%q}", r+".azurecr.io", a))
		if r == "myregistry" {
			auths = append(auths, fmt.Sprintf("%q:{\"auth\":%q}", emu.RegistryHost(), a))
		}
	}
	writeDockerConfig(t, env, `{"auths":{`+strings.Join(auths, ",")+`}}`)
	if proxy != "" {
		env = append(env, "HTTPS_PROXY="+proxy)
	}
	return env
}

func craneDigest(t *testing.T, emu *harness.Emulator, env []string, ref string) (string, error) {
	t.Helper()
	out, err := emu.TryRunEnv(t, env, harness.Tool(t, "CRANE", "crane"), "digest", ref)
	return strings.TrimSpace(out), err
}

// The preloaded images pull with the digests the world declares; a reset brings them back
// after they are deleted; a snapshot saved with the CLI restarts with the same digests.
func testMultiarchImagesWorld(t *testing.T, file string) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t, harness.WithArgs("--config", file))
	host := emu.RegistryHost()
	for _, img := range declaredImages(t, file) {
		if got := emu.Run(t, crane, "digest", host+"/"+img.ref); strings.TrimSpace(got) != img.digest {
			t.Fatalf("%s: digest %s, declared %s", img.ref, got, img.digest)
		}
		emu.Run(t, crane, "validate", "--remote", host+"/"+img.ref)
	}
	var idx struct {
		Manifests []struct {
			Platform struct{ Architecture, Variant string }
		}
	}
	if err := json.Unmarshal([]byte(emu.Run(t, crane, "manifest", host+"/samples/hello:v1")), &idx); err != nil || len(idx.Manifests) != 3 || idx.Manifests[2].Platform.Variant != "v7" {
		t.Fatalf("samples/hello:v1 index: %v %+v", err, idx)
	}
	emu.Run(t, crane, "pull", "--platform", "linux/arm64", host+"/samples/hello:v1", filepath.Join(t.TempDir(), "hello.tar"))

	// Reset: the pushed image goes, the deleted preloaded one comes back.
	src := t.TempDir()
	writeLayout(t, src, 1)
	emu.Run(t, crane, "push", src, host+"/pushed/app:v1")
	hello := declaredImages(t, file)[0]
	emu.Run(t, crane, "delete", host+"/samples/hello@"+hello.digest)
	if _, err := emu.TryRun(t, crane, "digest", host+"/samples/hello:v1"); err == nil {
		t.Fatal("deleted image still there")
	}
	res, err := http.Post("http://"+emu.HTTPAddr+"/_emulator/reset", "", nil)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("reset: %v %v", res, err)
	}
	res.Body.Close()
	if got := strings.TrimSpace(emu.Run(t, crane, "digest", host+"/samples/hello:v1")); got != hello.digest {
		t.Fatalf("after reset: %s, want %s", got, hello.digest)
	}
	if _, err := emu.TryRun(t, crane, "digest", host+"/pushed/app:v1"); err == nil {
		t.Fatal("pushed image survived the reset")
	}

	// Snapshot: something pushed after the reset is in it too.
	emu.Run(t, crane, "copy", host+"/samples/tiny:1.0", host+"/copied/tiny:1.0")
	dir := filepath.Join(t.TempDir(), "demo")
	out := emu.Run(t, harness.Binary(t), "snapshot", "save", dir, "--emulator", "http://"+emu.HTTPAddr)
	if !strings.Contains(out, "Start from it with: acr-emulator --snapshot "+dir) {
		t.Fatalf("snapshot save: %s", out)
	}
	restarted := harness.Start(t, harness.WithArgs("--snapshot", dir))
	rhost := restarted.RegistryHost()
	for _, img := range append(declaredImages(t, file), declaredImage{"myregistry", "copied/tiny:1.0", declaredImages(t, file)[1].digest}) {
		if got := strings.TrimSpace(restarted.Run(t, crane, "digest", rhost+"/"+img.ref)); got != img.digest {
			t.Fatalf("from the snapshot: %s is %s, want %s", img.ref, got, img.digest)
		}
	}
}

// The locked registry refuses this machine, serves the VNet through its approved private
// endpoint, and the pending endpoint carries nothing.
func testLockedPrivateEndpointWorld(t *testing.T, file string) {
	emu := harness.Start(t, harness.WithArgs("--config", file))
	proxies := originProxies(t, emu)
	images := declaredImages(t, file)
	local := through(t, emu, "http://"+emu.ProxyAddr, "lockedregistry", "pendingregistry")
	out, err := craneDigest(t, emu, local, "lockedregistry.azurecr.io/app:v1")
	if err == nil || !strings.Contains(out, "DENIED: client with IP '127.0.0.1' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.") {
		t.Fatalf("from this machine: %v\n%s", err, out)
	}
	vnet := through(t, emu, proxies["corpvnet"], "lockedregistry", "pendingregistry")
	if got, err := craneDigest(t, emu, vnet, "lockedregistry.azurecr.io/app:v1"); err != nil || got != images[0].digest {
		t.Fatalf("from corpvnet: %v %s, want %s", err, got, images[0].digest)
	}
	if out, err := craneDigest(t, emu, vnet, "pendingregistry.azurecr.io/app:v1"); err == nil || !strings.Contains(out, "DENIED") {
		t.Fatalf("through the pending endpoint: %v\n%s", err, out)
	}
	// Approving the connection through ARM opens the way.
	conn := "/subscriptions/" + subscription + "/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/pendingregistry/privateEndpointConnections/corpvnet-pendingregistry?api-version=2025-11-01"
	if status, body := armCall(t, emu, http.MethodPut, conn, `{"properties":{"privateLinkServiceConnectionState":{"status":"Approved","description":"approved in the test"}}}`); status != http.StatusCreated {
		t.Fatalf("approve: %d %v", status, body)
	}
	if got, err := craneDigest(t, emu, vnet, "pendingregistry.azurecr.io/app:v1"); err != nil || got != images[1].digest {
		t.Fatalf("after approval: %v %s, want %s", err, got, images[1].digest)
	}
}

// Office IPs get in through the firewall; a café and this machine get ACR's 403 with their IP.
func testFirewallWorld(t *testing.T, file string) {
	emu := harness.Start(t, harness.WithArgs("--config", file))
	proxies := originProxies(t, emu)
	want := declaredImages(t, file)[0].digest
	if out, err := craneDigest(t, emu, through(t, emu, "", "myregistry"), emu.RegistryHost()+"/team/app:v1"); err == nil ||
		!strings.Contains(out, "client with IP '127.0.0.1' is not allowed access") {
		t.Fatalf("from this machine: %v\n%s", err, out)
	}
	for _, o := range []string{"office", "homeoffice"} {
		if got, err := craneDigest(t, emu, through(t, emu, proxies[o], "myregistry"), "myregistry.azurecr.io/team/app:v1"); err != nil || got != want {
			t.Fatalf("from %s: %v %s, want %s", o, err, got, want)
		}
	}
	if out, err := craneDigest(t, emu, through(t, emu, proxies["cafe"], "myregistry"), "myregistry.azurecr.io/team/app:v1"); err == nil ||
		!strings.Contains(out, "client with IP '192.0.2.50' is not allowed access") {
		t.Fatalf("from the café: %v\n%s", err, out)
	}
}

// The tasks of buildregistry pull from appregistry and push into it with their identities,
// both registries locked; the result is seen from the VNet.
func testCrossRegistryTasksWorld(t *testing.T, file string) {
	emu := harness.Start(t, harness.WithArgs("--config", file))
	reg := "/subscriptions/" + subscription + "/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/buildregistry"
	run := func(body string) map[string]any {
		t.Helper()
		status, out := armCall(t, emu, http.MethodPost, reg+"/scheduleRun?api-version=2019-06-01-preview", body)
		if status != http.StatusOK {
			t.Fatalf("scheduleRun: %d %v", status, out)
		}
		id := fmt.Sprint(out["name"])
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			_, out = armCall(t, emu, http.MethodGet, reg+"/runs/"+id+"?api-version=2019-06-01-preview", "")
			if p, _ := out["properties"].(map[string]any); p["status"] == "Succeeded" || p["status"] == "Failed" {
				return p
			}
		}
		t.Fatalf("run %s did not end: %v", id, out)
		return nil
	}
	if p := run(`{"type":"TaskRunRequest","taskId":"` + reg + `/tasks/pull-base"}`); p["status"] != "Succeeded" {
		t.Fatalf("pull-base: %v", p)
	}

	// build-app builds from an uploaded context, FROM the preloaded base image.
	status, up := armCall(t, emu, http.MethodPost, reg+"/listBuildSourceUploadUrl?api-version=2019-06-01-preview", "")
	if status != http.StatusOK {
		t.Fatalf("listBuildSourceUploadUrl: %d %v", status, up)
	}
	source := tarGzip(t, map[string]string{"Dockerfile": "FROM appregistry.azurecr.io/base/runtime:1.0\nCOPY app /app\n", "app": "the app"})
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprint(up["uploadUrl"]), bytes.NewReader(source))
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	res, err := localhostClient(t, emu).Do(req)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("upload the context: %v %v", res, err)
	}
	res.Body.Close()
	p := run(`{"type":"TaskRunRequest","taskId":"` + reg + `/tasks/build-app","overrideTaskStepProperties":{"contextPath":"` + fmt.Sprint(up["relativePath"]) + `"}}`)
	outputs, _ := p["outputImages"].([]any)
	if p["status"] != "Succeeded" || len(outputs) != 1 {
		t.Fatalf("build-app: %v", p)
	}
	o := outputs[0].(map[string]any)
	vnet := through(t, emu, originProxies(t, emu)["corpvnet"], "appregistry")
	if got, err := craneDigest(t, emu, vnet, fmt.Sprintf("appregistry.azurecr.io/%v:%v", o["repository"], o["tag"])); err != nil || got != o["digest"] {
		t.Fatalf("the built image from the VNet: %v %s, the run says %v", err, got, o["digest"])
	}
	if got, err := craneDigest(t, emu, vnet, "appregistry.azurecr.io/base/runtime:1.0"); err != nil || got != declaredImages(t, file)[0].digest {
		t.Fatalf("the base image: %v %s", err, got)
	}

	// The commands the world file's comments give, with the real az CLI.
	_, _, az := azLogin(t, emu)
	if out := az("acr", "task", "run", "-r", "buildregistry", "-n", "pull-base"); !strings.Contains(out, "Status: Downloaded newer image for appregistry.azurecr.io/base/runtime:1.0") {
		t.Fatalf("az acr task run pull-base:\n%s", out)
	}
	app := t.TempDir()
	os.WriteFile(filepath.Join(app, "Dockerfile"), []byte("FROM appregistry.azurecr.io/base/runtime:1.0\nCOPY app /app\n"), 0o644)
	os.WriteFile(filepath.Join(app, "app"), []byte("the app"), 0o644)
	if out := az("acr", "task", "run", "-r", "buildregistry", "-n", "build-app", "-c", app); !strings.Contains(out, "Successfully pushed image: appregistry.azurecr.io/app:") {
		t.Fatalf("az acr task run build-app:\n%s", out)
	}
}

// A container group pulls the preloaded image with the world's user-assigned identity through
// the locked registry, until trusted services are turned off.
func testTrustedServicesACIWorld(t *testing.T, file string) {
	emu := harness.Start(t, harness.WithArgs("--config", file))
	rg := "/subscriptions/" + subscription + "/resourceGroups/demo-rg"
	identity := rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/aci-puller"
	deploy := func(name string) map[string]any {
		t.Helper()
		status, out := armCall(t, emu, http.MethodPut, rg+"/providers/Microsoft.ContainerInstance/containerGroups/"+name+"?api-version=2023-05-01", fmt.Sprintf(`{
			"location":"eastus","identity":{"type":"UserAssigned","userAssignedIdentities":{%q:{}}},
			"properties":{"osType":"Linux","imageRegistryCredentials":[{"server":"myregistry.azurecr.io","identity":%q}],
			"containers":[{"name":"app","properties":{"image":"myregistry.azurecr.io/app:v1","resources":{"requests":{"cpu":1,"memoryInGB":1}}}}]}}`, identity, identity))
		if status != http.StatusOK && status != http.StatusCreated {
			t.Fatalf("PUT container group: %d %v", status, out)
		}
		return out["properties"].(map[string]any)
	}
	if p := deploy("app-trusted"); p["provisioningState"] != "Succeeded" {
		t.Fatalf("with trusted services on: %v", p)
	}
	if out, err := craneDigest(t, emu, through(t, emu, "http://"+emu.ProxyAddr, "myregistry"), "myregistry.azurecr.io/app:v1"); err == nil || !strings.Contains(out, "DENIED") {
		t.Fatalf("from this machine: %v\n%s", err, out)
	}
	if status, out := armCall(t, emu, http.MethodPatch, rg+"/providers/Microsoft.ContainerRegistry/registries/myregistry?api-version=2025-11-01",
		`{"properties":{"networkRuleBypassOptions":"None"}}`); status != http.StatusOK { // ACR answers a registry PATCH 200 (azure-cli recording test_acr_create_normal)
		t.Fatalf("trusted services off: %d %v", status, out)
	}
	if p := deploy("app-untrusted"); p["provisioningState"] != "Failed" || !strings.Contains(fmt.Sprint(p["instanceView"]), "is not allowed access") {
		t.Fatalf("with trusted services off: %v", p)
	}
}

// localhostClient trusts the emulator's CA and resolves *.localhost (run log and upload links)
// to loopback, as curl and browsers do.
func localhostClient(t *testing.T, emu *harness.Emulator) *http.Client {
	t.Helper()
	tr := sdkClientOptions(t, emu).Transport.(*http.Client).Transport.(*http.Transport).Clone()
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, port, err := net.SplitHostPort(addr); err == nil && strings.HasSuffix(host, ".localhost") {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
		return dialer.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

func tarGzip(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}
