package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// dataEndpointWorld is the default world with myregistry's dedicated data endpoints on behind
// a firewall that lets this machine (127.0.0.1) and the office in, plus VNets with private
// endpoints to it: corpvnet, whose DNS has all its names, and halfdns, whose DNS has the login
// server's only (the data endpoint's record was left out of the zone).
func dataEndpointWorld(t *testing.T) (path string, ports map[string]string) {
	t.Helper()
	def, err := os.ReadFile(filepath.Join(mustRoot(t), "emulator/world/default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ports = map[string]string{}
	for _, o := range []string{"office", "cafe", "corpvnet", "halfdns"} {
		_, ports[o], _ = strings.Cut(harness.FreeAddr(t), ":")
	}
	body := strings.Replace(string(def), "    adminUserEnabled: true\n",
		"    adminUserEnabled: true\n    dataEndpointEnabled: true\n    networkRuleSet: {defaultAction: Deny, ipRules: [127.0.0.1, 198.51.100.7]}\n", 1)
	body += "  - {name: office, ip: 198.51.100.7, port: " + ports["office"] + "}\n" +
		"  - {name: cafe, ip: 203.0.113.50, port: " + ports["cafe"] + "}\n" +
		"  - {name: corpvnet, ip: 20.0.0.10, privateEndpoints: [myregistry], port: " + ports["corpvnet"] + "}\n" +
		"  - {name: halfdns, ip: 20.0.0.11, privateEndpoints: [myregistry], privateDnsRecords: [myregistry.azurecr.io], port: " + ports["halfdns"] + "}\n"
	path = filepath.Join(t.TempDir(), "world.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path, ports
}

// TestDataEndpointClients: with dedicated data endpoints, every client downloads layers from
// <registry>.<region>.data.azurecr.io after the login server's 307, directly (a path-style link
// on the host it called) and through an origin's proxy (the data endpoint's real name), and the
// data endpoint applies the registry's network rules. The failure users meet on Azure: a VNet
// whose DNS lacks the data endpoint's record pulls manifests but not layers.
func TestDataEndpointClients(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	oras := harness.Tool(t, "ORAS", "oras")
	regctl := harness.Tool(t, "REGCTL", "regctl")
	skopeo := harness.Tool(t, "SKOPEO", "skopeo")
	world, ports := dataEndpointWorld(t)
	emu := harness.Start(t, harness.WithArgs("--config", world))
	src := t.TempDir()
	want := writeLayout(t, src, 2)
	local := emu.RegistryHost() + "/dde/app:v1"
	emu.Run(t, crane, "push", src, local)

	// The login server redirects a blob GET to the data endpoint.
	manifest := emu.Run(t, crane, "manifest", local)
	var m struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	if err := json.Unmarshal([]byte(manifest), &m); err != nil || len(m.Layers) != 2 {
		t.Fatalf("manifest: %v\n%s", err, manifest)
	}

	office := viaOrigin(t, emu, ports["office"], "myregistry")
	pulls := []struct {
		who string
		env []string
		ref string
	}{{"this machine", emu.Env(t), local}, {"the office", office, "myregistry.azurecr.io/dde/app:v1"}}
	for _, p := range pulls {
		// Each of these reads every layer and checks its digest.
		if out, err := emu.TryRunEnv(t, p.env, crane, "pull", "--format", "oci", p.ref, filepath.Join(t.TempDir(), "crane")); err != nil {
			t.Errorf("crane pull from %s: %v\n%s", p.who, err, out)
		}
		if out, err := emu.TryRunEnv(t, p.env, oras, "cp", "--to-oci-layout", p.ref, filepath.Join(t.TempDir(), "oras")+":v1"); err != nil {
			t.Errorf("oras cp from %s: %v\n%s", p.who, err, out)
		}
		if out, err := emu.TryRunEnv(t, p.env, regctl, "image", "export", p.ref, filepath.Join(t.TempDir(), "regctl.tar")); err != nil {
			t.Errorf("regctl image export from %s: %v\n%s", p.who, err, out)
		}
		dst := filepath.Join(t.TempDir(), "skopeo")
		if out, err := emu.TryRunEnv(t, p.env, skopeo, "copy", "--preserve-digests", "docker://"+p.ref, "oci:"+dst); err != nil {
			t.Errorf("skopeo copy from %s: %v\n%s", p.who, err, out)
		} else if got := layoutManifest(t, dst); got != want {
			t.Errorf("skopeo from %s: digest %s, want %s", p.who, got, want)
		}
	}

	// A VNet with an approved private endpoint and all its names in DNS pulls privately.
	vnet := viaOrigin(t, emu, ports["corpvnet"], "myregistry")
	if out, err := emu.TryRunEnv(t, vnet, crane, "pull", "myregistry.azurecr.io/dde/app:v1", filepath.Join(t.TempDir(), "img.tar")); err != nil {
		t.Fatalf("pull from corpvnet: %v\n%s", err, out)
	}
	// halfdns reaches the login server privately, but resolves the data endpoint publicly,
	// where its outbound IP is not allowed: the manifest comes, the layers do not.
	half := viaOrigin(t, emu, ports["halfdns"], "myregistry")
	if out, err := emu.TryRunEnv(t, half, crane, "digest", "myregistry.azurecr.io/dde/app:v1"); err != nil || strings.TrimSpace(out) != want.String() {
		t.Fatalf("digest from halfdns: %v\n%s", err, out)
	}
	out, err := emu.TryRunEnv(t, half, crane, "pull", "myregistry.azurecr.io/dde/app:v1", filepath.Join(t.TempDir(), "img.tar"))
	if err == nil || !strings.Contains(out, "client with IP '20.0.0.11' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.") ||
		!strings.Contains(out, "myregistry.eastus.data.azurecr.io") {
		t.Fatalf("pull from halfdns: err=%v\n%s", err, out)
	}
	// The café is refused at the login server already.
	if out, err := emu.TryRunEnv(t, viaOrigin(t, emu, ports["cafe"], "myregistry"), crane, "digest", "myregistry.azurecr.io/dde/app:v1"); err == nil ||
		!strings.Contains(out, "client with IP '203.0.113.50' is not allowed access") {
		t.Fatalf("digest from the café: err=%v\n%s", err, out)
	}

	// The audit shows each path: the data endpoint's name, private endpoint addresses, the rule.
	res, err := http.Get("http://" + emu.HTTPAddr + "/_emulator/audit?registry=myregistry")
	if err != nil {
		t.Fatal(err)
	}
	var audit struct {
		Entries []struct{ Origin, ClientIP, Host, PrivateIP, Decision, Rule, Path string } `json:"entries"`
	}
	_ = json.NewDecoder(res.Body).Decode(&audit)
	res.Body.Close()
	seen := map[string]bool{}
	for _, e := range audit.Entries {
		seen[strings.Join([]string{e.Origin, e.Host, e.Decision, e.Rule, e.ClientIP, e.PrivateIP}, "|")] = true
	}
	for _, w := range []string{
		"internet|myregistry.eastus.data.azurecr.io|allowed|ip-rule|127.0.0.1|",
		"office|myregistry.eastus.data.azurecr.io|allowed|ip-rule|198.51.100.7|",
		"corpvnet|myregistry.azurecr.io|allowed|private-endpoint|10.0.0.4|10.0.0.5",
		"corpvnet|myregistry.eastus.data.azurecr.io|allowed|private-endpoint|10.0.0.4|10.0.0.6",
		"halfdns|myregistry.azurecr.io|allowed|private-endpoint|10.0.0.4|10.0.0.5", // each VNet has its own addresses
		"halfdns|myregistry.eastus.data.azurecr.io|denied|private-dns-record-missing|20.0.0.11|",
	} {
		if !seen[w] {
			t.Errorf("audit lacks %s; has %v", w, seen)
		}
	}
}

// TestDataEndpointSDKs: the Azure SDKs for Go and Python download blobs through the data
// endpoint's redirect, and az acr update --data-endpoint-enabled / az acr show-endpoints work.
func TestDataEndpointSDKs(t *testing.T) {
	emu := harness.Start(t)
	_, _, az := azLogin(t, emu)
	if got := az("acr", "update", "-n", "myregistry", "--data-endpoint-enabled", "true", "--query", "[dataEndpointEnabled, dataEndpointHostNames[0]]", "-o", "tsv"); got != "True\nmyregistry.eastus.data.azurecr.io" && got != "true\nmyregistry.eastus.data.azurecr.io" {
		t.Fatalf("az acr update --data-endpoint-enabled = %q", got)
	}
	var endpoints struct {
		LoginServer   string `json:"loginServer"`
		DataEndpoints []struct{ Region, Endpoint string }
	}
	if out := az("acr", "show-endpoints", "-n", "myregistry", "-o", "json"); json.Unmarshal([]byte(out), &endpoints) != nil ||
		endpoints.LoginServer != emu.RegistryHost() || len(endpoints.DataEndpoints) != 1 ||
		endpoints.DataEndpoints[0].Region != "eastus" || endpoints.DataEndpoints[0].Endpoint != "myregistry.eastus.data.azurecr.io" {
		t.Fatalf("az acr show-endpoints = %+v", endpoints)
	}

	ctx := context.Background()
	_, blobs := sdkClients(t, emu)
	layer := []byte("through the data endpoint")
	d := uploadBlob(t, ctx, blobs, "sdk/dde", layer)
	blob, err := blobs.GetBlob(ctx, "sdk/dde", d, nil)
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	verifier, err := azcontainerregistry.NewDigestValidationReader(d, blob.BlobData)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(verifier); err != nil || !bytes.Equal(b, layer) {
		t.Fatalf("GetBlob bytes: %q, %v", b, err)
	}
	// The Python SDK's uploads, downloads (checked against their digests) and the rest.
	runPython(t, emu, nil, "service-principal")
}

// TestEnginesThroughRedirects: docker and podman pull through the login server's 307, to the
// storage link and, once dedicated data endpoints are on, to the data endpoint.
func TestEnginesThroughRedirects(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	podman := harness.Tool(t, "PODMAN", "podman")
	dk := harness.StartDocker(t)
	emu := harness.Start(t)
	src := t.TempDir()
	want := writeLayout(t, src, 2)
	ref := emu.RegistryHost() + "/engines/app:v1"
	emu.Run(t, crane, "push", src, ref)

	certs := filepath.Join(t.TempDir(), "certs")
	if err := os.MkdirAll(certs, 0o755); err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(emu.CAFile)
	if err := os.WriteFile(filepath.Join(certs, "ca.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	podmanPull := func() string {
		t.Helper()
		return emu.Run(t, podman, "--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"), "--storage-driver", "vfs",
			"pull", "--cert-dir", certs, "--creds", harness.AdminUser+":"+harness.AdminPassword, ref)
	}
	dk.Run(t, "login", emu.RegistryHost(), "-u", harness.AdminUser, "-p", harness.AdminPassword)
	check := func(stage string) {
		t.Helper()
		if out := dk.Run(t, "pull", ref); !strings.Contains(out, want.String()) {
			t.Fatalf("docker pull (%s) reported no digest %s:\n%s", stage, want, out)
		}
		dk.Run(t, "rmi", ref)
		if out := podmanPull(); !strings.Contains(out, "Writing manifest") {
			t.Fatalf("podman pull (%s):\n%s", stage, out)
		}
		emu.Run(t, podman, "--root", filepath.Join(store, "root"), "--runroot", filepath.Join(store, "run"), "--storage-driver", "vfs", "rmi", "-a")
	}
	check("storage link")
	status, body := armCall(t, emu, "PATCH", "/subscriptions/"+subscription+"/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry?api-version=2025-11-01",
		`{"properties":{"dataEndpointEnabled":true}}`)
	if status != 200 && status != 201 {
		t.Fatalf("enable data endpoints: %d %v", status, body)
	}
	check("data endpoint")
	if logs := emu.Logs(); !strings.Contains(logs, "host=myregistry.eastus.data.azurecr.io") {
		t.Fatalf("no download went through the data endpoint:\n%s", logs)
	}
}

// TestAzureCLIPrivateEndpoint: a private endpoint to the registry with the real az CLI, its
// members' FQDNs and addresses on the endpoint and its network interface, a
// privatelink.azurecr.io zone group with its record sets; the VNet then pulls privately with
// public access disabled, and no longer once the endpoint is gone. Debian's az 2.45 cannot load
// `az network` (its network SDK lacks a model the module's arguments name), so the private link
// article's commands run as their generic `az resource` equivalents, the same ARM calls.
func TestAzureCLIPrivateEndpoint(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu, vnet := lockedWithVNet(t)
	_, _, az := azLogin(t, emu)
	rg := "/subscriptions/" + subscription + "/resourceGroups/demo-rg"
	pe := rg + "/providers/Microsoft.Network/privateEndpoints/app-pe"
	regID := az("acr", "show", "-n", "myregistry", "--query", "id", "-o", "tsv")
	az("resource", "create", "--id", pe, "--api-version", "2022-01-01", "--is-full-object", "-o", "none", "--properties",
		`{"location":"eastus","properties":{"subnet":{"id":"`+rg+`/providers/Microsoft.Network/virtualNetworks/appvnet/subnets/default"},`+
			`"privateLinkServiceConnections":[{"name":"app-conn","properties":{"privateLinkServiceId":"`+regID+`","groupIds":["registry"]}}]}}`)
	show := func(id, query string) string {
		t.Helper()
		return az("resource", "show", "--ids", id, "--api-version", "2022-01-01", "--query", query, "-o", "tsv")
	}
	if got := show(pe, "properties.customDnsConfigs[].[fqdn, ipAddresses[0]]"); got != "myregistry.azurecr.io\t10.0.0.5\nmyregistry.eastus.data.azurecr.io\t10.0.0.6" {
		t.Fatalf("customDnsConfigs = %q", got)
	}
	nic := show(pe, "properties.networkInterfaces[0].id")
	if got := show(nic, "properties.ipConfigurations[?properties.privateLinkConnectionProperties.requiredMemberName=='registry_data_eastus'].properties.privateLinkConnectionProperties.fqdns[0]"); got != "myregistry.eastus.data.azurecr.io" {
		t.Fatalf("data endpoint FQDN on the interface = %q", got)
	}
	if got := show(nic, "properties.ipConfigurations[?properties.privateLinkConnectionProperties.requiredMemberName=='registry'].properties.privateIPAddress"); got != "10.0.0.5" {
		t.Fatalf("registry address on the interface = %q", got)
	}
	az("resource", "create", "--id", pe+"/privateDnsZoneGroups/default", "--api-version", "2022-01-01", "-o", "none", "--properties",
		`{"privateDnsZoneConfigs":[{"name":"privatelink-azurecr-io","properties":{"privateDnsZoneId":"`+rg+`/providers/Microsoft.Network/privateDnsZones/privatelink.azurecr.io"}}]}`)
	if got := show(pe+"/privateDnsZoneGroups/default", "properties.privateDnsZoneConfigs[0].properties.recordSets[].[recordSetName, ipAddresses[0]]"); got != "myregistry\t10.0.0.5\nmyregistry.eastus.data\t10.0.0.6" {
		t.Fatalf("zone group record sets = %q", got)
	}
	if got := az("acr", "private-endpoint-connection", "list", "-r", "myregistry", "--query", "[].privateLinkServiceConnectionState.status", "-o", "tsv"); got != "Approved" {
		t.Fatalf("connections = %q", got)
	}
	// The private endpoint serves the data endpoints (their host names show); the flag stays as
	// set, so templates that never set it see no drift.
	if got := az("acr", "show", "-n", "myregistry", "--query", "[dataEndpointEnabled, dataEndpointHostNames[0]]", "-o", "tsv"); got != "False\nmyregistry.eastus.data.azurecr.io" && got != "false\nmyregistry.eastus.data.azurecr.io" {
		t.Fatalf("a private endpoint serves the data endpoints: %q", got)
	}
	src := t.TempDir()
	writeLayout(t, src, 1)
	if out, err := emu.TryRunEnv(t, vnet, crane, "push", src, "myregistry.azurecr.io/pe/app:v1"); err != nil {
		t.Fatalf("push from the VNet: %v\n%s", err, out)
	}
	if out, err := emu.TryRunEnv(t, vnet, crane, "pull", "myregistry.azurecr.io/pe/app:v1", filepath.Join(t.TempDir(), "img.tar")); err != nil {
		t.Fatalf("pull from the VNet through the data endpoint: %v\n%s", err, out)
	}
	az("resource", "delete", "--ids", pe+"/privateDnsZoneGroups/default", "--api-version", "2022-01-01")
	az("resource", "delete", "--ids", pe, "--api-version", "2022-01-01")
	if out, err := emu.TryRunEnv(t, vnet, crane, "digest", "myregistry.azurecr.io/pe/app:v1"); err == nil || !strings.Contains(out, "client with IP '20.0.0.9' is not allowed access") {
		t.Fatalf("digest after the private endpoint's delete: err=%v\n%s", err, out)
	}
}
