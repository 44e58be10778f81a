package emulator_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/world"
)

// Attaching a user-assigned identity to a resource of any simulated service needs
// Microsoft.ManagedIdentity/userAssignedIdentities/assign/action on the identity: a caller
// who may write the resource but not assign the identity gets ARM's LinkedAuthorizationFailed
// and nothing is created; with Managed Identity Operator on the identity the same PUT works.
func TestAttachNeedsAssignOnTheIdentity(t *testing.T) {
	w := world.Default()
	const narrowID, narrowObject = "88888888-0000-4000-8000-000000000001", "88888888-0000-4000-8000-000000000002"
	w.ServicePrincipals = append(w.ServicePrincipals, world.ServicePrincipal{Name: "narrow", ClientID: narrowID, ObjectID: narrowObject, Secret: "narrow-secret"})
	w.RoleAssignments = append(w.RoleAssignments, world.RoleAssignment{Principal: "narrow", Role: "Contributor", Scope: "resourceGroup"})
	emu := emulatortest.New(t, emulatortest.WithWorld(w))
	owner, narrow := armClient(t, emu), armClientAs(t, emu, narrowID, "narrow-secret")
	const sub = "/subscriptions/22222222-2222-2222-2222-222222222222"
	// The identity lives in another resource group, outside narrow's Contributor scope.
	if status, out := owner("PUT", sub+"/resourceGroups/identities-rg", map[string]any{"location": "eastus"}); status != 201 {
		t.Fatalf("PUT group: %d %v", status, out)
	}
	uami := sub + "/resourceGroups/identities-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ops-identity"
	if status, out := owner("PUT", uami, map[string]any{"location": "eastus"}); status != 201 {
		t.Fatalf("PUT identity: %d %v", status, out)
	}
	image := emu.Registry().Host + "/linked/app:v1"
	identity := map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{uami: map[string]any{}}}
	resources := []struct{ typ, path string }{
		{"Microsoft.ContainerInstance/containerGroups", rg + "/providers/Microsoft.ContainerInstance/containerGroups/linked"},
		{"Microsoft.MachineLearningServices/workspaces", rg + "/providers/Microsoft.MachineLearningServices/workspaces/linked"},
		{"Microsoft.Web/sites", rg + "/providers/Microsoft.Web/sites/linked"},
		{"Microsoft.ContainerRegistry/registries/tasks", rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry/tasks/linked"},
	}
	bodies := map[string]map[string]any{
		"Microsoft.ContainerInstance/containerGroups": {"location": "eastus", "identity": identity, "properties": map[string]any{"osType": "Linux",
			"imageRegistryCredentials": []any{map[string]any{"server": emu.Registry().Host, "identity": uami}},
			"containers":               []any{map[string]any{"name": "app", "properties": map[string]any{"image": image}}}}},
		"Microsoft.MachineLearningServices/workspaces": {"location": "eastus", "identity": identity},
		"Microsoft.Web/sites": {"location": "eastus", "kind": "app,linux,container", "identity": identity,
			"properties": map[string]any{"siteConfig": map[string]any{"linuxFxVersion": "DOCKER|" + image, "acrUseManagedIdentityCreds": true, "acrUserManagedIdentityID": uami}}},
		"Microsoft.ContainerRegistry/registries/tasks": {"location": "eastus", "identity": identity, "properties": map[string]any{"platform": map[string]any{"os": "Linux"},
			"step": map[string]any{"type": "EncodedTask", "encodedTaskContent": "c3RlcHM6CiAgLSBjbWQ6IGhlbGxvLXdvcmxkCg=="}}},
	}
	for _, r := range resources {
		status, out := narrow("PUT", r.path, bodies[r.typ])
		msg := fmt.Sprint(get(out, "error", "message"))
		want := "The client '" + narrowObject + "' with object id '" + narrowObject + "' has permission to perform action '" + r.typ + "/write' on scope '" + r.path +
			"'; however, it does not have permission to perform action(s) 'Microsoft.ManagedIdentity/userAssignedIdentities/assign/action' on the linked scope(s) '" +
			uami + "' (respectively) or the linked scope(s) are invalid."
		if status != 403 || get(out, "error", "code") != "LinkedAuthorizationFailed" || msg != want {
			t.Errorf("%s without assign: %d %v", r.typ, status, out)
		}
		if status, _ := owner("GET", r.path, nil); status != 404 {
			t.Errorf("%s: a refused PUT created the resource (%d)", r.typ, status)
		}
		if res, _ := emu.Store().GetResource(r.path); res != nil {
			t.Errorf("%s: a refused PUT recorded identities: %+v", r.typ, res)
		}
	}
	// Managed Identity Operator on the identity is what the caller lacked.
	assignment := uami + "/providers/Microsoft.Authorization/roleAssignments/9a9a9a9a-0000-4000-8000-0000000000aa"
	if status, out := owner("PUT", assignment, map[string]any{"properties": map[string]any{
		"roleDefinitionId": sub + "/providers/Microsoft.Authorization/roleDefinitions/f1a07417-d97a-45cb-824c-7a7467783830",
		"principalId":      narrowObject, "principalType": "ServicePrincipal"}}); status != 201 {
		t.Fatalf("Managed Identity Operator: %d %v", status, out)
	}
	for _, r := range resources {
		if status, out := narrow("PUT", r.path, bodies[r.typ]); status != 200 && status != 201 {
			t.Errorf("%s with Managed Identity Operator: %d %v", r.typ, status, out)
		}
		res, _ := emu.Store().GetResource(r.path)
		if res == nil || res.Type != r.typ || len(res.UserAssigned) != 1 || !strings.EqualFold(res.UserAssigned[0], uami) {
			t.Errorf("%s: recorded %+v", r.typ, res)
		}
	}
	// Only a newly attached identity is checked: updating a resource that holds it already
	// needs no assign right.
	if status, out := owner("DELETE", assignment, nil); status != 200 {
		t.Fatalf("remove the role: %d %v", status, out)
	}
	if status, out := narrow("PUT", resources[1].path, bodies[resources[1].typ]); status != 200 {
		t.Fatalf("update keeping the identity: %d %v", status, out)
	}
	// An identity that does not exist is refused as ARM refuses it.
	missing := sub + "/resourceGroups/identities-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nothere"
	status, out := owner("PUT", rg+"/providers/Microsoft.Web/sites/missing", map[string]any{"location": "eastus", "kind": "app,linux,container",
		"identity":   map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{missing: map[string]any{}}},
		"properties": map[string]any{"siteConfig": map[string]any{"linuxFxVersion": "DOCKER|" + image}}})
	if status != 400 || get(out, "error", "code") != "FailedIdentityOperation" || !strings.Contains(fmt.Sprint(get(out, "error", "message")), missing) {
		t.Fatalf("missing identity: %d %v", status, out)
	}
}
