// Package rbac holds Azure's built-in role definitions (with their real GUIDs) and evaluates
// role assignments, as pure functions: data-plane permissions of a registry for the ACR token
// service, and control-plane actions for the ARM management plane.
//
// Limits: only built-in roles; ABAC conditions are understood in the forms ACR documents
// (repository name equals / starts with), anything else grants nothing (fail closed); deny
// assignments do not exist.
package rbac

import "strings"

// RoleDefinition is a built-in role.
type RoleDefinition struct {
	ID             string // GUID
	Name           string
	Description    string
	Actions        []string
	NotActions     []string
	DataActions    []string
	NotDataActions []string
}

const cr = "Microsoft.ContainerRegistry/registries/"

// BuiltInRoles returns the built-in roles the emulator knows, as Azure defines them
// (learn.microsoft.com, built-in roles: containers; general).
func BuiltInRoles() []RoleDefinition {
	return []RoleDefinition{
		{ID: "7f951dda-4ed3-4680-a7ca-43fe172d538d", Name: "AcrPull", Description: "acr pull",
			Actions: []string{cr + "pull/read"}},
		{ID: "8311e382-0749-4cb8-b61a-304f252e45ec", Name: "AcrPush", Description: "acr push",
			Actions: []string{cr + "pull/read", cr + "push/write"}},
		{ID: "c2f4ef07-c644-48eb-af81-4b1b4947fb11", Name: "AcrDelete", Description: "acr delete",
			Actions: []string{cr + "artifacts/delete"}},
		{ID: "6cef56e8-d556-48e5-a04f-b8e64114680f", Name: "AcrImageSigner", Description: "acr image signer",
			Actions: []string{cr + "sign/write"}, DataActions: []string{cr + "trustedCollections/write"}},
		{ID: "cdda3590-29a3-44f6-95f2-9f980659eb04", Name: "AcrQuarantineReader", Description: "acr quarantine data reader",
			Actions: []string{cr + "quarantine/read"}, DataActions: []string{cr + "quarantinedArtifacts/read"}},
		{ID: "c8d4ff99-41c3-41a8-9f60-21dfdad59608", Name: "AcrQuarantineWriter", Description: "acr quarantine data writer",
			Actions:     []string{cr + "quarantine/read", cr + "quarantine/write"},
			DataActions: []string{cr + "quarantinedArtifacts/read", cr + "quarantinedArtifacts/write"}},
		{ID: "b93aa761-3e63-49ed-ac28-beffa264f7ac", Name: "Container Registry Repository Reader",
			DataActions: []string{cr + "repositories/metadata/read", cr + "repositories/content/read"}},
		{ID: "2a1e307c-b015-4ebd-883e-5b7698a07328", Name: "Container Registry Repository Writer",
			DataActions: []string{cr + "repositories/metadata/read", cr + "repositories/content/read",
				cr + "repositories/metadata/write", cr + "repositories/content/write"}},
		{ID: "2efddaa5-3f1f-4df3-97df-af3f13818f4c", Name: "Container Registry Repository Contributor",
			DataActions: []string{cr + "repositories/metadata/read", cr + "repositories/content/read",
				cr + "repositories/metadata/write", cr + "repositories/content/write",
				cr + "repositories/metadata/delete", cr + "repositories/content/delete"}},
		{ID: "bfdb9389-c9a5-478a-bb2f-ba9ca092c3c7", Name: "Container Registry Repository Catalog Lister",
			DataActions: []string{cr + "catalog/read"}},
		{ID: "577a9874-89fd-4f24-9dbd-b5034d0ad23a", Name: "Container Registry Data Importer and Data Reader",
			Actions:     []string{cr + "importImage/action", cr + "read", cr + "pull/read"},
			DataActions: []string{cr + "repositories/content/read", cr + "repositories/metadata/read", cr + "catalog/read"}},
		{ID: "fb382eab-e894-4461-af04-94435c366c3f", Name: "Container Registry Tasks Contributor",
			Actions: []string{cr + "tasks/*", cr + "scheduleRun/action", cr + "listBuildSourceUploadUrl/action", cr + "runs/read",
				cr + "runs/write", cr + "runs/listLogSasUrl/action", cr + "runs/cancel/action", cr + "agentpools/*",
				cr + "taskruns/*", cr + "read"}},
		{ID: "3bc748fc-213d-45c1-8d91-9da5725539b9", Name: "Container Registry Contributor and Data Access Configuration Administrator",
			Actions: []string{cr + "read", cr + "write", cr + "delete", cr + "listCredentials/action", cr + "regenerateCredential/action",
				cr + "tokens/*", cr + "scopeMaps/*", cr + "webhooks/*", cr + "replications/*", cr + "privateEndpointConnections/*",
				"Microsoft.Resources/deployments/*", "Microsoft.Resources/subscriptions/resourceGroups/read"}},
		{ID: "69b07be0-09bf-439a-b9a6-e73de851bd59", Name: "Container Registry Configuration Reader and Data Access Configuration Reader",
			Actions: []string{cr + "read", cr + "listCredentials/action", cr + "tokens/read", cr + "scopeMaps/read",
				cr + "webhooks/read", cr + "replications/read", "Microsoft.Resources/subscriptions/resourceGroups/read"}},
		{ID: "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", Name: "Owner", Description: "Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
			Actions: []string{"*"}},
		{ID: "b24988ac-6180-42a0-ab88-20f7382dd24c", Name: "Contributor", Description: "Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC.",
			Actions: []string{"*"},
			NotActions: []string{"Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/elevateAccess/Action",
				"Microsoft.Blueprint/blueprintAssignments/write", "Microsoft.Blueprint/blueprintAssignments/delete",
				"Microsoft.Compute/galleries/share/action"}},
		{ID: "acdd72a7-3385-48ef-bd42-f606fba81ae7", Name: "Reader", Description: "View all resources, but does not allow you to make any changes.",
			Actions: []string{"*/read"}},
		// What attaching a user-assigned identity to a resource needs on the identity
		// (ARM's linked authorization), besides Owner and Contributor.
		{ID: "f1a07417-d97a-45cb-824c-7a7467783830", Name: "Managed Identity Operator", Description: "Read and Assign User Assigned Identity",
			Actions: []string{"Microsoft.ManagedIdentity/userAssignedIdentities/*/read", "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
				"Microsoft.Authorization/*/read", "Microsoft.Insights/alertRules/*", "Microsoft.Resources/subscriptions/resourceGroups/read",
				"Microsoft.Resources/deployments/*", "Microsoft.Support/*"}},
		// What a credential set's identity needs on the vault of its secrets (the artifact cache).
		{ID: "4633458b-17de-408a-b874-0445c86b69e6", Name: "Key Vault Secrets User", Description: "Read secret contents. Only works for key vaults that use the 'Azure role-based access control' permission model.",
			DataActions: []string{"Microsoft.KeyVault/vaults/secrets/getSecret/action", "Microsoft.KeyVault/vaults/secrets/readMetadata/action"}},
		{ID: "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9", Name: "User Access Administrator", Description: "Lets you manage user access to Azure resources.",
			Actions: []string{"*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"}},
	}
}

// RoleByID finds a role by GUID or full role definition id (case-insensitive).
func RoleByID(id string) (RoleDefinition, bool) {
	if i := strings.LastIndex(id, "/"); i >= 0 {
		id = id[i+1:]
	}
	for _, r := range BuiltInRoles() {
		if strings.EqualFold(r.ID, id) {
			return r, true
		}
	}
	return RoleDefinition{}, false
}

// RoleByName finds a role by name, case-insensitively (az accepts "acrpull").
func RoleByName(name string) (RoleDefinition, bool) {
	for _, r := range BuiltInRoles() {
		if strings.EqualFold(r.Name, name) {
			return r, true
		}
	}
	return RoleDefinition{}, false
}

// DefinitionID is the full id of a role definition in a subscription.
func DefinitionID(subscriptionID, guid string) string {
	return "/subscriptions/" + subscriptionID + "/providers/Microsoft.Authorization/roleDefinitions/" + guid
}

// matchAction reports whether an action pattern ("*", "*/read", "Microsoft.X/*", exact)
// matches an operation, case-insensitively as Azure does.
func matchAction(pattern, op string) bool {
	p, o := strings.ToLower(pattern), strings.ToLower(op)
	if !strings.Contains(p, "*") {
		return p == o
	}
	// A wildcard segment also matches no segment: Managed Identity Operator's
	// ".../userAssignedIdentities/*/assign/action" grants ".../userAssignedIdentities/assign/action".
	if i := strings.Index(p, "/*/"); i >= 0 && matchAction(p[:i]+p[i+2:], o) {
		return true
	}
	parts := strings.Split(p, "*")
	if !strings.HasPrefix(o, parts[0]) {
		return false
	}
	rest := o[len(parts[0]):]
	for i, part := range parts[1:] {
		last := i == len(parts)-2
		if last {
			return strings.HasSuffix(rest, part)
		}
		j := strings.Index(rest, part)
		if j < 0 {
			return false
		}
		rest = rest[j+len(part):]
	}
	return true
}

// permits reports whether actions (minus notActions) cover op.
func permits(actions, notActions []string, op string) bool {
	for _, n := range notActions {
		if matchAction(n, op) {
			return false
		}
	}
	for _, a := range actions {
		if matchAction(a, op) {
			return true
		}
	}
	return false
}
