package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	armpolicy "github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

const subscription = "22222222-2222-2222-2222-222222222222"

// registriesClient is armcontainerregistry signed in as the default world's service principal,
// with the emulator as both the Entra authority and the ARM endpoint.
func registriesClient(t *testing.T, emu *harness.Emulator) *armcontainerregistry.RegistriesClient {
	return armFactory(t, emu).NewRegistriesClient()
}

// armFactory makes every armcontainerregistry client, signed in as registriesClient is.
func armFactory(t *testing.T, emu *harness.Emulator) *armcontainerregistry.ClientFactory {
	t.Helper()
	cred, opts := armCredential(t, emu)
	f, err := armcontainerregistry.NewClientFactory(subscription, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// armCredential is the default world's service principal with the emulator as both the Entra
// authority and the ARM endpoint, and the client options that point there.
func armCredential(t *testing.T, emu *harness.Emulator) (*azidentity.ClientSecretCredential, *armpolicy.ClientOptions) {
	t.Helper()
	opts := sdkClientOptions(t, emu)
	base := "https://" + emu.RegistryHost()
	opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: base + "/", Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
		cloud.ResourceManager: {Endpoint: base, Audience: "https://management.azure.com"}}}
	cred, err := azidentity.NewClientSecretCredential(harness.TenantID, harness.ClientID, harness.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	return cred, &armpolicy.ClientOptions{ClientOptions: opts}
}

func update(t *testing.T, c *armcontainerregistry.RegistriesClient, name string, p armcontainerregistry.RegistryUpdateParameters) (armcontainerregistry.Registry, error) {
	t.Helper()
	poller, err := c.BeginUpdate(context.Background(), "demo-rg", name, p, nil)
	if err != nil {
		return armcontainerregistry.Registry{}, err
	}
	res, err := poller.PollUntilDone(context.Background(), nil)
	return res.Registry, err
}

// TestARMLockdown locks myregistry down through the ARM API with the Go management SDK and
// watches crane get ACR's 403, then opens it again; a Basic registry refuses the lockdown.
func TestARMLockdown(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	_, basicPort, _ := strings.Cut(harness.FreeAddr(t), ":")
	world := filepath.Join(t.TempDir(), "world.yaml")
	def, err := os.ReadFile(filepath.Join(mustRoot(t), "emulator/world/default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(string(def), "registries:\n", fmt.Sprintf("registries:\n  - name: basicregistry\n    sku: Basic\n    port: %s\n", basicPort), 1)
	if err := os.WriteFile(world, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	emu := harness.Start(t, harness.WithArgs("--config", world))
	client := registriesClient(t, emu)
	ctx := context.Background()

	got, err := client.Get(ctx, "demo-rg", "myregistry", nil)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	p := got.Properties
	if *p.LoginServer != emu.RegistryHost() || *p.PublicNetworkAccess != armcontainerregistry.PublicNetworkAccessEnabled ||
		*p.NetworkRuleBypassOptions != armcontainerregistry.NetworkRuleBypassOptionsAzureServices || *got.SKU.Name != armcontainerregistry.SKUNamePremium {
		t.Fatalf("registry = %+v", p)
	}
	src := t.TempDir()
	want := writeLayout(t, src, 1)
	ref := emu.RegistryHost() + "/arm/app:v1"
	emu.Run(t, crane, "push", src, ref)

	if _, err := update(t, client, "myregistry", armcontainerregistry.RegistryUpdateParameters{Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{
		PublicNetworkAccess: to.Ptr(armcontainerregistry.PublicNetworkAccessDisabled)}}); err != nil {
		t.Fatalf("disable public access: %v", err)
	}
	out, err := emu.TryRun(t, crane, "digest", ref)
	if err == nil || !strings.Contains(out, "client with IP '127.0.0.1' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.") {
		t.Fatalf("pull with public access disabled: err=%v\n%s", err, out)
	}
	// The management plane itself is not network-restricted.
	got, err = client.Get(ctx, "demo-rg", "myregistry", nil)
	if err != nil || *got.Properties.PublicNetworkAccess != armcontainerregistry.PublicNetworkAccessDisabled {
		t.Fatalf("Get after lockdown: %v", err)
	}
	// Firewall instead: public access on, default Deny, this machine's IP allowed.
	if _, err := update(t, client, "myregistry", armcontainerregistry.RegistryUpdateParameters{Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{
		PublicNetworkAccess: to.Ptr(armcontainerregistry.PublicNetworkAccessEnabled),
		NetworkRuleSet: &armcontainerregistry.NetworkRuleSet{DefaultAction: to.Ptr(armcontainerregistry.DefaultActionDeny),
			IPRules: []*armcontainerregistry.IPRule{{IPAddressOrRange: to.Ptr("127.0.0.1"), Action: to.Ptr(armcontainerregistry.ActionAllow)}}}}}); err != nil {
		t.Fatalf("firewall: %v", err)
	}
	if out, err := emu.TryRun(t, crane, "digest", ref); err != nil || strings.TrimSpace(out) != want.String() {
		t.Fatalf("pull with this machine's IP allowed: %v\n%s", err, out)
	}
	if _, err := update(t, client, "myregistry", armcontainerregistry.RegistryUpdateParameters{Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{
		NetworkRuleSet: &armcontainerregistry.NetworkRuleSet{DefaultAction: to.Ptr(armcontainerregistry.DefaultActionDeny), IPRules: []*armcontainerregistry.IPRule{}}}}); err != nil {
		t.Fatalf("remove the IP rule: %v", err)
	}
	if _, err := emu.TryRun(t, crane, "digest", ref); err == nil {
		t.Fatal("pull allowed after the IP rule was removed")
	}
	// Trusted services off, as az acr update --allow-trusted-services false does.
	reg, err := update(t, client, "myregistry", armcontainerregistry.RegistryUpdateParameters{Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{
		NetworkRuleBypassOptions: to.Ptr(armcontainerregistry.NetworkRuleBypassOptionsNone)}})
	if err != nil || *reg.Properties.NetworkRuleBypassOptions != armcontainerregistry.NetworkRuleBypassOptionsNone {
		t.Fatalf("trusted services off: %v", err)
	}

	// A Basic registry cannot disable public access: ARM's own error.
	_, err = update(t, client, "basicregistry", armcontainerregistry.RegistryUpdateParameters{Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{
		PublicNetworkAccess: to.Ptr(armcontainerregistry.PublicNetworkAccessDisabled)}})
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 400 || re.ErrorCode != "DisablingPublicNetworkAccessNotSupported" ||
		!strings.Contains(err.Error(), "Disabling public network access is not supported for the SKU Basic. For more information, please visit https://aka.ms/acr/private-link.") {
		t.Fatalf("Basic lockdown: %v", err)
	}

	// Import (a long-running operation) from basicregistry into myregistry with the SDK's poller.
	if _, err := update(t, client, "myregistry", armcontainerregistry.RegistryUpdateParameters{Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{
		NetworkRuleSet: &armcontainerregistry.NetworkRuleSet{DefaultAction: to.Ptr(armcontainerregistry.DefaultActionAllow)}}}); err != nil {
		t.Fatal(err)
	}
	emu.Run(t, crane, "copy", ref, emu.RegistryHost()+"/arm/copy:v1")
	poller, err := client.BeginImportImage(ctx, "demo-rg", "myregistry", armcontainerregistry.ImportImageParameters{
		Source: &armcontainerregistry.ImportSource{ResourceID: to.Ptr("/subscriptions/" + subscription + "/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry"),
			SourceImage: to.Ptr("arm/copy:v1")},
		TargetTags: []*string{to.Ptr("arm/imported:v2")}, Mode: to.Ptr(armcontainerregistry.ImportModeNoForce)}, nil)
	if err != nil {
		t.Fatalf("BeginImportImage: %v", err)
	}
	if _, err := poller.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("import: %v", err)
	}
	if out, err := emu.TryRun(t, crane, "digest", emu.RegistryHost()+"/arm/imported:v2"); err != nil || strings.TrimSpace(out) != want.String() {
		t.Fatalf("imported image: %v\n%s", err, out)
	}
	poller, err = client.BeginImportImage(ctx, "demo-rg", "myregistry", armcontainerregistry.ImportImageParameters{
		Source: &armcontainerregistry.ImportSource{RegistryURI: to.Ptr(emu.RegistryHost()), SourceImage: to.Ptr("arm/copy:v1"),
			// A registry URI source is read with the request's credentials, as Azure reads it.
			Credentials: &armcontainerregistry.ImportSourceCredentials{Username: to.Ptr("myregistry"), Password: to.Ptr(harness.AdminPassword)}},
		TargetTags: []*string{to.Ptr("arm/imported:v2")}, Mode: to.Ptr(armcontainerregistry.ImportModeNoForce)}, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, nil)
	}
	if !errors.As(err, &re) || re.ErrorCode != "InvalidParameters" || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("NoForce import over an existing tag: %v", err)
	}

	creds, err := client.ListCredentials(ctx, "demo-rg", "myregistry", nil)
	if err != nil || *creds.Username != "myregistry" || *creds.Passwords[0].Value != harness.AdminPassword {
		t.Fatalf("ListCredentials: %v", err)
	}
	n := 0
	for pager := client.NewListPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		n += len(page.Value)
	}
	if n != 2 {
		t.Fatalf("listed %d registries, want 2", n)
	}
}

func mustRoot(t *testing.T) string {
	t.Helper()
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// armCall sends one ARM request as the default world's service principal.
func armCall(t *testing.T, emu *harness.Emulator, method, path, body string) (int, map[string]any) {
	t.Helper()
	tok, err := entraToken(t, emu, harness.ClientID, harness.ClientSecret, "https://management.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, "https://"+emu.RegistryHost()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	res, err := sdkClientOptions(t, emu).Transport.(*http.Client).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// TestPrivateEndpointApproval creates a private endpoint from a VNet origin to a registry
// with public access disabled through ARM, and follows its connection through Pending,
// Approved and Rejected from the VNet's side with crane.
func TestPrivateEndpointApproval(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu, vnet := lockedWithVNet(t)
	ref := "myregistry.azurecr.io/pe/app:v1"
	src := t.TempDir()
	writeLayout(t, src, 1)
	pushFromVNet := func() (string, error) { return emu.TryRunEnv(t, vnet, crane, "push", src, ref) }
	if out, err := pushFromVNet(); err == nil || !strings.Contains(out, "client with IP '20.0.0.9' is not allowed access") {
		t.Fatalf("VNet without a private endpoint: err=%v\n%s", err, out)
	}
	regID := requestPrivateEndpoint(t, emu)
	if out, err := pushFromVNet(); err == nil {
		t.Fatalf("a Pending connection carried traffic:\n%s", out)
	}
	conn := regID + "/privateEndpointConnections/appvnet-conn?api-version=2025-11-01"
	approve := func(state string) {
		t.Helper()
		status, out := armCall(t, emu, "PUT", conn, `{"properties":{"privateLinkServiceConnectionState":{"status":"`+state+`","description":"by test"}}}`)
		if status != 201 { // with an operation to poll, as Azure answers (recording test_acr_with_private_endpoint)
			t.Fatalf("%s: %d %v", state, status, out)
		}
	}
	approve("Approved")
	if out, err := pushFromVNet(); err != nil {
		t.Fatalf("push through the approved private endpoint: %v\n%s", err, out)
	}
	if status, out := armCall(t, emu, "GET", regID+"?api-version=2025-11-01", ""); status != 200 ||
		!strings.Contains(fmt.Sprint(out["properties"]), "Approved") {
		t.Fatalf("registry privateEndpointConnections: %d %v", status, out)
	}
	approve("Rejected")
	if out, err := emu.TryRunEnv(t, vnet, crane, "digest", ref); err == nil {
		t.Fatalf("a Rejected connection carried traffic:\n%s", out)
	}
}

// lockedWithVNet starts the default world with myregistry's public access disabled and its VNet
// appvnet (20.0.0.9) on a known port, and returns the environment that sends clients through it.
func lockedWithVNet(t *testing.T) (*harness.Emulator, []string) {
	t.Helper()
	world, vnetPort := defaultWorldWithVNetPort(t, func(w string) string {
		return strings.Replace(w, "    adminUserEnabled: true\n", "    adminUserEnabled: true\n    publicNetworkAccess: Disabled\n", 1)
	})
	emu := harness.Start(t, harness.WithArgs("--config", world))
	return emu, viaOrigin(t, emu, vnetPort, "myregistry")
}

// defaultWorldWithVNetPort writes the default world, changed by edit, with its VNet origin
// appvnet on a known port, and returns the file and the port.
func defaultWorldWithVNetPort(t *testing.T, edit func(string) string) (world, vnetPort string) {
	t.Helper()
	_, vnetPort, _ = strings.Cut(harness.FreeAddr(t), ":")
	world = filepath.Join(t.TempDir(), "world.yaml")
	def, err := os.ReadFile(filepath.Join(mustRoot(t), "emulator/world/default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.Replace(edit(string(def)), "    ip: 20.0.0.9\n", "    ip: 20.0.0.9\n    port: "+vnetPort+"\n", 1)
	if err := os.WriteFile(world, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return world, vnetPort
}

// requestPrivateEndpoint creates the private endpoint app-pe in appvnet with a manual connection
// appvnet-conn to myregistry, which waits as Pending, and returns the registry's id.
func requestPrivateEndpoint(t *testing.T, emu *harness.Emulator) string {
	t.Helper()
	rg := "/subscriptions/" + subscription + "/resourceGroups/demo-rg"
	regID := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	pe := `{"location":"eastus","properties":{"subnet":{"id":"` + rg + `/providers/Microsoft.Network/virtualNetworks/appvnet/subnets/default"},` +
		`"manualPrivateLinkServiceConnections":[{"name":"appvnet-conn","properties":{"privateLinkServiceId":"` + regID + `","groupIds":["registry"]}}]}}`
	if status, out := armCall(t, emu, "PUT", rg+"/providers/Microsoft.Network/privateEndpoints/app-pe?api-version=2024-05-01", pe); status != 201 {
		t.Fatalf("create private endpoint: %d %v", status, out)
	}
	return regID
}
