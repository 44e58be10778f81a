package arm

import (
	"strings"
	"testing"
)

func TestReplications(t *testing.T) {
	srv := newAPI(t)
	reps := regs + "/myregistry/replications"
	names := func() []string {
		r := call(t, srv, "GET", reps+v, "reader", "")
		var out []string
		for _, item := range r.body["value"].([]any) {
			m := item.(map[string]any)
			out = append(out, m["name"].(string)+"@"+m["location"].(string))
		}
		return out
	}
	// The home location is a replication from the start (the azurerm provider lists them).
	if got := names(); strings.Join(got, ",") != "eastus@eastus" {
		t.Fatalf("initial replications: %v", got)
	}
	home := call(t, srv, "GET", reps+"/EastUS"+v, "reader", "")
	if home.status != 200 || home.body["id"] != reps+"/eastus" || prop(home, "properties", "regionEndpointEnabled") != true ||
		prop(home, "properties", "zoneRedundancy") != "Disabled" || prop(home, "systemData", "createdByType") != "Application" ||
		prop(home, "properties", "status", "displayStatus") != "Ready" {
		t.Fatalf("home replication: %d %v", home.status, home.body)
	}
	for _, c := range []struct {
		desc, method, path, body string
		status                   int
		code                     string
	}{
		{"Basic registry", "PUT", regs + "/basicregistry/replications/westus", `{"location":"westus"}`, 400, "GeoReplicationNotSupported"},
		{"no location", "PUT", reps + "/westus", `{}`, 400, "LocationRequired"},
		{"unknown location", "PUT", reps + "/westus", `{"location":"moon"}`, 400, "LocationNotAvailableForResourceType"},
		{"bad name", "PUT", reps + "/west-us", `{"location":"westus"}`, 400, "InvalidResourceName"},
		{"bad zoneRedundancy", "PUT", reps + "/westus", `{"location":"westus","properties":{"zoneRedundancy":"Maybe"}}`, 400, "InvalidRequestContent"},
		{"reader", "PUT", reps + "/westus", `{"location":"westus"}`, 403, "AuthorizationFailed"},
		{"create", "PUT", reps + "/westus", `{"location":"West US","tags":{"a":"b"},"properties":{"zoneRedundancy":"Enabled","regionEndpointEnabled":false}}`, 201, ""},
		{"same location twice", "PUT", reps + "/westus2x", `{"location":"westus"}`, 409, "ReplicationLocationInUse"},
		{"the home location twice", "PUT", reps + "/homecopy", `{"location":"eastus"}`, 409, "ReplicationLocationInUse"},
		{"move", "PUT", reps + "/westus", `{"location":"northeurope"}`, 400, "InvalidResourceLocation"},
		{"zone redundancy is set once", "PATCH", reps + "/westus", `{"properties":{"zoneRedundancy":"Disabled"}}`, 400, "InvalidRequestContent"},
		{"patch", "PATCH", reps + "/WestUS", `{"tags":{"c":"d"},"properties":{"regionEndpointEnabled":true}}`, 201, ""},
		{"patch missing", "PATCH", reps + "/northeurope", `{"tags":{}}`, 404, "ResourceNotFound"},
		{"home cannot go", "DELETE", reps + "/eastus", "", 400, "HomeReplicationCannotBeDeleted"},
		{"missing registry", "GET", regs + "/nothere/replications", "", 404, "ResourceNotFound"},
		{"create in europe", "PUT", reps + "/northeurope", `{"location":"northeurope"}`, 201, ""},
		{"update the home one", "PUT", reps + "/eastus", `{"location":"eastus","tags":{"home":"yes"}}`, 200, ""},
		{"downgrade with replications", "PATCH", regs + "/myregistry", `{"sku":{"name":"Standard"},"properties":{"networkRuleSet":{"ipRules":[]}}}`, 400, "RegistrySkuDowngradeNotAllowed"},
	} {
		token := "owner"
		if c.desc == "reader" {
			token = "reader"
		}
		if r := call(t, srv, c.method, c.path+v, token, c.body); r.status != c.status || errCode(r) != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.desc, r.status, r.body, c.status, c.code)
		}
	}
	if got := strings.Join(names(), ","); got != "eastus@eastus,northeurope@northeurope,westus@westus" {
		t.Fatalf("replications: %s", got)
	}
	r := call(t, srv, "GET", reps+"/westus"+v, "reader", "")
	if prop(r, "properties", "zoneRedundancy") != "Enabled" || prop(r, "properties", "regionEndpointEnabled") != true || prop(r, "tags", "c") != "d" ||
		prop(r, "tags", "a") != nil || prop(r, "systemData", "createdBy") != "aaaaaaaa-0000-0000-0000-000000000001" {
		t.Fatalf("westus after PATCH: %v", r.body)
	}
	if r := call(t, srv, "GET", reps+"/eastus"+v, "reader", ""); prop(r, "tags", "home") != "yes" {
		t.Fatalf("home after PUT: %v", r.body)
	}
	// Data endpoints: one per replication location.
	r = call(t, srv, "PATCH", regs+"/myregistry"+v, "owner", `{"properties":{"dataEndpointEnabled":true}}`)
	hosts, _ := prop(r, "properties", "dataEndpointHostNames").([]any)
	if len(hosts) != 3 || hosts[0] != "myregistry.eastus.data.azurecr.io" || hosts[2] != "myregistry.westus.data.azurecr.io" {
		t.Fatalf("data endpoints: %v", hosts)
	}
	for _, name := range []string{"westus", "northeurope"} {
		if r := call(t, srv, "DELETE", reps+"/"+name+v, "owner", ""); r.status != 202 {
			t.Fatalf("delete %s: %d %v", name, r.status, r.body)
		}
	}
	if r := call(t, srv, "DELETE", reps+"/westus"+v, "owner", ""); r.status != 204 {
		t.Fatalf("delete again: %d", r.status)
	}
	if got := strings.Join(names(), ","); got != "eastus@eastus" {
		t.Fatalf("after deletes: %s", got)
	}
	// A Basic registry lists none; the registry's delete takes its replications along.
	if r := call(t, srv, "GET", regs+"/basicregistry/replications"+v, "reader", ""); r.status != 200 || len(r.body["value"].([]any)) != 0 {
		t.Fatalf("Basic registry's replications: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "PUT", reps+"/westus"+v, "owner", `{"location":"westus"}`); r.status != 201 {
		t.Fatal(r.status)
	}
	// geo-replicated, its delete is asynchronous (202, the registry Deleting), as recorded
	if r := call(t, srv, "DELETE", regs+"/myregistry"+v, "owner", ""); r.status != 202 || r.body["properties"].(map[string]any)["provisioningState"] != "Deleting" {
		t.Fatal(r.status, r.body)
	}
	if r := call(t, srv, "PUT", regs+"/myregistry"+v, "owner", `{"location":"eastus","sku":{"name":"Premium"}}`); r.status != 201 {
		t.Fatal(r.status)
	}
	if got := strings.Join(names(), ","); got != "eastus@eastus" {
		t.Fatalf("a new registry of the same name inherited replications: %s", got)
	}
}
