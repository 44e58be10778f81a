package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// networkWorld: myregistry (firewall: default Deny, one office IP allowed) and lockedregistry
// (public access disabled); origins office (allowed IP), cafe (other IP) and corpvnet (private
// endpoints to both registries).
func networkWorld(t *testing.T) (path string, ports map[string]string) {
	t.Helper()
	ports = map[string]string{}
	for _, n := range []string{"locked", "office", "cafe", "corpvnet"} {
		_, ports[n], _ = strings.Cut(harness.FreeAddr(t), ":")
	}
	w := fmt.Sprintf(`tenantId: 11111111-1111-1111-1111-111111111111
subscriptionId: 22222222-2222-2222-2222-222222222222
resourceGroup: demo-rg
location: eastus
registries:
  - name: myregistry
    adminUserEnabled: true
    adminPassword: acr-emulator-admin-password
    networkRuleSet: {defaultAction: Deny, ipRules: [198.51.100.0/28]}
  - name: lockedregistry
    port: %s
    adminUserEnabled: true
    adminPassword: acr-emulator-admin-password
    publicNetworkAccess: Disabled
origins:
  - {name: office, ip: 198.51.100.7, port: %s}
  - {name: cafe, ip: 203.0.113.50, port: %s}
  - {name: corpvnet, ip: 20.0.0.9, privateEndpoints: [myregistry, lockedregistry], port: %s}
`, ports["locked"], ports["office"], ports["cafe"], ports["corpvnet"])
	path = filepath.Join(t.TempDir(), "world.yaml")
	if err := os.WriteFile(path, []byte(w), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, ports
}

// viaOrigin is a client environment that goes through a named origin's proxy and logs in to
// the registries by their real-looking names.
func viaOrigin(t *testing.T, emu *harness.Emulator, port string, registries ...string) []string {
	env := emu.AnonymousEnv(t)
	auth := base64.StdEncoding.EncodeToString([]byte(harness.AdminUser + ":" + harness.AdminPassword))
	auths := []string{}
	for _, r := range registries {
		a := base64.StdEncoding.EncodeToString([]byte(r + ":" + harness.AdminPassword))
		if r == "myregistry" {
			a = auth
		}
		auths = append(auths, fmt.Sprintf("%q:{\"auth\":%q}", r+".azurecr.io", a))
	}
	writeDockerConfig(t, env, `{"auths":{`+strings.Join(auths, ",")+`}}`)
	return append(env, "HTTPS_PROXY=http://127.0.0.1:"+port)
}

func TestNetworkRules(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	world, ports := networkWorld(t)
	emu := harness.Start(t, harness.WithArgs("--config", world))
	src := t.TempDir()
	want := writeLayout(t, src, 1)

	// From this machine (127.0.0.1, not in ipRules): 403 DENIED naming the IP, on the very
	// first request, before any authentication.
	out, err := emu.TryRun(t, crane, "push", src, emu.RegistryHost()+"/net/app:v1")
	if err == nil || !strings.Contains(out, "DENIED: client with IP '127.0.0.1' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.") {
		t.Fatalf("direct push: err=%v\n%s", err, out)
	}
	// From the office (its IP is in ipRules): allowed, via the real-looking name.
	office := viaOrigin(t, emu, ports["office"], "myregistry", "lockedregistry")
	if out, err := emu.TryRunEnv(t, office, crane, "push", src, "myregistry.azurecr.io/net/app:v1"); err != nil {
		t.Fatalf("push from the office: %v\n%s", err, out)
	}
	// From a café: denied with the café's IP.
	cafe := viaOrigin(t, emu, ports["cafe"], "myregistry")
	out, err = emu.TryRunEnv(t, cafe, crane, "digest", "myregistry.azurecr.io/net/app:v1")
	if err == nil || !strings.Contains(out, "client with IP '203.0.113.50' is not allowed access") {
		t.Fatalf("café pull: err=%v\n%s", err, out)
	}
	// From the VNet through its private endpoint: allowed, even where public access is disabled.
	vnet := viaOrigin(t, emu, ports["corpvnet"], "myregistry", "lockedregistry")
	if out, err := emu.TryRunEnv(t, vnet, crane, "digest", "myregistry.azurecr.io/net/app:v1"); err != nil || strings.TrimSpace(out) != want.String() {
		t.Fatalf("VNet pull: %v\n%s", err, out)
	}
	if out, err := emu.TryRunEnv(t, vnet, crane, "copy", "myregistry.azurecr.io/net/app:v1", "lockedregistry.azurecr.io/net/app:v1"); err != nil {
		t.Fatalf("VNet copy into the locked registry: %v\n%s", err, out)
	}
	// Public access disabled overrides the office's good IP.
	out, err = emu.TryRunEnv(t, office, crane, "digest", "lockedregistry.azurecr.io/net/app:v1")
	if err == nil || !strings.Contains(out, "client with IP '198.51.100.7' is not allowed access") {
		t.Fatalf("office pull from the locked registry: err=%v\n%s", err, out)
	}

	// X-Forwarded-For changes nothing.
	client := sdkClientOptions(t, emu).Transport.(*http.Client)
	req, _ := http.NewRequest("GET", "https://"+emu.RegistryHost()+"/v2/", nil)
	req.Header.Set("X-Forwarded-For", "198.51.100.7")
	req.Header.Set("X-Real-IP", "198.51.100.7")
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var denied struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	_ = json.NewDecoder(res.Body).Decode(&denied)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || len(denied.Errors) != 1 || denied.Errors[0].Code != "DENIED" ||
		denied.Errors[0].Message != "client with IP '127.0.0.1' is not allowed access. Refer https://aka.ms/acr/firewall to grant access." {
		t.Fatalf("spoofed X-Forwarded-For: %d %+v", res.StatusCode, denied)
	}
	// /oauth2/token is gated too.
	res, err = client.Get("https://" + emu.RegistryHost() + "/oauth2/token?service=x")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("/oauth2/token from a denied IP: %d", res.StatusCode)
	}

	// The audit names origin, IP, principal and the deciding rule.
	res, err = http.Get("http://" + emu.HTTPAddr + "/_emulator/audit?registry=myregistry")
	if err != nil {
		t.Fatal(err)
	}
	var audit struct {
		Entries []struct {
			Origin, ClientIP, Principal, Decision, Rule, Path string
		} `json:"entries"`
	}
	_ = json.NewDecoder(res.Body).Decode(&audit)
	res.Body.Close()
	seen := map[string]bool{}
	for _, e := range audit.Entries {
		seen[e.Origin+"/"+e.Decision+"/"+e.Rule] = true
		if e.Origin == "office" && e.Decision == "allowed" && strings.HasPrefix(e.Path, "/v2/net/app/manifests") && e.Principal != "admin user myregistry" {
			t.Errorf("office manifest push audited without its principal: %+v", e)
		}
	}
	for _, want := range []string{"internet/denied/default-action-deny", "office/allowed/ip-rule", "cafe/denied/default-action-deny", "corpvnet/allowed/private-endpoint"} {
		if !seen[want] {
			t.Errorf("audit lacks %s; has %v", want, seen)
		}
	}
	res, err = http.Get("http://" + emu.HTTPAddr + "/_emulator/audit?registry=lockedregistry&decision=denied")
	if err != nil {
		t.Fatal(err)
	}
	audit.Entries = nil
	_ = json.NewDecoder(res.Body).Decode(&audit)
	res.Body.Close()
	if len(audit.Entries) == 0 || audit.Entries[0].Rule != "public-network-access-disabled" || audit.Entries[0].ClientIP != "198.51.100.7" {
		t.Fatalf("locked registry denials: %+v", audit.Entries)
	}
}
