package fidelity

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestShapeOf(t *testing.T) {
	for _, tc := range []struct {
		body string
		want Shape
	}{
		{"", Shape{"": TypeEmpty}},
		{"null", Shape{"": TypeNull}},
		{"not json", Shape{"": TypeText}},
		{`{"a":1,"b":"x","c":true,"d":null,"e":[],"f":{}}`, Shape{"": TypeObject, "a": TypeNumber, "b": TypeString, "c": TypeBool,
			"d": TypeNull, "e": TypeArray, "f": TypeObject}},
		{`{"value":[{"id":"x"},{"id":"y","n":2}]}`, Shape{"": TypeObject, "value": TypeArray, "value[]": TypeObject,
			"value[].id": TypeString, "value[].n": TypeNumber}},
		// keys that are data: tags, a login server, a resource id
		{`{"tags":{"env":"x"},"properties":{"customRegistries":{"a.azurecr.io":null}},"identity":{"userAssignedIdentities":{"/subscriptions/s/x":{"principalId":"p"}}}}`,
			Shape{"": TypeObject, "tags": TypeObject, "tags.{}": TypeString, "properties": TypeObject, "properties.customRegistries": TypeObject,
				"properties.customRegistries.{}": TypeNull, "identity": TypeObject, "identity.userAssignedIdentities": TypeObject,
				"identity.userAssignedIdentities.{}": TypeObject, "identity.userAssignedIdentities.{}.principalId": TypeString}},
	} {
		if got := ShapeOf([]byte(tc.body)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ShapeOf(%q) = %v, want %v", tc.body, got, tc.want)
		}
	}
}

func TestFlattenRoundTrip(t *testing.T) {
	for _, body := range []string{
		`{"location":"eastus","sku":{"name":"Premium"},"properties":{"adminUserEnabled":false}}`,
		`{"properties":{"credentials":{},"step":{"arguments":[],"imageNames":["a:v1","b:v2"]},"customRegistries":{"test.acr.com":null}}}`,
		`{"properties":{"authCredentials":[{"name":"Credential1","usernameSecretIdentifier":"https://kv/secrets/u"}],"count":1}}`,
	} {
		flat, err := Flatten([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		back, err := Unflatten(flat)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		_ = json.Unmarshal([]byte(body), &a)
		_ = json.Unmarshal(back, &b)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("round trip of %s = %s (flat %v)", body, back, flat)
		}
	}
	if _, err := Unflatten(map[string]any{"a[x]": 1}); err == nil {
		t.Error("a bad index was accepted")
	}
}

func TestClassify(t *testing.T) {
	reg := "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r"
	for _, tc := range []struct{ path, family, template, poll string }{
		{reg, "registries", "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/{registryName}", ""},
		{reg + "/agentPools/a1", "registries/agentPools", "…/registries/{registryName}/agentPools/{agentPoolName}", ""},
		{reg + "/tasks", "registries/tasks", "…/registries/{registryName}/tasks", ""},
		{reg + "/tasks/t/listDetails", "registries/tasks/listDetails", "…/registries/{registryName}/tasks/{taskName}/listDetails", ""},
		{reg + "/operationStatuses/registries-74df9d38-23e4-11f0-8489-00155d325208", "registries/operationStatuses", "…/registries/{registryName}/operationStatuses/{operationId}", "async"},
		{reg + "/agentPoolsOperationResults/c8d70e6f-d235-497f-b510-b69a428b90ac/status", "registries/agentPoolsOperationResults/status",
			"…/registries/{registryName}/agentPoolsOperationResults/{operationId}/status", "location"},
		{"/subscriptions/s/providers/Microsoft.ContainerRegistry/locations/westus/operationResults/registries-x", "locations/operationResults",
			"/subscriptions/{subscriptionId}/providers/Microsoft.ContainerRegistry/locations/{locationName}/operationResults/{operationId}", "location"},
		{"/subscriptions/s/resources", "resources", "/subscriptions/{subscriptionId}/resources", ""},
		{"/subscriptions/s/resourceGroups/rg", "resourceGroups", "/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}", ""},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v", "Microsoft.Network/virtualNetworks",
			"/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}", ""},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s1", "Microsoft.Network/virtualNetworks/subnets",
			"/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.Network/virtualNetworks/{virtualNetworkName}/subnets/{subnetName}", ""},
		{"/subscriptions/s/providers/Microsoft.Network/locations/eastus2/operations/x", "", "", ""},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/n", "", "", ""},
		{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1", "Microsoft.ManagedIdentity/userAssignedIdentities",
			"/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{resourceName}", ""},
		{"/providers/Microsoft.ContainerRegistry/operations", "", "", ""},
	} {
		family, template, poll := Classify(tc.path)
		if strings.HasPrefix(tc.template, "…") {
			template = "…" + template[strings.Index(template, "/registries/"):]
		}
		if family != tc.family || template != tc.template || poll != tc.poll {
			t.Errorf("Classify(%s) = %q %q %q, want %q %q %q", tc.path, family, template, poll, tc.family, tc.template, tc.poll)
		}
	}
}

func TestCompare(t *testing.T) {
	want := Interaction{Family: "registries", APIVersion: "v1", Status: 200, Shape: ShapeOf([]byte(
		`{"id":"x","properties":{"policies":{"a":{"status":"on"}},"list":[],"status":{"displayStatus":"Ready"}}}`))}
	other := Interaction{Family: "registries", APIVersion: "v1", Status: 200, Shape: ShapeOf([]byte(
		`{"id":"x","properties":{"networkRuleSet":{"defaultAction":"Allow"},"status":null}}`))}
	v := NewVariance(Data{Recordings: []Recording{{Interactions: []Interaction{want, other}}}})
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   []string
	}{
		{"same", 200, `{"id":"y","properties":{"policies":{"a":{"status":"off"}},"list":[],"status":{"displayStatus":"x"}}}`, nil},
		{"status", 201, `{"id":"y","properties":{"policies":{"a":{"status":"off"}},"list":[],"status":{"displayStatus":"x"}}}`, []string{"status 201 want 200"}},
		{"missing subtree once", 200, `{"id":"y","properties":{"list":[],"status":{"displayStatus":"x"}}}`, []string{"missing properties.policies"}},
		{"extra", 200, `{"id":"y","zzz":1,"properties":{"policies":{"a":{"status":"off"}},"list":[],"status":{"displayStatus":"x"}}}`, []string{"extra zzz"}},
		{"varies: a key another answer has", 200, `{"id":"y","properties":{"networkRuleSet":{"defaultAction":"Deny"},"policies":{"a":{"status":"off"}},"list":[],"status":{"displayStatus":"x"}}}`, nil},
		{"varies: null where another answer has null", 200, `{"id":"y","properties":{"policies":{"a":{"status":"off"}},"list":[],"status":null}}`, []string{"missing properties.status.displayStatus"}},
		{"null where Azure writes an object", 200, `{"id":"y","properties":{"policies":null,"list":[],"status":{"displayStatus":"x"}}}`,
			[]string{"missing properties.policies.a", "type properties.policies null want object"}},
		{"items of a list Azure answered empty", 200, `{"id":"y","properties":{"policies":{"a":{"status":"off"}},"list":[{"k":1}],"status":{"displayStatus":"x"}}}`, nil},
		{"a failure: no shape compared", 404, `{"error":{"code":"ResourceNotFound"}}`, []string{"status 404 want 200"}},
	} {
		var got []string
		for _, g := range Compare(want, tc.status, "", ShapeOf([]byte(tc.body)), v) {
			got = append(got, g.String())
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: gaps = %q, want %q", tc.name, got, tc.want)
		}
	}
	failed := Interaction{Family: "registries", Status: 404, ErrorCode: "ResourceNotFound", Shape: ShapeOf([]byte(`{"error":{"code":"x","message":"y"}}`))}
	if g := Compare(failed, 404, "NotFound", ShapeOf([]byte(`{"error":{"code":"NotFound","message":"m"}}`)), v); len(g) != 1 || g[0].String() != "code NotFound want ResourceNotFound" {
		t.Errorf("error code: %v", g)
	}
}

func TestDerive(t *testing.T) {
	cassette := `source: Azure/azure-cli@abc
interactions:
- request:
    method: PUT
    uri: https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r?api-version=2025-03-01-preview
    body: '{"location": "eastus", "sku": {"name": "Basic"}}'
  response:
    status: {code: 201}
    body: {string: '{"id":"/subscriptions/00000000-0000-0000-0000-000000000000/x","properties":{"provisioningState":"Creating"}}'}
- request:
    method: GET
    uri: https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r/operationStatuses/registries-1?api-version=2025-03-01-preview&t=1&c=2&s=3&h=4
    body: null
  response:
    status: {code: 200}
    body: {string: '{"status":"Creating"}'}
- request:
    method: GET
    uri: https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r/operationStatuses/registries-1?api-version=2025-03-01-preview&t=5&c=2&s=3&h=4
    body: null
  response:
    status: {code: 200}
    body: {string: '{"status":"Succeeded"}'}
- request:
    method: PUT
    uri: https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v?api-version=2024-07-01
    body: '{}'
  response:
    status: {code: 201}
    body: {string: '{}'}
- request:
    method: GET
    uri: https://management.azure.com/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/nope?api-version=2025-03-01-preview
    body: null
  response:
    status: {code: 404}
    body: {string: '{"error":{"code":"ResourceNotFound","message":"gone"}}'}
version: 1
`
	rec, err := Derive("test_x", []byte(cassette))
	if err != nil {
		t.Fatal(err)
	}
	if rec.Source != "Azure/azure-cli@abc" || len(rec.Interactions) != 4 {
		t.Fatalf("recording = %+v", rec)
	}
	put, poll, vnet, missing := rec.Interactions[0], rec.Interactions[1], rec.Interactions[2], rec.Interactions[3]
	if !vnet.Setup || vnet.Family != "Microsoft.Network/virtualNetworks" || vnet.Status != 201 || vnet.Shape[""] != TypeEmpty {
		t.Errorf("the virtual network (setup, its answer's shape not derived) = %+v", vnet)
	}
	if put.Path != "/subscriptions/{subscriptionId}/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r" || put.APIVersion != "2025-03-01-preview" ||
		put.Request["sku.name"] != "Basic" || !reflect.DeepEqual(put.RequestPaths, []string{"location", "sku", "sku.name"}) || put.Status != 201 {
		t.Errorf("put = %+v", put)
	}
	if poll.Poll != "async" || poll.Query != "" || poll.Shape["status"] != TypeString {
		t.Errorf("poll (the two polls of one shape kept once) = %+v", poll)
	}
	if missing.ErrorCode != "ResourceNotFound" {
		t.Errorf("404 = %+v", missing)
	}
}
