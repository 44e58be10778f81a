package e2e

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// cacheWorld: myregistry caches hello from a loopback registry (crane registry serve) and
// app from the emulator's upstreamreg with a credential set whose Key Vault secrets hold
// upstreamreg's admin user.
const cacheWorld = cacheWorldHead + `    cacheRules:
      - {name: hello-cache, sourceRepository: "%s/library/hello", targetRepository: hello}
      - {name: private-app, sourceRepository: upstreamreg.azurecr.io/private/app, targetRepository: app, credentialSet: upstream-creds}
  - name: upstreamreg
    port: %s
    adminUserEnabled: true
    adminPassword: upstream-admin-pass
    images:
      - repository: private/app
        tags: [v1]
        generate: {layers: 2, layerSize: 4KiB, seed: cache/app}
servicePrincipals:
  - name: acr-emulator-sp
    clientId: 33333333-3333-3333-3333-333333333333
    objectId: 44444444-4444-4444-4444-444444444444
    secret: acr-emulator-client-secret
roleAssignments:
  - {principal: acr-emulator-sp, role: Owner, scope: subscription}
`

// serveUpstream runs crane's registry on a loopback port until the test ends (or stop).
func serveUpstream(t *testing.T, crane string) (addr string, stop func()) {
	t.Helper()
	addr = harness.FreeAddr(t)
	cmd := exec.Command(crane, "registry", "serve", "--address", addr)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	}
	t.Cleanup(stop)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if res, err := http.Get("http://" + addr + "/v2/"); err == nil {
			res.Body.Close()
			return addr, stop
		}
		if time.Now().After(deadline) {
			t.Fatalf("crane registry serve did not come up on %s", addr)
		}
	}
}

// TestArtifactCache pulls through cache rules with crane and oras from the built binary: the
// first pull fills the cache from a loopback registry, later pulls are served without it;
// with the firewall on, the cache fills only while trusted services are allowed, and cached
// images are served either way; a rule with a credential set reads another registry of the
// emulator with the Key Vault secrets' credentials; a rule created through ARM works alike.
func TestArtifactCache(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	oras := harness.Tool(t, "ORAS", "oras")
	upstream, stopUpstream := serveUpstream(t, crane)
	src := t.TempDir()
	want := writeLayout(t, src, 2)
	if out, err := exec.Command(crane, "push", src, upstream+"/library/hello:v1").CombinedOutput(); err != nil {
		t.Fatalf("push to the upstream: %v\n%s", err, out)
	}
	writeLayout(t, filepath.Join(src, "v2"), 1)
	if out, err := exec.Command(crane, "push", filepath.Join(src, "v2"), upstream+"/library/hello:v2").CombinedOutput(); err != nil {
		t.Fatalf("push v2 to the upstream: %v\n%s", err, out)
	}
	upPort := strings.TrimPrefix(harness.FreeAddr(t), "127.0.0.1:")
	file := filepath.Join(t.TempDir(), "world.yaml")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(cacheWorld, upstream, upPort)), 0o600); err != nil {
		t.Fatal(err)
	}
	emu := harness.Start(t, harness.WithArgs("--config", file))
	reg := emu.RegistryHost()

	// The first pull fills the cache; the digest is the upstream's.
	if got := strings.TrimSpace(emu.Run(t, crane, "digest", reg+"/hello:v1")); got != want.String() {
		t.Fatalf("digest through the cache = %s, want %s", got, want)
	}
	if !strings.Contains(emu.Logs(), "artifact cache filled") {
		t.Fatalf("no cache fill logged:\n%s", emu.Logs())
	}
	emu.Run(t, crane, "pull", reg+"/hello:v1", filepath.Join(t.TempDir(), "hello.tar"))
	// Cached: served with the upstream gone, and listed like any repository.
	stopUpstream()
	emu.Run(t, crane, "pull", reg+"/hello:v1", filepath.Join(t.TempDir(), "again.tar"))
	if tags := emu.Run(t, crane, "ls", reg+"/hello"); strings.TrimSpace(tags) != "v1" {
		t.Fatalf("tags of the cached repository: %q", tags)
	}
	// A miss with the upstream gone is the cache's 424.
	if out, err := emu.TryRun(t, crane, "digest", reg+"/hello:v2"); err == nil || !strings.Contains(out, "for cache rule 'hello-cache'") {
		t.Fatalf("a miss with the upstream down: err=%v\n%s", err, out)
	}

	// Firewall on (only this machine's IP), trusted services off: cached images are served, a
	// miss cannot be filled; trusted services on: it is.
	regPath := "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry?api-version=2025-11-01"
	patch := func(bypass string) {
		t.Helper()
		if status, body := armCall(t, emu, "PATCH", regPath, `{"properties":{"networkRuleSet":{"defaultAction":"Deny","ipRules":[{"action":"Allow","value":"127.0.0.1"}]},`+
			`"networkRuleBypassOptions":"`+bypass+`"}}`); status != http.StatusOK {
			t.Fatalf("PATCH registry: %d %v", status, body)
		}
	}
	patch("None")
	emu.Run(t, crane, "pull", reg+"/hello:v1", filepath.Join(t.TempDir(), "locked.tar"))
	out, err := emu.TryRun(t, crane, "digest", reg+"/app:v1")
	if err == nil || !strings.Contains(out, "DENIED") || !strings.Contains(out, "cache rule 'private-app' cannot populate the cache") {
		t.Fatalf("a miss with trusted services off: err=%v\n%s", err, out)
	}
	if audit := strings.ReplaceAll(httpGet(t, "http://"+emu.HTTPAddr+"/_emulator/audit?registry=myregistry&decision=denied"), " ", ""); !strings.Contains(audit, `"origin":"artifactcache"`) ||
		!strings.Contains(audit, `"rule":"default-action-deny"`) {
		t.Fatalf("the audit lacks the cache's denial:\n%s", audit)
	}
	patch("AzureServices")
	appDigest := strings.TrimSpace(emu.Run(t, crane, "digest", reg+"/app:v1"))
	if !strings.HasPrefix(appDigest, "sha256:") {
		t.Fatalf("the credential-set rule: %q", appDigest)
	}

	// A rule created through ARM, pulled with oras.
	rule := strings.Replace(regPath, "?api-version", "/cacheRules/arm-rule?api-version", 1)
	if status, body := armCall(t, emu, "PUT", rule, `{"properties":{"sourceRepository":"upstreamreg.azurecr.io/private/*","targetRepository":"mirror/*",`+
		`"credentialSetResourceId":"/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry/credentialSets/upstream-creds"}}`); status != http.StatusCreated {
		t.Fatalf("PUT cache rule: %d %v", status, body)
	}
	if out := emu.Run(t, oras, "manifest", "fetch", "--descriptor", reg+"/mirror/app:v1"); !strings.Contains(out, appDigest) {
		t.Fatalf("oras through the wildcard rule: %s, want %s", out, appDigest)
	}
}

// TestScenarioArtifactCache runs `acr-emulator scenario run artifact-cache-trusted` twice
// (its cleanup lets it run again) and checks the narration shows both outcomes.
func TestScenarioArtifactCache(t *testing.T) {
	bin := harness.Binary(t)
	emu := harness.Start(t)
	for run := 1; run <= 2; run++ {
		out, err := emu.TryRun(t, bin, "scenario", "run", "artifact-cache-trusted", "--emulator", "https://"+emu.RegistryHost(), "--ca", emu.CAFile)
		for _, want := range []string{"firewall allows only 127.0.0.1", "403 DENIED: cache rule 'scenario-cache' cannot populate the cache",
			"PASS artifact-cache-trusted (6 steps)", "1 passed, 0 failed"} {
			if err != nil || !strings.Contains(out, want) {
				t.Fatalf("run %d (want %q): %v\n%s", run, want, err, out)
			}
		}
	}
}

// cacheWorldHead is what both cache worlds start with: the Key Vault secrets holding
// upstreamreg's admin user, and myregistry with a credential set reading them.
const cacheWorldHead = `
keyVaultSecrets:
  - {id: "https://cachevault.vault.azure.net/secrets/upstream-user", value: upstreamreg}
  - {id: "https://cachevault.vault.azure.net/secrets/upstream-pass", value: upstream-admin-pass}
registries:
  - name: myregistry
    adminUserEnabled: true
    adminPassword: acr-emulator-admin-password
    credentialSets:
      - name: upstream-creds
        loginServer: upstreamreg.azurecr.io
        usernameSecretIdentifier: https://cachevault.vault.azure.net/secrets/upstream-user
        passwordSecretIdentifier: https://cachevault.vault.azure.net/secrets/upstream-pass
`

// dockerCacheWorld: myregistry caches a multi-platform image of upstreamreg through a
// wildcard rule with a credential set.
const dockerCacheWorld = cacheWorldHead + `    cacheRules:
      - {name: upstream-all, sourceRepository: "upstreamreg.azurecr.io/*", targetRepository: "up/*", credentialSet: upstream-creds}
  - name: upstreamreg
    port: %s
    adminUserEnabled: true
    adminPassword: upstream-admin-pass
    images:
      - repository: multi/app
        tags: [v1]
        generate: {layers: 2, layerSize: 8KiB, platforms: [linux/amd64, linux/arm64], seed: cache/multi}
`

// TestArtifactCacheDocker pulls a multi-platform image through a wildcard cache rule with a
// real docker daemon: the index and its children are cached, and a second pull (the image
// removed locally) is served from the cache.
func TestArtifactCacheDocker(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	dk := harness.StartDocker(t)
	file := filepath.Join(t.TempDir(), "world.yaml")
	port := strings.TrimPrefix(harness.FreeAddr(t), "127.0.0.1:")
	if err := os.WriteFile(file, []byte(fmt.Sprintf(dockerCacheWorld, port)), 0o600); err != nil {
		t.Fatal(err)
	}
	emu := harness.Start(t, harness.WithArgs("--config", file))
	ref := emu.RegistryHost() + "/up/multi/app:v1"
	dk.Run(t, "login", emu.RegistryHost(), "-u", harness.AdminUser, "-p", harness.AdminPassword)
	pull := dk.Run(t, "pull", ref)
	index := strings.TrimSpace(emu.Run(t, crane, "digest", ref))
	if !strings.Contains(pull, index) {
		t.Fatalf("docker pull reported no digest %s:\n%s", index, pull)
	}
	up := emu.AnonymousEnv(t)
	if out, err := emu.TryRunEnv(t, up, crane, "auth", "login", "localhost:"+port, "-u", "upstreamreg", "-p", "upstream-admin-pass"); err != nil {
		t.Fatalf("login to upstreamreg: %v\n%s", err, out)
	}
	upstream, err := emu.TryRunEnv(t, up, crane, "digest", "--platform", "linux/arm64", "localhost:"+port+"/multi/app:v1")
	if err != nil {
		t.Fatalf("upstream digest: %v\n%s", err, upstream)
	}
	upstream = strings.TrimSpace(upstream)
	cached := strings.TrimSpace(emu.Run(t, crane, "digest", "--platform", "linux/arm64", ref))
	if upstream == "" || cached != upstream {
		t.Fatalf("the arm64 child: cached %q, upstream %q", cached, upstream)
	}
	fills := strings.Count(emu.Logs(), "artifact cache filled")
	dk.Run(t, "rmi", ref)
	if pull := dk.Run(t, "pull", ref); !strings.Contains(pull, index) {
		t.Fatalf("second docker pull:\n%s", pull)
	}
	if n := strings.Count(emu.Logs(), "artifact cache filled"); n != fills {
		t.Fatalf("the second pull filled the cache again (%d fills, then %d)", fills, n)
	}
}

// testArtifactCacheWorld (TestWorlds): the firewalled registry fills its cache from
// upstreamreg while trusted services are allowed; off, a miss is refused and the cached
// image is still served.
func testArtifactCacheWorld(t *testing.T, file string) {
	emu := harness.Start(t, harness.WithArgs("--config", file))
	local := through(t, emu, "http://"+emu.ProxyAddr, "myregistry") // as this machine, by the registry's name
	upstream, err := craneDigest(t, emu, through(t, emu, "http://"+emu.ProxyAddr, "upstreamreg"), "upstreamreg.azurecr.io/base/image:v1")
	if err != nil {
		t.Fatalf("the upstream: %v\n%s", err, upstream)
	}
	ref := "myregistry.azurecr.io/cached/image"
	if got, err := craneDigest(t, emu, local, ref+":v1"); err != nil || got != upstream {
		t.Fatalf("through the cache: %v %s, want %s", err, got, upstream)
	}
	if status, out := armCall(t, emu, http.MethodPatch, "/subscriptions/"+subscription+"/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry?api-version=2025-11-01",
		`{"properties":{"networkRuleBypassOptions":"None"}}`); status != http.StatusOK {
		t.Fatalf("trusted services off: %d %v", status, out)
	}
	if out, err := craneDigest(t, emu, local, ref+":v2"); err == nil || !strings.Contains(out, "cache rule 'upstream-base' cannot populate the cache") {
		t.Fatalf("a miss with trusted services off: %v\n%s", err, out)
	}
	if got, err := craneDigest(t, emu, local, ref+":v1"); err != nil || got != upstream {
		t.Fatalf("the cached image: %v %s", err, got)
	}
}
