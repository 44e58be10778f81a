package arm

import (
	"errors"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// FuzzPatch: a registry PATCH body is either refused with a 4xx ARM error or gives a registry
// whose network rules the data plane can evaluate.
func FuzzPatch(f *testing.F) {
	for _, s := range []string{
		`{"properties":{"publicNetworkAccess":"Disabled","networkRuleBypassOptions":"None"}}`,
		`{"properties":{"networkRuleSet":{"defaultAction":"Deny","ipRules":[{"action":"Allow","value":"198.51.100.0/24"}]}}}`,
		`{"properties":{"policies":{"retentionPolicy":{"days":400,"status":"enabled"}}}}`,
		`{"tags":{"a":"b"},"sku":{"name":"Basic"}}`, `{"properties":null}`, `[]`, `{`,
	} {
		f.Add(s)
	}
	base := &store.Registry{Name: "myregistry", SKU: "Premium", Location: "eastus", PublicNetworkAccess: true, DefaultActionAllow: true, BypassAzureServices: true}
	f.Fuzz(func(t *testing.T, body string) {
		next, err := Patch(base, []byte(body))
		if err != nil {
			var ae *Error
			if !errors.As(err, &ae) || ae.Status < 400 || ae.Status > 499 {
				t.Fatalf("Patch(%q): %v, want a 4xx ARM error", body, err)
			}
			return
		}
		if next.Name != base.Name {
			t.Fatalf("Patch(%q) renamed the registry to %q", body, next.Name)
		}
	})
}

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r",
		"//subscriptions/s/providers/Microsoft.Authorization/roleAssignments/x", "/subscriptions", "/providers/a/b", "/subscriptions/s/resourcegroups/RG/providers/x/y/z/w/v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) { _, _ = armid.Parse(p) })
}
