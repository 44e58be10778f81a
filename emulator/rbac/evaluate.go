package rbac

import (
	"regexp"
	"strings"
)

// Assignment is a role assignment.
type Assignment struct {
	ID               string
	PrincipalID      string
	RoleDefinitionID string // full id or bare GUID
	Scope            string
	Condition        string // ABAC condition (version 2.0); "" for none
}

// InScope reports whether an assignment at scope applies to resource: scope is the resource or
// one of its ancestors ("/" is the root). ARM ids compare case-insensitively.
func InScope(scope, resource string) bool {
	s := strings.TrimSuffix(strings.ToLower(scope), "/")
	r := strings.TrimSuffix(strings.ToLower(resource), "/")
	return s == "" || r == s || strings.HasPrefix(r, s+"/")
}

// Mode is a registry's roleAssignmentMode.
type Mode string

// Registry role assignment modes.
const (
	ModeLegacy Mode = "LegacyRegistryPermissions"
	ModeABAC   Mode = "AbacRepositoryPermissions"
)

// Data-plane actions of the token service's scopes.
const (
	ActionPull          = "pull"
	ActionPush          = "push"
	ActionDelete        = "delete"
	ActionMetadataRead  = "metadata_read"
	ActionMetadataWrite = "metadata_write"
)

// The operations behind each data-plane action: legacy registries check control-plane style
// actions (AcrPull's registries/pull/read), ABAC registries the repository data actions.
var legacyOps = map[string]string{
	ActionPull: cr + "pull/read", ActionMetadataRead: cr + "pull/read",
	ActionPush: cr + "push/write", ActionMetadataWrite: cr + "push/write",
	ActionDelete: cr + "artifacts/delete",
}

var abacOps = map[string]string{
	ActionPull: cr + "repositories/content/read", ActionMetadataRead: cr + "repositories/metadata/read",
	ActionPush: cr + "repositories/content/write", ActionMetadataWrite: cr + "repositories/metadata/write",
	ActionDelete: cr + "repositories/content/delete",
}

// repoGrant is one assignment's contribution: actions, limited to repositories by a condition.
type repoGrant struct {
	actions map[string]bool
	match   func(repo string) bool // nil: every repository
}

// DataGrant is what a principal may do on one registry's data plane.
type DataGrant struct {
	grants  []repoGrant
	catalog bool
}

// Data evaluates principalID's assignments that apply to registryID under mode.
func Data(assignments []Assignment, principalID, registryID string, mode Mode) DataGrant {
	var g DataGrant
	for _, a := range assignments {
		if !strings.EqualFold(a.PrincipalID, principalID) || !InScope(a.Scope, registryID) {
			continue
		}
		role, ok := RoleByID(a.RoleDefinitionID)
		if !ok {
			continue
		}
		rg := repoGrant{actions: map[string]bool{}}
		if mode == ModeABAC {
			for action, op := range abacOps {
				if permits(role.DataActions, role.NotDataActions, op) {
					rg.actions[action] = true
				}
			}
			if permits(role.DataActions, role.NotDataActions, cr+"catalog/read") {
				g.catalog = true
			}
			if a.Condition != "" {
				match, ok := parseCondition(a.Condition)
				if !ok {
					continue // fail closed
				}
				rg.match = match
			}
		} else {
			// Legacy registries honour neither the repository roles nor conditions.
			for action, op := range legacyOps {
				if permits(role.Actions, role.NotActions, op) {
					rg.actions[action] = true
				}
			}
			if rg.actions[ActionPull] {
				g.catalog = true
			}
		}
		if len(rg.actions) > 0 {
			g.grants = append(g.grants, rg)
		}
	}
	return g
}

// Allowed reports whether action is permitted on repository repo ("*" asks for registry-wide).
func (g DataGrant) Allowed(repo, action string) bool {
	for _, rg := range g.grants {
		if rg.actions[action] && (rg.match == nil || (repo != "*" && rg.match(repo))) {
			return true
		}
	}
	return false
}

// Catalog reports whether the registry's catalog may be listed.
func (g DataGrant) Catalog() bool { return g.catalog }

// Any reports whether the principal has any data-plane permission on the registry.
func (g DataGrant) Any() bool { return g.catalog || len(g.grants) > 0 }

// The repository conditions ACR documents, e.g.
// @Request[Microsoft.ContainerRegistry/registries/repositories:name] StringEqualsIgnoreCase 'hello-world'
var conditionRE = regexp.MustCompile(`(?i)@Request\[Microsoft\.ContainerRegistry/registries/repositories:name\]\s+(StringEqualsIgnoreCase|StringStartsWithIgnoreCase|StringEquals|StringStartsWith)\s+'([^']*)'`)

// parseCondition turns a condition into a repository filter. Several clauses OR together, as the
// portal writes them; a condition with none of the known forms is not understood.
func parseCondition(cond string) (func(string) bool, bool) {
	ms := conditionRE.FindAllStringSubmatch(cond, -1)
	if len(ms) == 0 {
		return nil, false
	}
	return func(repo string) bool {
		for _, m := range ms {
			op, v := strings.ToLower(m[1]), m[2]
			switch op {
			case "stringequalsignorecase":
				if strings.EqualFold(repo, v) {
					return true
				}
			case "stringequals":
				if repo == v {
					return true
				}
			case "stringstartswithignorecase":
				if strings.HasPrefix(strings.ToLower(repo), strings.ToLower(v)) {
					return true
				}
			case "stringstartswith":
				if strings.HasPrefix(repo, v) {
					return true
				}
			}
		}
		return false
	}, true
}

// ControlAllowed reports whether principalID may perform a management-plane action on resource.
func ControlAllowed(assignments []Assignment, principalID, resource, action string) bool {
	for _, a := range assignments {
		if !strings.EqualFold(a.PrincipalID, principalID) || !InScope(a.Scope, resource) {
			continue
		}
		if role, ok := RoleByID(a.RoleDefinitionID); ok && permits(role.Actions, role.NotActions, action) {
			return true
		}
	}
	return false
}
