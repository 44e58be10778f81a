package rbac

import (
	"strings"
	"testing"
)

const (
	sub      = "/subscriptions/22222222-2222-2222-2222-222222222222"
	rg       = sub + "/resourceGroups/demo-rg"
	registry = rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	other    = rg + "/providers/Microsoft.ContainerRegistry/registries/other"
	me       = "44444444-4444-4444-4444-444444444444"
)

func assign(role, scope string) Assignment {
	r, ok := RoleByName(role)
	if !ok {
		panic("unknown role " + role)
	}
	return Assignment{PrincipalID: me, RoleDefinitionID: DefinitionID("22222222-2222-2222-2222-222222222222", r.ID), Scope: scope}
}

func TestDataByRoleAndMode(t *testing.T) {
	// want lists the actions granted on repository "app", "C" for catalog.
	tests := []struct {
		role   string
		legacy string
		abac   string
	}{
		{role: "AcrPull", legacy: "pull metadata_read C", abac: ""},
		{role: "AcrPush", legacy: "pull push metadata_read metadata_write C", abac: ""},
		{role: "AcrDelete", legacy: "delete", abac: ""},
		{role: "Owner", legacy: "pull push delete metadata_read metadata_write C", abac: ""},
		{role: "Contributor", legacy: "pull push delete metadata_read metadata_write C", abac: ""},
		{role: "Reader", legacy: "pull metadata_read C", abac: ""},
		{role: "Container Registry Data Importer and Data Reader", legacy: "pull metadata_read C", abac: "pull metadata_read C"},
		{role: "Container Registry Repository Reader", legacy: "", abac: "pull metadata_read"},
		{role: "Container Registry Repository Writer", legacy: "", abac: "pull push metadata_read metadata_write"},
		{role: "Container Registry Repository Contributor", legacy: "", abac: "pull push delete metadata_read metadata_write"},
		{role: "Container Registry Repository Catalog Lister", legacy: "", abac: "C"},
		{role: "User Access Administrator", legacy: "pull metadata_read C", abac: ""},
		{role: "AcrImageSigner", legacy: "", abac: ""},
	}
	describe := func(g DataGrant) string {
		var out []string
		for _, a := range []string{ActionPull, ActionPush, ActionDelete, ActionMetadataRead, ActionMetadataWrite} {
			if g.Allowed("app", a) {
				out = append(out, a)
			}
		}
		if g.Catalog() {
			out = append(out, "C")
		}
		return strings.Join(out, " ")
	}
	for _, tc := range tests {
		t.Run(tc.role, func(t *testing.T) {
			as := []Assignment{assign(tc.role, registry)}
			if got := describe(Data(as, me, registry, ModeLegacy)); got != tc.legacy {
				t.Errorf("legacy: %q, want %q", got, tc.legacy)
			}
			if got := describe(Data(as, me, registry, ModeABAC)); got != tc.abac {
				t.Errorf("abac: %q, want %q", got, tc.abac)
			}
			if Data(as, me, registry, ModeLegacy).Any() != (tc.legacy != "") {
				t.Errorf("legacy Any() wrong")
			}
		})
	}
}

func TestScopes(t *testing.T) {
	tests := []struct {
		scope string
		want  bool
	}{
		{sub, true},
		{rg, true},
		{registry, true},
		{strings.ToUpper(registry), true},
		{registry + "/", true},
		{"/", true},
		{other, false},
		{sub + "/resourceGroups/other-rg", false},
		{rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry2", false},
		{"/subscriptions/99999999-9999-9999-9999-999999999999", false},
	}
	for _, tc := range tests {
		got := Data([]Assignment{assign("AcrPull", tc.scope)}, me, registry, ModeLegacy).Allowed("app", ActionPull)
		if got != tc.want {
			t.Errorf("AcrPull at %s: %v, want %v", tc.scope, got, tc.want)
		}
	}
	a := assign("AcrPull", registry)
	a.PrincipalID = "someone-else"
	if Data([]Assignment{a}, me, registry, ModeLegacy).Any() {
		t.Error("another principal's assignment applied")
	}
}

func TestConditions(t *testing.T) {
	equals := `((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'}) AND !(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/metadata/read'})) OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEqualsIgnoreCase 'hello-world'))`
	prefix := `@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'backend/'`
	tests := []struct {
		cond, repo string
		want       bool
	}{
		{equals, "hello-world", true},
		{equals, "Hello-World", true},
		{equals, "hello-world2", false},
		{prefix, "backend/api", true},
		{prefix, "frontend/api", false},
		{"@Resource[something] Unknown 'x'", "hello-world", false},
		{"", "anything", true},
	}
	for _, tc := range tests {
		a := assign("Container Registry Repository Reader", registry)
		a.Condition = tc.cond
		g := Data([]Assignment{a}, me, registry, ModeABAC)
		if got := g.Allowed(tc.repo, ActionPull); got != tc.want {
			t.Errorf("condition %.40q on %s: %v, want %v", tc.cond, tc.repo, got, tc.want)
		}
		// A conditional grant is never registry-wide.
		if tc.cond != "" && g.Allowed("*", ActionPull) {
			t.Errorf("conditional grant treated as registry-wide")
		}
	}
	// Conditions do not apply in legacy mode: AcrPull there is registry-wide.
	a := assign("AcrPull", registry)
	a.Condition = prefix
	if !Data([]Assignment{a}, me, registry, ModeLegacy).Allowed("frontend/api", ActionPull) {
		t.Error("legacy mode applied an ABAC condition")
	}
}

func TestControlAllowed(t *testing.T) {
	tests := []struct {
		role, action string
		want         bool
	}{
		{"Owner", "Microsoft.ContainerRegistry/registries/write", true},
		{"Owner", "Microsoft.Authorization/roleAssignments/write", true},
		{"Contributor", "Microsoft.ContainerRegistry/registries/write", true},
		{"Contributor", "Microsoft.Authorization/roleAssignments/write", false},
		{"Contributor", "microsoft.authorization/roleassignments/delete", false},
		{"Reader", "Microsoft.ContainerRegistry/registries/read", true},
		{"Reader", "Microsoft.ContainerRegistry/registries/write", false},
		{"User Access Administrator", "Microsoft.Authorization/roleAssignments/write", true},
		{"User Access Administrator", "Microsoft.ContainerRegistry/registries/write", false},
		{"AcrPull", "Microsoft.ContainerRegistry/registries/write", false},
		{"Container Registry Tasks Contributor", "Microsoft.ContainerRegistry/registries/tasks/write", true},
		{"Container Registry Data Importer and Data Reader", "Microsoft.ContainerRegistry/registries/importImage/action", true},
		{"Managed Identity Operator", "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", true},
		{"Managed Identity Operator", "Microsoft.ManagedIdentity/userAssignedIdentities/read", true},
		{"Managed Identity Operator", "Microsoft.ManagedIdentity/userAssignedIdentities/write", false},
		{"Managed Identity Operator", "Microsoft.ContainerRegistry/registries/write", false},
		{"Contributor", "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", true},
		{"Reader", "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", false},
		{"AcrPush", "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", false},
	}
	for _, tc := range tests {
		if got := ControlAllowed([]Assignment{assign(tc.role, sub)}, me, registry, tc.action); got != tc.want {
			t.Errorf("%s %s: %v, want %v", tc.role, tc.action, got, tc.want)
		}
	}
}

func TestRoleLookups(t *testing.T) {
	r, ok := RoleByName("acrpull")
	if !ok || r.ID != "7f951dda-4ed3-4680-a7ca-43fe172d538d" {
		t.Fatalf("RoleByName(acrpull) = %+v", r)
	}
	if r, ok := RoleByID(DefinitionID("x", "8E3AF657-A8FF-443C-A75C-2FE8C4BCB635")); !ok || r.Name != "Owner" {
		t.Fatalf("RoleByID(full, upper) = %+v", r)
	}
	if _, ok := RoleByID("00000000-0000-0000-0000-000000000000"); ok {
		t.Fatal("unknown role found")
	}
	seen := map[string]bool{}
	for _, r := range BuiltInRoles() {
		if seen[r.ID] || len(r.ID) != 36 {
			t.Fatalf("role %s has a bad or duplicate id %q", r.Name, r.ID)
		}
		seen[r.ID] = true
	}
}
