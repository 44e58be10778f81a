package e2e

import (
	"context"
	"errors"
	"fmt"
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
	client, err := armcontainerregistry.NewRegistriesClient(subscription, cred, &armpolicy.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	return client
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
