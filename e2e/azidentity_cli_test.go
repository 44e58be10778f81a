package e2e

import (
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// TestAzureCLIRegistryIdentity: az acr identity assign/show/remove on the registry's own
// managed identity, system-assigned and user-assigned, with az 2.45.
func TestAzureCLIRegistryIdentity(t *testing.T) {
	emu := harness.Start(t)
	_, _, run := azLogin(t, emu)
	if got := run("acr", "identity", "assign", "-n", "myregistry", "--identities", "[system]", "--query", "identity.type", "-o", "tsv"); got != "SystemAssigned" {
		t.Fatalf("assign [system]: %q", got)
	}
	principal := run("acr", "identity", "show", "-n", "myregistry", "--query", "principalId", "-o", "tsv")
	if len(principal) != 36 {
		t.Fatalf("the system identity's principal id: %q", principal)
	}
	uami := run("identity", "show", "-g", "demo-rg", "-n", "demo-identity", "--query", "id", "-o", "tsv")
	got := run("acr", "identity", "assign", "-n", "myregistry", "--identities", uami, "--query", "[identity.type, keys(identity.userAssignedIdentities)[0]]", "-o", "tsv")
	if !strings.HasPrefix(got, "SystemAssigned, UserAssigned\n") || !strings.Contains(strings.ToLower(got), "/userassignedidentities/demo-identity") {
		t.Fatalf("assign a user-assigned identity: %q", got)
	}
	if got := run("acr", "identity", "show", "-n", "myregistry", "--query", "principalId", "-o", "tsv"); got != principal {
		t.Fatalf("the system identity changed when a user-assigned one was added: %q, was %q", got, principal)
	}
	if got := run("acr", "identity", "remove", "-n", "myregistry", "--identities", "[system]", "--query", "identity.type", "-o", "tsv"); got != "UserAssigned" {
		t.Fatalf("remove [system]: %q", got)
	}
	if got := run("acr", "identity", "remove", "-n", "myregistry", "--identities", uami, "--query", "identity.type", "-o", "tsv"); got != "None" && got != "" {
		t.Fatalf("remove the user-assigned identity: %q", got)
	}
}
