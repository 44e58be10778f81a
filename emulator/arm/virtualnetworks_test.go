package arm

import (
	"strings"
	"testing"
)

// VNets and subnets read back as created, subnets are resources of their own or listed inline,
// and a subnet a private endpoint uses cannot be deleted.
func TestVirtualNetworks(t *testing.T) {
	srv := newAPI(t)
	const api = "?api-version=2024-05-01"
	vnet := rgPath + "/providers/Microsoft.Network/virtualNetworks/appvnet"
	r := call(t, srv, "PUT", vnet+api, "owner", `{"location":"West Europe","tags":{"env":"test"},"properties":{"addressSpace":{"addressPrefixes":["10.20.0.0/16"]},"dhcpOptions":{"dnsServers":[]}}}`)
	if r.status != 201 || prop(r, "location") != "westeurope" || jsonOf(prop(r, "properties", "addressSpace")) != `{"addressPrefixes":["10.20.0.0/16"]}` ||
		prop(r, "properties", "provisioningState") != "Succeeded" || jsonOf(prop(r, "properties", "subnets")) != "[]" {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	r = call(t, srv, "PUT", vnet+"/subnets/endpoints"+api, "owner", `{"properties":{"addressPrefixes":["10.20.1.0/24"]}}`)
	if r.status != 201 || prop(r, "id") != vnet+"/subnets/endpoints" || prop(r, "properties", "privateEndpointNetworkPolicies") != "Disabled" {
		t.Fatalf("subnet: %d %v", r.status, r.body)
	}
	// A VNet PUT without subnets keeps them (the azurerm provider manages them apart).
	r = call(t, srv, "PUT", vnet+api, "owner", `{"location":"westeurope","properties":{"addressSpace":{"addressPrefixes":["10.20.0.0/16"]}}}`)
	if subs, _ := prop(r, "properties", "subnets").([]any); r.status != 200 || len(subs) != 1 {
		t.Fatalf("re-PUT: %d %v", r.status, r.body)
	}
	pe := rgPath + "/providers/Microsoft.Network/privateEndpoints/pe"
	peBody := func(subnet string) string {
		return `{"location":"westeurope","properties":{"subnet":{"id":"` + subnet + `"},"privateLinkServiceConnections":[{"name":"c","properties":{"privateLinkServiceId":"` +
			regs + `/myregistry","groupIds":["registry"]}}]}}`
	}
	if r := call(t, srv, "PUT", pe+api, "owner", peBody(vnet+"/subnets/nosuch")); r.status != 400 || errCode(r) != "InvalidResourceReference" {
		t.Fatalf("an endpoint in a missing subnet: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "PUT", pe+api, "owner", peBody(vnet+"/subnets/endpoints")); r.status != 201 {
		t.Fatalf("endpoint: %d %v", r.status, r.body)
	}
	r = call(t, srv, "GET", vnet+"/subnets/endpoints"+api, "owner", "")
	if !strings.Contains(jsonOf(prop(r, "properties", "privateEndpoints")), pe) {
		t.Fatalf("the subnet lists its endpoint: %v", r.body)
	}
	for _, p := range []string{vnet + "/subnets/endpoints", vnet} {
		if r := call(t, srv, "DELETE", p+api, "owner", ""); r.status != 400 || errCode(r) != "InUseSubnetCannotBeDeleted" {
			t.Fatalf("delete %s in use: %d %v", p, r.status, r.body)
		}
	}
	if r := call(t, srv, "DELETE", pe+api, "owner", ""); r.status >= 300 {
		t.Fatalf("delete endpoint: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "DELETE", vnet+"/subnets/endpoints"+api, "owner", ""); r.status >= 300 {
		t.Fatalf("delete subnet: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "GET", vnet+"/subnets/endpoints"+api, "owner", ""); r.status != 404 {
		t.Fatalf("deleted subnet: %d", r.status)
	}
	// Inline subnets, bad prefixes, the reader's rights.
	r = call(t, srv, "PUT", vnet+api, "owner", `{"location":"westeurope","properties":{"addressSpace":{"addressPrefixes":["10.20.0.0/16"]},"subnets":[{"name":"a","properties":{"addressPrefix":"10.20.2.0/24"}}]}}`)
	if subs, _ := prop(r, "properties", "subnets").([]any); r.status != 200 || len(subs) != 1 {
		t.Fatalf("inline subnets: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "PUT", vnet+"/subnets/b"+api, "owner", `{"properties":{"addressPrefix":"10.20.300.0/24"}}`); r.status != 400 || errCode(r) != "InvalidAddressPrefixFormat" {
		t.Fatalf("bad prefix: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "PUT", vnet+"/subnets/c"+api, "reader", `{"properties":{"addressPrefix":"10.20.3.0/24"}}`); r.status != 403 {
		t.Fatalf("a reader writes a subnet: %d", r.status)
	}
	if r := call(t, srv, "GET", rgPath+"/providers/Microsoft.Network/virtualNetworks"+api, "reader", ""); r.status != 200 || len(r.body["value"].([]any)) != 1 {
		t.Fatalf("list: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "DELETE", vnet+api, "owner", ""); r.status >= 300 {
		t.Fatalf("delete vnet: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "GET", vnet+api, "owner", ""); r.status != 404 {
		t.Fatalf("deleted vnet: %d", r.status)
	}
}
