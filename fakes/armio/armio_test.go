package armio

import (
	"slices"
	"testing"
)

func TestIdentityAssigned(t *testing.T) {
	uami := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
	for _, tc := range []struct {
		name   string
		id     *Identity
		system bool
		user   []string
	}{
		{"no identity block", nil, false, []string{}},
		{"SystemAssigned", &Identity{Type: "SystemAssigned"}, true, []string{}},
		{"both, sorted", &Identity{Type: "SystemAssigned, UserAssigned", UserAssignedIdentities: map[string]any{uami + "b": map[string]any{}, uami + "a": nil}},
			true, []string{uami + "a", uami + "b"}},
		{"UserAssigned only", &Identity{Type: "UserAssigned", UserAssignedIdentities: map[string]any{uami + "a": map[string]any{}}}, false, []string{uami + "a"}},
		{"None", &Identity{Type: "None"}, false, []string{}},
	} {
		system, user := tc.id.Assigned()
		if system != tc.system || !slices.Equal(user, tc.user) || user == nil {
			t.Errorf("%s: %v %v", tc.name, system, user)
		}
	}
}
