package armid

import (
	"reflect"
	"strings"
	"testing"
)

const (
	sub = "/subscriptions/22222222-2222-2222-2222-222222222222"
	reg = sub + "/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myRegistry"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		path       string
		key        string
		types      []string
		names      []string
		rg         string
		collection bool
		scope      string // of an extension resource
		str        string // String(); "" means path itself
	}{
		{path: "/subscriptions", key: "microsoft.resources/subscriptions", types: []string{"subscriptions"}, collection: true},
		{path: sub, key: "microsoft.resources/subscriptions", types: []string{"subscriptions"}, names: []string{"22222222-2222-2222-2222-222222222222"}},
		{path: sub + "/resourcegroups", key: "microsoft.resources/resourcegroups", types: []string{"resourcegroups"}, collection: true},
		{path: sub + "/ResourceGroups/My-RG", key: "microsoft.resources/resourcegroups", types: []string{"ResourceGroups"}, names: []string{"My-RG"}, rg: "My-RG"},
		{path: sub + "/resourceGroups/rg/resources", key: "microsoft.resources/resourcegroups/resources", types: []string{"resourceGroups", "resources"},
			names: []string{"rg"}, rg: "rg", collection: true},
		{path: sub + "/resources", key: "microsoft.resources/resources", types: []string{"resources"}, collection: true},
		{path: sub + "/providers", key: "microsoft.resources/providers", types: []string{"providers"}, collection: true},
		{path: sub + "/providers/microsoft.containerregistry", key: "microsoft.resources/providers", types: []string{"providers"},
			names: []string{"microsoft.containerregistry"}},
		{path: sub + "/providers/Microsoft.ContainerRegistry/register", key: "microsoft.resources/providers/register",
			types: []string{"providers", "register"}, names: []string{"Microsoft.ContainerRegistry"}, collection: true},
		{path: sub + "/operationresults/abc", key: "microsoft.resources/operationresults", types: []string{"operationresults"}, names: []string{"abc"}},
		{path: "/tenants", key: "microsoft.resources/tenants", types: []string{"tenants"}, collection: true},
		{path: "/providers/Microsoft.ContainerRegistry/operations", key: "microsoft.containerregistry/operations", types: []string{"operations"}, collection: true},
		{path: sub + "/providers/Microsoft.ContainerRegistry/registries", key: "microsoft.containerregistry/registries", types: []string{"registries"}, collection: true},
		{path: reg, key: "microsoft.containerregistry/registries", types: []string{"registries"}, names: []string{"myRegistry"}, rg: "demo-rg"},
		{path: strings.ToLower(reg) + "/Replications/EastUS", key: "microsoft.containerregistry/registries/replications",
			types: []string{"registries", "Replications"}, names: []string{"myregistry", "EastUS"}, rg: "demo-rg",
			str: sub + "/resourceGroups/demo-rg/providers/microsoft.containerregistry/registries/myregistry/Replications/EastUS"},
		{path: reg + "/listCredentials", key: "microsoft.containerregistry/registries/listcredentials", types: []string{"registries", "listCredentials"},
			names: []string{"myRegistry"}, rg: "demo-rg", collection: true},
		{path: "//" + strings.TrimPrefix(reg, "/") + "/providers/Microsoft.Authorization/roleAssignments/ra1", key: "microsoft.authorization/roleassignments",
			types: []string{"roleAssignments"}, names: []string{"ra1"}, rg: "demo-rg", scope: reg,
			str: reg + "/providers/Microsoft.Authorization/roleAssignments/ra1"},
		{path: sub + "/providers/Microsoft.Authorization/roleAssignments", key: "microsoft.authorization/roleassignments", types: []string{"roleAssignments"}, collection: true},
		{path: reg + "/providers/Microsoft.Security/assessments/k/subAssessments", key: "microsoft.security/assessments/subassessments",
			types: []string{"assessments", "subAssessments"}, names: []string{"k"}, rg: "demo-rg", collection: true, scope: reg},
	} {
		id, err := Parse(c.path)
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		if id.Key() != c.key || !reflect.DeepEqual(id.Types, c.types) || len(id.Names) != len(c.names) || (len(c.names) > 0 && !reflect.DeepEqual(id.Names, c.names)) ||
			id.ResourceGroup != c.rg || id.Collection() != c.collection {
			t.Errorf("%s: got key %q types %q names %q rg %q collection %v", c.path, id.Key(), id.Types, id.Names, id.ResourceGroup, id.Collection())
		}
		if (id.Scope != nil) != (c.scope != "") || (id.Scope != nil && id.Scope.String() != c.scope) {
			t.Errorf("%s: scope %v, want %q", c.path, id.Scope, c.scope)
		}
		want := c.str
		if want == "" {
			want = "/" + strings.TrimLeft(c.path, "/")
		}
		if id.String() != want {
			t.Errorf("%s: String() = %q, want %q", c.path, id.String(), want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, p := range []string{"", "/", "/v2/", "/v2/subscriptions/x", "/subscriptions/s//resourceGroups", "/providers", "/metadata/endpoints",
		"/subscriptions/s/resourceGroups/rg/providers"} {
		if id, err := Parse(p); err == nil {
			t.Errorf("%q parsed as %+v", p, id)
		}
	}
}

func TestRespellKeepsNames(t *testing.T) {
	id, err := Parse(sub + "/resourcegroups/My-RG/providers/microsoft.containerregistry/Registries/MyReg/WEBHOOKS/Hook1")
	if err != nil {
		t.Fatal(err)
	}
	spell := map[string]string{"microsoft.containerregistry": "Microsoft.ContainerRegistry", "registries": "registries", "webhooks": "webHooks", "resourcegroups": "resourceGroups"}
	got := id.Respell(func(s string) string { return spell[s] }).String()
	if want := sub + "/resourceGroups/My-RG/providers/Microsoft.ContainerRegistry/registries/MyReg/webHooks/Hook1"; got != want {
		t.Fatalf("Respell: %s, want %s", got, want)
	}
	if p := id.Parent(); p.Name() != "MyReg" || p.Key() != "microsoft.containerregistry/registries" {
		t.Fatalf("Parent: %+v", p)
	}
	if r := id.Resource(1); r.String() != sub+"/resourceGroups/My-RG/providers/microsoft.containerregistry/Registries/MyReg" || r.Name() != "MyReg" {
		t.Fatalf("Resource(1): %s", r)
	}
	if c := id.Parent().Child("replications", "eastus"); c.Key() != "microsoft.containerregistry/registries/replications" || c.Name() != "eastus" || id.Name() != "Hook1" {
		t.Fatalf("Child: %+v (and the original %+v)", c, id)
	}
}
