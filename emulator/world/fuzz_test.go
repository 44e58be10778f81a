package world

import "testing"

// FuzzParse: a world file never panics the loader; what it accepts validates again.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"registries:\n  - name: myregistry\n    sku: Premium\n",
		"registries:\n  - name: r1\n    networkRuleSet: {defaultAction: Deny, ipRules: [198.51.100.0/28]}\norigins:\n  - {name: office, ip: 198.51.100.7}\n",
		"registries:\n  - name: r1\n    images:\n      - repository: app\n        generate: {layers: 2, layerSize: 1024, platforms: [linux/amd64, linux/arm64]}\n",
		"servicePrincipals:\n  - {name: ci, secret: s}\nroleAssignments:\n  - {principal: ci, role: AcrPush, scope: subscription}\n",
		`{"registries":[{"name":"x"}]}`, "a: &a [*a]", "registries: 5",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		w, err := Parse([]byte(doc), "fuzz.yaml")
		if err != nil {
			return
		}
		if err := w.Validate(); err != nil {
			t.Fatalf("accepted, then refused on revalidation: %v\n%s", err, doc)
		}
	})
}
