package e2e

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// armRequest sends one request through azcore's ARM pipeline (the one every Go management
// client uses: bearer token, retries, the SDK's error parsing).
func armRequest(t *testing.T, c *arm.Client, method, path, apiVersion string, body any) *http.Response {
	t.Helper()
	req, err := runtime.NewRequest(context.Background(), method, c.Endpoint()+path)
	if err != nil {
		t.Fatal(err)
	}
	req.Raw().URL.RawQuery = "api-version=" + apiVersion
	if body != nil {
		if err := runtime.MarshalAsJSON(req, body); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.Pipeline().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return res
}

// TestReplicationsAndResourceGroups drives resource groups through azcore's pipeline and
// poller (as armresources does) and replications through armcontainerregistry, against the
// binary: a group made in another spelling, a Premium registry in it, its home replication
// listed at once (what the azurerm provider reads after creating a registry), a replica
// created, updated and deleted with the SDK's pollers, a Basic registry refused, and the
// group's delete taking the registry with it.
func TestReplicationsAndResourceGroups(t *testing.T) {
	emu := harness.Start(t)
	ctx := context.Background()
	cred, opts := armCredential(t, emu)
	client, err := arm.NewClient("acr-emulator-e2e", "v0.0.0", cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	f := armFactory(t, emu)
	regs, reps := f.NewRegistriesClient(), f.NewReplicationsClient()

	rg := "/subscriptions/" + subscription + "/resourcegroups/Replica-RG"
	if res := armRequest(t, client, http.MethodPut, rg, "2022-09-01", map[string]any{"location": "westeurope", "tags": map[string]string{"env": "e2e"}}); res.StatusCode != 201 {
		t.Fatalf("resource group PUT: %d", res.StatusCode)
	}
	if res := armRequest(t, client, http.MethodHead, rg, "2022-09-01", nil); res.StatusCode != 204 {
		t.Fatalf("resource group HEAD: %d", res.StatusCode)
	}

	poller, err := regs.BeginCreate(ctx, "replica-rg", "replicaregistry", armcontainerregistry.Registry{Location: to.Ptr("westeurope"),
		SKU: &armcontainerregistry.SKU{Name: to.Ptr(armcontainerregistry.SKUNamePremium)}}, nil)
	if err != nil {
		t.Fatalf("registry BeginCreate: %v", err)
	}
	reg, err := poller.PollUntilDone(ctx, nil)
	if err != nil || !strings.EqualFold(*reg.ID, "/subscriptions/"+subscription+"/resourceGroups/replica-rg/providers/Microsoft.ContainerRegistry/registries/replicaregistry") {
		t.Fatalf("registry create: %v %v", err, reg.ID)
	}
	listed := func() []string {
		var out []string
		for pager := reps.NewListPager("replica-rg", "replicaregistry", nil); pager.More(); {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("replications list: %v", err)
			}
			for _, r := range page.Value {
				out = append(out, *r.Name+"@"+*r.Location)
			}
		}
		slices.Sort(out)
		return out
	}
	if got := listed(); !slices.Equal(got, []string{"westeurope@westeurope"}) {
		t.Fatalf("a new registry's replications: %v", got)
	}

	cp, err := reps.BeginCreate(ctx, "replica-rg", "replicaregistry", "eastus", armcontainerregistry.Replication{Location: to.Ptr("eastus"),
		Properties: &armcontainerregistry.ReplicationProperties{ZoneRedundancy: to.Ptr(armcontainerregistry.ZoneRedundancyEnabled)}}, nil)
	if err != nil {
		t.Fatalf("replication BeginCreate: %v", err)
	}
	created, err := cp.PollUntilDone(ctx, nil)
	if err != nil || *created.Properties.ProvisioningState != armcontainerregistry.ProvisioningStateSucceeded ||
		*created.Properties.ZoneRedundancy != armcontainerregistry.ZoneRedundancyEnabled || !*created.Properties.RegionEndpointEnabled {
		t.Fatalf("replication create: %v %+v", err, created.Properties)
	}
	up, err := reps.BeginUpdate(ctx, "replica-rg", "replicaregistry", "eastus", armcontainerregistry.ReplicationUpdateParameters{
		Tags: map[string]*string{"tier": to.Ptr("hot")}, Properties: &armcontainerregistry.ReplicationUpdateParametersProperties{RegionEndpointEnabled: to.Ptr(false)}}, nil)
	if err != nil {
		t.Fatalf("replication BeginUpdate: %v", err)
	}
	if u, err := up.PollUntilDone(ctx, nil); err != nil || *u.Tags["tier"] != "hot" || *u.Properties.RegionEndpointEnabled {
		t.Fatalf("replication update: %v %+v", err, u)
	}
	if got := listed(); !slices.Equal(got, []string{"eastus@eastus", "westeurope@westeurope"}) {
		t.Fatalf("replications: %v", got)
	}
	// Data endpoints follow the replications.
	if _, err := update(t, regs, "replicaregistry", armcontainerregistry.RegistryUpdateParameters{}); err == nil {
		t.Fatal("a registry outside the default group updated under demo-rg")
	}
	un, err := regs.BeginUpdate(ctx, "replica-rg", "replicaregistry", armcontainerregistry.RegistryUpdateParameters{
		Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{DataEndpointEnabled: to.Ptr(true)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := un.PollUntilDone(ctx, nil); err != nil || len(r.Properties.DataEndpointHostNames) != 2 ||
		*r.Properties.DataEndpointHostNames[0] != "replicaregistry.eastus.data.azurecr.io" {
		t.Fatalf("data endpoints: %v %v", err, r.Properties)
	}

	dp, err := reps.BeginDelete(ctx, "replica-rg", "replicaregistry", "eastus", nil)
	if err != nil {
		t.Fatalf("replication BeginDelete: %v", err)
	}
	if _, err := dp.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("replication delete: %v", err)
	}
	_, err = reps.Get(ctx, "replica-rg", "replicaregistry", "eastus", nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 404 || re.ErrorCode != "ResourceNotFound" {
		t.Fatalf("deleted replication: %v", err)
	}
	// The home replication cannot go; a Basic registry has none to add.
	if _, err := reps.BeginDelete(ctx, "replica-rg", "replicaregistry", "westeurope", nil); !errors.As(err, &re) || re.StatusCode != 400 {
		t.Fatalf("delete the home replication: %v", err)
	}
	bp, err := regs.BeginCreate(ctx, "replica-rg", "basicreplica", armcontainerregistry.Registry{Location: to.Ptr("westeurope"),
		SKU: &armcontainerregistry.SKU{Name: to.Ptr(armcontainerregistry.SKUNameBasic)}}, nil)
	if err == nil {
		_, err = bp.PollUntilDone(ctx, nil)
	}
	if err != nil {
		t.Fatalf("Basic registry: %v", err)
	}
	if _, err := reps.BeginCreate(ctx, "replica-rg", "basicreplica", "eastus", armcontainerregistry.Replication{Location: to.Ptr("eastus")}, nil); !errors.As(err, &re) ||
		re.ErrorCode != "GeoReplicationNotSupported" {
		t.Fatalf("replication of a Basic registry: %v", err)
	}

	// A role assignment listed through a // path, as SDKs send a scope that begins with /.
	if res := armRequest(t, client, http.MethodGet, "/"+*reg.ID+"/providers/Microsoft.Authorization/roleAssignments", "2022-04-01", nil); res.StatusCode != 200 {
		t.Fatalf("GET //subscriptions/...: %d", res.StatusCode)
	}

	// Deleting the group: 202 and a Location, polled by azcore's own poller; the registries go too.
	res := armRequest(t, client, http.MethodDelete, rg, "2022-09-01", nil)
	if res.StatusCode != 202 || res.Header.Get("Location") == "" || res.Header.Get("Retry-After") != "0" {
		t.Fatalf("group delete: %d %v", res.StatusCode, res.Header)
	}
	gp, err := runtime.NewPoller[struct{}](res, client.Pipeline(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gp.PollUntilDone(ctx, nil); err != nil {
		t.Fatalf("group delete poll: %v", err)
	}
	if _, err := regs.Get(ctx, "replica-rg", "replicaregistry", nil); !errors.As(err, &re) || re.ErrorCode != "ResourceGroupNotFound" {
		t.Fatalf("registry after its group's delete: %v", err)
	}
	if res := armRequest(t, client, http.MethodHead, rg, "2022-09-01", nil); res.StatusCode != 404 {
		t.Fatalf("HEAD after delete: %d", res.StatusCode)
	}
}

// TestAzureCLIReplications drives az acr replication and az group with Debian's az 2.45.
func TestAzureCLIReplications(t *testing.T) {
	emu := harness.Start(t)
	_, _, run := azLogin(t, emu)
	if got := run("acr", "replication", "list", "-r", "myregistry", "--query", "[].name", "-o", "tsv"); got != "eastus" {
		t.Fatalf("initial replications = %q", got)
	}
	if got := run("acr", "replication", "create", "-r", "myregistry", "-l", "westeurope", "--query", "[name, location, provisioningState]", "-o", "tsv"); got != "westeurope\nwesteurope\nSucceeded" {
		t.Fatalf("az acr replication create = %q", got)
	}
	if got := run("acr", "replication", "show", "-r", "myregistry", "-n", "westeurope", "--query", "regionEndpointEnabled", "-o", "tsv"); got != "true" {
		t.Fatalf("az acr replication show = %q", got)
	}
	if got := run("acr", "replication", "update", "-r", "myregistry", "-n", "westeurope", "--tags", "tier=cold", "--query", "tags.tier", "-o", "tsv"); got != "cold" {
		t.Fatalf("az acr replication update = %q", got)
	}
	if got := run("acr", "replication", "list", "-r", "myregistry", "--query", "sort([].name)", "-o", "tsv"); got != "eastus\twesteurope" && got != "eastus\nwesteurope" {
		t.Fatalf("replications = %q", got)
	}
	run("acr", "replication", "delete", "-r", "myregistry", "-n", "westeurope")
	if got := run("acr", "replication", "list", "-r", "myregistry", "--query", "[].name", "-o", "tsv"); got != "eastus" {
		t.Fatalf("after delete = %q", got)
	}

	if got := run("group", "create", "-n", "cli-rg", "-l", "northeurope", "--query", "[name, location, properties.provisioningState]", "-o", "tsv"); got != "cli-rg\nnortheurope\nSucceeded" {
		t.Fatalf("az group create = %q", got)
	}
	if got := run("group", "exists", "-n", "cli-rg"); got != "true" {
		t.Fatalf("az group exists = %q", got)
	}
	run("acr", "create", "-n", "cliregistry", "-g", "cli-rg", "--sku", "Basic", "-l", "northeurope", "-o", "none")
	if got := run("acr", "show", "-n", "cliregistry", "--query", "id", "-o", "tsv"); !strings.HasSuffix(got, "/resourceGroups/cli-rg/providers/Microsoft.ContainerRegistry/registries/cliregistry") {
		t.Fatalf("registry in the new group: %q", got)
	}
	run("group", "delete", "-n", "cli-rg", "--yes")
	if got := run("group", "exists", "-n", "cli-rg"); got != "false" {
		t.Fatalf("az group exists after delete = %q", got)
	}
	if got := run("acr", "list", "--query", "[?name=='cliregistry'] | length(@)", "-o", "tsv"); got != "0" {
		t.Fatalf("registry after its group's delete: %q", got)
	}
}
