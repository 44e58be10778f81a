package arm

import (
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/rbac"
)

const subPath = "/subscriptions/" + sub

func TestResourceGroupValidation(t *testing.T) {
	srv := newAPI(t)
	for _, c := range []struct {
		desc, method, path, body string
		status                   int
		code                     string
	}{
		{"create", "PUT", "/rg-One.(x)_1", `{"location":"West Europe","tags":{"team":"a"}}`, 201, ""},
		{"again", "PUT", "/rg-one.(x)_1", `{"location":"westeurope"}`, 200, ""},
		{"elsewhere", "PUT", "/rg-one.(x)_1", `{"location":"eastus"}`, 409, "InvalidResourceGroupLocation"},
		{"no location", "PUT", "/rg2", `{}`, 400, "LocationRequired"},
		{"unknown location", "PUT", "/rg2", `{"location":"atlantis"}`, 400, "LocationNotAvailableForResourceGroup"},
		{"bad name", "PUT", "/rg%20two", `{"location":"eastus"}`, 400, "InvalidResourceGroup"},
		{"final period", "PUT", "/rg.", `{"location":"eastus"}`, 400, "InvalidResourceGroup"},
		{"too long", "PUT", "/" + strings.Repeat("r", 91), `{"location":"eastus"}`, 400, "InvalidResourceGroup"},
		{"bad JSON", "PUT", "/rg2", `{"location":`, 400, "InvalidRequestContent"},
		{"reader cannot create", "PUT", "/rg3", `{"location":"eastus"}`, 403, "AuthorizationFailed"},
		{"get missing", "GET", "/nothere", "", 404, "ResourceGroupNotFound"},
		{"delete missing", "DELETE", "/nothere", "", 404, "ResourceGroupNotFound"},
		{"patch missing", "PATCH", "/nothere", `{"tags":{}}`, 404, "ResourceGroupNotFound"},
		{"other subscription", "GET", "", "", 404, "SubscriptionNotFound"},
	} {
		token := "owner"
		if strings.HasPrefix(c.desc, "reader") {
			token = "reader"
		}
		path := subPath + "/resourcegroups" + c.path
		if c.desc == "other subscription" {
			path = "/subscriptions/99999999-9999-9999-9999-999999999999/resourceGroups/demo-rg"
		}
		if r := call(t, srv, c.method, path+v, token, c.body); r.status != c.status || errCode(r) != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.desc, r.status, r.body, c.status, c.code)
		}
	}
	r := call(t, srv, "GET", subPath+"/resourceGroups/RG-ONE.(X)_1"+v, "reader", "")
	if r.status != 200 || r.body["name"] != "rg-One.(x)_1" || r.body["location"] != "westeurope" || r.body["id"] != subPath+"/resourceGroups/rg-One.(x)_1" ||
		prop(r, "properties", "provisioningState") != "Succeeded" || r.body["tags"] != nil {
		t.Fatalf("GET keeps the creator's casing, and a PUT replaced the tags: %v", r.body)
	}
	if r := call(t, srv, "PATCH", subPath+"/resourceGroups/rg-one.(x)_1"+v, "owner", `{"tags":{"env":"dev"},"managedBy":"me"}`); r.status != 200 ||
		prop(r, "tags", "env") != "dev" || r.body["managedBy"] != "me" {
		t.Fatalf("PATCH: %d %v", r.status, r.body)
	}
	list := call(t, srv, "GET", subPath+"/resourcegroups"+v, "reader", "")
	if vals, _ := list.body["value"].([]any); len(vals) != 2 {
		t.Fatalf("list: %v", list.body)
	}
}

func TestResourceGroupHead(t *testing.T) {
	srv := newAPI(t)
	for path, want := range map[string]int{"/demo-rg": 204, "/DEMO-RG": 204, "/nothere": 404} {
		if res, body := do(t, srv, "HEAD", subPath+"/resourcegroups"+path+v, "reader", ""); res.StatusCode != want || body != "" {
			t.Errorf("HEAD %s: %d %q", path, res.StatusCode, body)
		}
	}
}

// Deleting a group deletes what it holds, as the azurerm provider's destroy and az group
// delete expect, and nothing else.
func TestResourceGroupDeleteCascades(t *testing.T) {
	srv := newAPI(t)
	rg := subPath + "/resourceGroups/app-rg"
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/appregistry"
	mustStatus := func(r result, want int, what string) result {
		t.Helper()
		if r.status != want {
			t.Fatalf("%s: %d %v", what, r.status, r.body)
		}
		return r
	}
	mustStatus(call(t, srv, "PUT", reg+v, "owner", `{"location":"eastus","sku":{"name":"Premium"}}`), 404, "registry in a group not yet made")
	mustStatus(call(t, srv, "PUT", rg+v, "owner", `{"location":"eastus"}`), 201, "group")
	mustStatus(call(t, srv, "PUT", reg+v, "owner", `{"location":"eastus","sku":{"name":"Premium"}}`), 201, "registry")
	mustStatus(call(t, srv, "PUT", reg+"/replications/westus"+v, "owner", `{"location":"westus"}`), 201, "replication")
	id := mustStatus(call(t, srv, "PUT", rg+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/puller"+v, "owner", `{"location":"eastus"}`), 201, "identity")
	principal := prop(id, "properties", "principalId").(string)
	acrPull, _ := rbac.RoleByName("AcrPull")
	ra := `{"properties":{"roleDefinitionId":"` + rbac.DefinitionID(sub, acrPull.ID) + `","principalId":"` + other + `"}}`
	mustStatus(call(t, srv, "PUT", rg+"/providers/Microsoft.Authorization/roleAssignments/33333333-aaaa-aaaa-aaaa-000000000001"+v, "owner", ra), 201, "group role")
	mustStatus(call(t, srv, "PUT", reg+"/providers/Microsoft.Authorization/roleAssignments/33333333-aaaa-aaaa-aaaa-000000000002"+v, "owner", ra), 201, "registry role")

	// The registry is in app-rg only (names are global), and the group lists its resources.
	mustStatus(call(t, srv, "GET", regs+"/appregistry"+v, "owner", ""), 404, "registry under demo-rg")
	res := mustStatus(call(t, srv, "GET", rg+"/resources"+v, "reader", ""), 200, "group resources")
	types := map[string]string{}
	for _, item := range res.body["value"].([]any) {
		m := item.(map[string]any)
		types[m["type"].(string)] = m["name"].(string)
	}
	if types["Microsoft.ContainerRegistry/registries"] != "appregistry" || types["Microsoft.ContainerRegistry/registries/replications"] == "" ||
		types["Microsoft.ManagedIdentity/userAssignedIdentities"] != "puller" || len(types) != 3 {
		t.Fatalf("group resources: %v", types)
	}
	res = mustStatus(call(t, srv, "GET", subPath+"/resources"+v+"&$filter=resourceType%20eq%20'Microsoft.ContainerRegistry/registries'", "reader", ""), 200, "typed list")
	if vals := res.body["value"].([]any); len(vals) != 3 {
		t.Fatalf("registries of the subscription: %v", vals)
	}

	r, _ := do(t, srv, "DELETE", rg+v, "reader", "")
	if r.StatusCode != 403 {
		t.Fatalf("reader deleting a group: %d", r.StatusCode)
	}
	r, _ = do(t, srv, "DELETE", rg+v, "owner", "")
	if r.StatusCode != 202 {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	mustStatus(call(t, srv, "GET", rg+v, "owner", ""), 404, "group after delete")
	if r := call(t, srv, "PUT", rg+v, "owner", `{"location":"eastus"}`); r.status != 201 {
		t.Fatalf("the group again: %d", r.status)
	}
	for what, path := range map[string]string{"registry": reg, "identity": rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/puller",
		"group role": rg + "/providers/Microsoft.Authorization/roleAssignments/33333333-aaaa-aaaa-aaaa-000000000001"} {
		mustStatus(call(t, srv, "GET", path+v, "owner", ""), 404, what+" after its group was deleted")
	}
	if r := call(t, srv, "PUT", regs+"/myregistry/providers/Microsoft.Authorization/roleAssignments/33333333-aaaa-aaaa-aaaa-000000000003"+v, "owner",
		strings.Replace(ra, other, principal, 1)); r.status != 400 || errCode(r) != "PrincipalNotFound" {
		t.Fatalf("the deleted identity is still a principal: %d %v", r.status, r.body)
	}
	mustStatus(call(t, srv, "GET", regs+"/myregistry"+v, "owner", ""), 200, "demo-rg's registry")
	if r := call(t, srv, "GET", reg+"/providers/Microsoft.Authorization/roleAssignments"+v+"&$filter=atScope()", "owner", ""); len(r.body["value"].([]any)) != 3 {
		t.Fatalf("only the subscription's assignments should remain: %v", r.body)
	}
}

func TestProviders(t *testing.T) {
	srv := newAPIWith(t, &recorder{})
	list := call(t, srv, "GET", subPath+"/providers"+v, "reader", "")
	found := map[string]bool{}
	for _, item := range list.body["value"].([]any) {
		m := item.(map[string]any)
		found[m["namespace"].(string)] = m["registrationState"] == "Registered"
	}
	for _, ns := range []string{"Microsoft.ContainerRegistry", "Microsoft.Resources", "Microsoft.Authorization", "Microsoft.ManagedIdentity",
		"Microsoft.Network", "Microsoft.ContainerInstance", "Microsoft.Security"} {
		if !found[ns] {
			t.Errorf("%s is not listed as registered: %v", ns, found)
		}
	}
	p := call(t, srv, "GET", subPath+"/providers/microsoft.containerregistry"+v, "reader", "")
	types := map[string]bool{}
	for _, rt := range p.body["resourceTypes"].([]any) {
		types[rt.(map[string]any)["resourceType"].(string)] = true
	}
	if p.status != 200 || p.body["namespace"] != "Microsoft.ContainerRegistry" || !types["registries"] || !types["registries/replications"] || !types["registries/tasks"] {
		t.Fatalf("provider: %d %v", p.status, p.body)
	}
	if r := call(t, srv, "GET", subPath+"/providers/Microsoft.Nothing"+v, "reader", ""); r.status != 404 || errCode(r) != "InvalidResourceNamespace" {
		t.Fatalf("unknown provider: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "POST", subPath+"/providers/Microsoft.ContainerRegistry/register"+v, "reader", ""); r.status != 403 {
		t.Fatalf("reader registering: %d", r.status)
	}
	if r := call(t, srv, "POST", subPath+"/providers/Microsoft.ContainerRegistry/unregister"+v, "owner", ""); r.status != 200 || r.body["registrationState"] != "NotRegistered" {
		t.Fatalf("unregister: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "POST", subPath+"/providers/Microsoft.ContainerRegistry/register"+v, "owner", ""); r.status != 200 || r.body["registrationState"] != "Registered" {
		t.Fatalf("register: %d %v", r.status, r.body)
	}
}
