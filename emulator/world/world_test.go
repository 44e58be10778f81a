package world

import (
	"strings"
	"testing"
)

func TestDefaultWorld(t *testing.T) {
	w := Default()
	if w.TenantID != "11111111-1111-1111-1111-111111111111" || w.SubscriptionID != "22222222-2222-2222-2222-222222222222" ||
		w.ResourceGroup != "demo-rg" || w.Location != "eastus" {
		t.Fatalf("well-known ids changed: %+v", w)
	}
	if len(w.Registries) != 1 {
		t.Fatalf("registries = %+v", w.Registries)
	}
	r := w.Registries[0]
	if r.Name != "myregistry" || r.SKU != "Premium" || !r.AdminUserEnabled || r.AdminPassword != "acr-emulator-admin-password" {
		t.Fatalf("default registry = %+v", r)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		desc, file, body, err string
	}{
		{desc: "yaml", file: "w.yaml", body: "registries:\n  - name: myregistry\n"},
		{desc: "json", file: "w.json", body: `{"registries":[{"name":"myregistry","port":8444}]}`},
		{desc: "unknown yaml field", file: "w.yaml", body: "registries:\n  - name: myregistry\n    colour: blue\n", err: "colour"},
		{desc: "unknown json field", file: "w.json", body: `{"registries":[{"name":"myregistry"}],"extra":1}`, err: "extra"},
		{desc: "no registry", file: "w.yaml", body: "tenantId: x\n", err: "at least one registry"},
		{desc: "short name", file: "w.yaml", body: "registries:\n  - name: abc\n", err: "5-50 lowercase"},
		{desc: "uppercase name", file: "w.yaml", body: "registries:\n  - name: MyRegistry\n", err: "5-50 lowercase"},
		{desc: "duplicate", file: "w.yaml", body: "registries:\n  - name: myregistry\n    port: 1\n  - name: myregistry\n    port: 2\n", err: "defined twice"},
		{desc: "bad sku", file: "w.yaml", body: "registries:\n  - name: myregistry\n    sku: Gold\n", err: "Basic, Standard or Premium"},
		{desc: "port reuse", file: "w.yaml", body: "registries:\n  - name: registrya\n    port: 9000\n  - name: registryb\n    port: 9000\n", err: "used twice"},
		{desc: "two on main listener", file: "w.yaml", body: "registries:\n  - name: registrya\n  - name: registryb\n", err: "only one can use the main HTTPS listener"},
		{desc: "bad enum names the field", file: "w.yaml", body: "registries:\n  - name: myregistry\n    publicNetworkAccess: Sometimes\n", err: "publicNetworkAccess \"Sometimes\": must be Enabled or Disabled"},
		{desc: "bad default action", file: "w.yaml", body: "registries:\n  - name: myregistry\n    networkRuleSet: {defaultAction: Maybe}\n", err: "networkRuleSet.defaultAction"},
		{desc: "network rules need Premium", file: "w.yaml", body: "registries:\n  - name: myregistry\n    sku: Basic\n    publicNetworkAccess: Disabled\n", err: "Premium SKU"},
		{desc: "IPv6 rule", file: "w.yaml", body: "registries:\n  - name: myregistry\n    networkRuleSet: {ipRules: ['2001:db8::1']}\n", err: "not an IPv4 address"},
		{desc: "origin PE to unknown registry", file: "w.yaml", body: "registries:\n  - name: myregistry\norigins:\n  - {name: v, privateEndpoints: [nothere]}\n", err: "unknown registry"},
		{desc: "two on main listener with suffix", file: "w.yaml", body: "loginServerSuffix: .azurecr.io\nregistries:\n  - name: registrya\n  - name: registryb\n"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			w, err := Parse([]byte(tc.body), tc.file)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if w.Registries[0].SKU != "Premium" {
					t.Fatalf("SKU default = %q, want Premium", w.Registries[0].SKU)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.file) {
				t.Fatalf("err = %v, want one naming %q and the file", err, tc.err)
			}
		})
	}
}
