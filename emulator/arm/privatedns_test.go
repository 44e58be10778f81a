package arm

import (
	"encoding/json"
	"strings"
	"testing"
)

// jsonOf re-marshals a decoded value, for comparing shapes.
func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestPrivateEndpointMembers(t *testing.T) {
	srv := newAPI(t)
	const pes = rgPath + "/providers/Microsoft.Network/privateEndpoints"
	const api = "?api-version=2024-05-01"
	subnet := rgPath + "/providers/Microsoft.Network/virtualNetworks/appvnet/subnets/pe-subnet"
	body := func(list, conn string) string {
		return `{"location":"eastus","properties":{"subnet":{"id":"` + subnet + `"},"` + list + `":[{"name":"` + conn +
			`","properties":{"privateLinkServiceId":"` + regs + `/myregistry","groupIds":["registry"]}}]}}`
	}
	// A manual connection waits: its interface holds the addresses already, customDnsConfigs
	// stays empty (the az CLI's recording test_acr_with_private_endpoint).
	r := call(t, srv, "PUT", pes+"/manual-pe"+api, "owner", body("manualPrivateLinkServiceConnections", "manual-conn"))
	if r.status != 201 || jsonOf(prop(r, "properties", "customDnsConfigs")) != "[]" {
		t.Fatalf("manual endpoint: %d %v", r.status, r.body)
	}
	conn := prop(r, "properties", "manualPrivateLinkServiceConnections").([]any)[0].(map[string]any)
	if conn["id"] != pes+"/manual-pe/manualPrivateLinkServiceConnections/manual-conn" ||
		jsonOf(conn["properties"].(map[string]any)["privateLinkServiceConnectionState"]) != `{"actionsRequired":"None","description":"Awaiting Approval","status":"Pending"}` {
		t.Fatalf("manual connection: %v", conn)
	}
	// An automatic one is approved at once and shows each member's FQDN and address: the login
	// server and the home region's data endpoint.
	r = call(t, srv, "PUT", pes+"/app-pe"+api, "owner", body("privateLinkServiceConnections", "app-conn"))
	if r.status != 201 {
		t.Fatalf("automatic endpoint: %d %v", r.status, r.body)
	}
	want := `[{"fqdn":"myregistry.azurecr.io","ipAddresses":["10.0.0.7"]},{"fqdn":"myregistry.eastus.data.azurecr.io","ipAddresses":["10.0.0.8"]}]`
	if got := jsonOf(prop(r, "properties", "customDnsConfigs")); got != want {
		t.Fatalf("customDnsConfigs = %s, want %s", got, want)
	}
	if prop(r, "properties", "subnet", "id") != subnet {
		t.Fatalf("subnet: %v", prop(r, "properties", "subnet"))
	}
	// The network interface: one IP configuration per member, with privateLinkConnectionProperties.
	nic := prop(r, "properties", "networkInterfaces").([]any)[0].(map[string]any)["id"].(string)
	if !strings.HasPrefix(nic, rgPath+"/providers/Microsoft.Network/networkInterfaces/app-pe.nic.") {
		t.Fatalf("nic id %s", nic)
	}
	n := call(t, srv, "GET", nic+"?api-version=2024-05-01", "reader", "")
	if n.status != 200 {
		t.Fatalf("nic: %d %v", n.status, n.body)
	}
	var got []string
	for _, c := range prop(n, "properties", "ipConfigurations").([]any) {
		p := c.(map[string]any)["properties"].(map[string]any)
		pl := p["privateLinkConnectionProperties"].(map[string]any)
		got = append(got, pl["requiredMemberName"].(string)+"="+p["privateIPAddress"].(string)+"="+jsonOf(pl["fqdns"]))
	}
	if strings.Join(got, " ") != `registry=10.0.0.7=["myregistry.azurecr.io"] registry_data_eastus=10.0.0.8=["myregistry.eastus.data.azurecr.io"]` {
		t.Fatalf("ip configurations: %v", got)
	}
	// A replication adds a data endpoint member, with the next free address; GETs are stable.
	if r := call(t, srv, "PUT", regs+"/myregistry/replications/westeurope"+v, "owner", `{"location":"westeurope"}`); r.status != 201 {
		t.Fatalf("replication: %d %v", r.status, r.body)
	}
	for range 2 {
		r = call(t, srv, "GET", pes+"/app-pe"+api, "reader", "")
		if got := jsonOf(prop(r, "properties", "customDnsConfigs")); !strings.HasSuffix(got, `{"fqdn":"myregistry.westeurope.data.azurecr.io","ipAddresses":["10.0.0.9"]}]`) {
			t.Fatalf("after the replication: %s", got)
		}
	}
	// The registry's data endpoints are served now, one per region; its flag stays as set, so
	// a template that never set it reads back no change.
	reg := call(t, srv, "GET", regs+"/myregistry"+v, "reader", "")
	if prop(reg, "properties", "dataEndpointEnabled") != false ||
		jsonOf(prop(reg, "properties", "dataEndpointHostNames")) != `["myregistry.eastus.data.azurecr.io","myregistry.westeurope.data.azurecr.io"]` {
		t.Fatalf("registry: %v %v", prop(reg, "properties", "dataEndpointEnabled"), prop(reg, "properties", "dataEndpointHostNames"))
	}

	// privateDnsZoneGroups for privatelink.azurecr.io: accepted and shown with their record sets.
	zone := rgPath + "/providers/Microsoft.Network/privateDnsZones/privatelink.azurecr.io"
	zg := pes + "/app-pe/privateDnsZoneGroups/default"
	r = call(t, srv, "PUT", zg+api, "owner", `{"properties":{"privateDnsZoneConfigs":[{"name":"privatelink-azurecr-io","properties":{"privateDnsZoneId":"`+zone+`"}}]}}`)
	if r.status != 201 {
		t.Fatalf("zone group: %d %v", r.status, r.body)
	}
	r = call(t, srv, "GET", zg+api, "reader", "")
	cfg := prop(r, "properties", "privateDnsZoneConfigs").([]any)[0].(map[string]any)
	var sets []string
	for _, s := range cfg["properties"].(map[string]any)["recordSets"].([]any) {
		m := s.(map[string]any)
		sets = append(sets, m["recordSetName"].(string)+"="+jsonOf(m["ipAddresses"]))
	}
	if r.status != 200 || cfg["properties"].(map[string]any)["privateDnsZoneId"] != zone ||
		strings.Join(sets, " ") != `myregistry=["10.0.0.7"] myregistry.eastus.data=["10.0.0.8"] myregistry.westeurope.data=["10.0.0.9"]` {
		t.Fatalf("zone group: %d %v", r.status, r.body)
	}
	if l := call(t, srv, "GET", pes+"/app-pe/privateDnsZoneGroups"+api, "reader", ""); l.status != 200 || len(l.body["value"].([]any)) != 1 {
		t.Fatalf("zone group list: %d %v", l.status, l.body)
	}
	for _, c := range []struct {
		desc, method, path, body string
		status                   int
		code                     string
	}{
		{"not a zone", "PUT", zg, `{"properties":{"privateDnsZoneConfigs":[{"properties":{"privateDnsZoneId":"` + regs + `/myregistry"}}]}}`, 400, "InvalidRequestFormat"},
		{"under a missing endpoint", "PUT", pes + "/nothere/privateDnsZoneGroups/default", `{"properties":{"privateDnsZoneConfigs":[]}}`, 404, "ResourceNotFound"},
		{"reader", "PUT", zg, `{"properties":{"privateDnsZoneConfigs":[]}}`, 403, "AuthorizationFailed"},
		{"patch", "PATCH", zg, `{}`, 405, ""},
		{"group id", "PUT", pes + "/bad-pe", strings.Replace(body("privateLinkServiceConnections", "c"), `["registry"]`, `["blob"]`, 1), 400, "PrivateEndpointBadRequest"},
	} {
		token := "owner"
		if c.desc == "reader" {
			token = "reader"
		}
		if r := call(t, srv, c.method, c.path+api, token, c.body); r.status != c.status || (c.code != "" && errCode(r) != c.code) {
			t.Errorf("%s: %d %v, want %d %s", c.desc, r.status, r.body, c.status, c.code)
		}
	}
	if r := call(t, srv, "DELETE", zg+api, "owner", ""); r.status != 200 && r.status != 204 {
		t.Fatalf("delete zone group: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "GET", zg+api, "reader", ""); r.status != 404 {
		t.Fatalf("deleted zone group: %d", r.status)
	}
	// The registry side shows the connection as the recording does: status, and a description
	// once someone wrote one.
	rc := call(t, srv, "GET", regs+"/myregistry/privateEndpointConnections/manual-conn"+v, "reader", "")
	if jsonOf(prop(rc, "properties", "privateLinkServiceConnectionState")) != `{"status":"Pending"}` {
		t.Fatalf("registry-side pending connection: %v", rc.body)
	}
}

// Deleting a connection from the registry's side takes it off the registry's list (the
// recording's list after az acr private-endpoint-connection delete is empty); the private
// endpoint shows it Disconnected.
func TestDeletedConnectionLeavesTheList(t *testing.T) {
	srv := newAPI(t)
	const pe = rgPath + "/providers/Microsoft.Network/privateEndpoints/app-pe"
	body := `{"location":"eastus","properties":{"subnet":{"id":"` + rgPath + `/providers/Microsoft.Network/virtualNetworks/appvnet/subnets/default"},` +
		`"privateLinkServiceConnections":[{"name":"app-conn","properties":{"privateLinkServiceId":"` + regs + `/myregistry","groupIds":["registry"]}}]}}`
	if r := call(t, srv, "PUT", pe+"?api-version=2024-05-01", "owner", body); r.status != 201 {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	conns := regs + "/myregistry/privateEndpointConnections"
	if r := call(t, srv, "DELETE", conns+"/app-conn"+v, "owner", ""); r.status != 200 && r.status != 202 {
		t.Fatalf("delete: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "GET", conns+v, "reader", ""); r.status != 200 || len(r.body["value"].([]any)) != 0 {
		t.Fatalf("list after delete: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "GET", conns+"/app-conn"+v, "reader", ""); r.status != 404 {
		t.Fatalf("get after delete: %d", r.status)
	}
	r := call(t, srv, "GET", pe+"?api-version=2024-05-01", "reader", "")
	state := prop(r, "properties", "privateLinkServiceConnections").([]any)[0].(map[string]any)["properties"].(map[string]any)["privateLinkServiceConnectionState"]
	if state.(map[string]any)["status"] != "Disconnected" || jsonOf(prop(r, "properties", "customDnsConfigs")) != "[]" {
		t.Fatalf("private endpoint after delete: %v", r.body)
	}
	if reg := call(t, srv, "GET", regs+"/myregistry"+v, "reader", ""); prop(reg, "properties", "dataEndpointEnabled") != false ||
		jsonOf(prop(reg, "properties", "privateEndpointConnections")) != "[]" {
		t.Fatalf("registry after delete: %v", reg.body)
	}
}
