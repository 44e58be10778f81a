package arm

import (
	"net/http"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/rbac"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Microsoft.Authorization is an extension provider: role assignments and definitions live on
// any scope (the tenant root, a subscription, a resource group, a registry), which the router
// gives as the id's scope.

func (a *api) roleAssignments() *Kind[store.RoleAssignment] {
	const t = "Microsoft.Authorization/roleAssignments"
	return &Kind[store.RoleAssignment]{Type: t, Actions: crud(t),
		Get:  func(c *Call) (*store.RoleAssignment, error) { return a.cfg.Store.GetRoleAssignment(c.ID.String()) },
		List: a.listRoleAssignments,
		NotFound: func(c *Call) error {
			return armError(http.StatusNotFound, "RoleAssignmentNotFound", "The role assignment '"+c.ID.Name()+"' is not found.")
		},
		Decode: a.decodeRoleAssignment,
		Save: func(c *Call, _, ra *store.RoleAssignment) error {
			if err := a.cfg.Store.PutRoleAssignment(ra); err != nil {
				if err == store.ErrConflict {
					return armError(http.StatusConflict, "RoleAssignmentExists", "The role assignment already exists.")
				}
				return err
			}
			a.cfg.Logger.Info("role assigned", "role", ra.RoleDefinitionID, "principal", ra.PrincipalID, "scope", ra.Scope)
			return nil
		},
		// ARM answers a delete with the assignment it removed.
		Delete: func(c *Call, ra *store.RoleAssignment) error {
			if _, err := a.cfg.Store.DeleteRoleAssignment(ra.ID); err != nil {
				return err
			}
			return c.Reply(http.StatusOK, assignmentJSON(ra))
		},
		JSON: func(_ *Call, ra *store.RoleAssignment) any { return assignmentJSON(ra) }}
}

func (a *api) roleDefinitions() *Kind[rbac.RoleDefinition] {
	return &Kind[rbac.RoleDefinition]{Type: "Microsoft.Authorization/roleDefinitions",
		Get: func(c *Call) (*rbac.RoleDefinition, error) {
			d, ok := rbac.RoleByID(c.ID.Name())
			if !ok {
				return nil, nil
			}
			return &d, nil
		},
		// $filter=roleName eq '<name>' is how az resolves --role.
		List: func(c *Call) ([]*rbac.RoleDefinition, error) {
			var out []*rbac.RoleDefinition
			name, byName := quotedAfter(c.R.URL.Query().Get("$filter"), "roleName eq ")
			for _, d := range rbac.BuiltInRoles() {
				if !byName || strings.EqualFold(name, d.Name) {
					out = append(out, &d)
				}
			}
			return out, nil
		},
		NotFound: func(c *Call) error {
			return armError(http.StatusNotFound, "RoleDefinitionDoesNotExist", "The specified role definition with ID '"+c.ID.Name()+"' does not exist.")
		},
		JSON: func(_ *Call, d *rbac.RoleDefinition) any { return a.roleDefinitionJSON(*d) }}
}

func (a *api) roleDefinitionJSON(d rbac.RoleDefinition) map[string]any {
	nz := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	return map[string]any{
		"id": rbac.DefinitionID(a.cfg.SubscriptionID, d.ID), "name": d.ID, "type": "Microsoft.Authorization/roleDefinitions",
		"properties": map[string]any{
			"roleName": d.Name, "type": "BuiltInRole", "description": d.Description, "assignableScopes": []string{"/"},
			"permissions": []map[string]any{{"actions": nz(d.Actions), "notActions": nz(d.NotActions), "dataActions": nz(d.DataActions), "notDataActions": nz(d.NotDataActions)}},
		},
	}
}

// quotedAfter extracts the quoted value after prefix in an OData filter.
func quotedAfter(filter, prefix string) (string, bool) {
	i := strings.Index(strings.ToLower(filter), strings.ToLower(prefix))
	if i < 0 {
		return "", false
	}
	v := strings.TrimSpace(filter[i+len(prefix):])
	v = strings.TrimPrefix(v, "'")
	if j := strings.Index(v, "'"); j >= 0 {
		v = v[:j]
	}
	return v, true
}

func assignmentJSON(ra *store.RoleAssignment) map[string]any {
	null := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	return map[string]any{
		"id": ra.ID, "name": ra.Name, "type": "Microsoft.Authorization/roleAssignments",
		"properties": map[string]any{
			"roleDefinitionId": ra.RoleDefinitionID, "principalId": ra.PrincipalID, "principalType": ra.PrincipalType,
			"scope": ra.Scope, "condition": null(ra.Condition), "conditionVersion": null(ra.ConditionVersion),
			"description": null(ra.Description), "createdOn": ra.CreatedAt.Format(time.RFC3339Nano), "updatedOn": ra.UpdatedAt.Format(time.RFC3339Nano),
			"createdBy": nil, "updatedBy": nil, "delegatedManagedIdentityResourceId": nil,
		},
	}
}

// listRoleAssignments lists the assignments that apply at the scope (at it and above) and
// those below it, filtered by $filter=atScope() or principalId eq '<id>' / assignedTo('<id>').
func (a *api) listRoleAssignments(c *Call) ([]*store.RoleAssignment, error) {
	scope := c.ID.ScopePath()
	filter := c.R.URL.Query().Get("$filter")
	principal, byPrincipal := quotedAfter(filter, "principalId eq ")
	if !byPrincipal {
		principal, byPrincipal = quotedAfter(filter, "assignedTo(")
	}
	atScope := strings.Contains(strings.ToLower(filter), "atscope()")
	all, err := a.cfg.Store.ListRoleAssignments()
	var out []*store.RoleAssignment
	for _, ra := range all {
		above := rbac.InScope(ra.Scope, scope)
		below := rbac.InScope(scope, ra.Scope)
		if (above || (below && !atScope)) && (!byPrincipal || strings.EqualFold(ra.PrincipalID, principal)) {
			out = append(out, ra)
		}
	}
	return out, err
}

type assignmentBody struct {
	Properties struct {
		RoleDefinitionID string `json:"roleDefinitionId"`
		PrincipalID      string `json:"principalId"`
		PrincipalType    string `json:"principalType"`
		Condition        string `json:"condition"`
		ConditionVersion string `json:"conditionVersion"`
		Description      string `json:"description"`
	} `json:"properties"`
}

func (a *api) decodeRoleAssignment(c *Call, old *store.RoleAssignment, patch bool) (*store.RoleAssignment, error) {
	if patch {
		return nil, methodNotAllowed(http.MethodPatch)
	}
	var b assignmentBody
	if err := c.Decode(&b); err != nil {
		return nil, err
	}
	p := b.Properties
	role, ok := rbac.RoleByID(p.RoleDefinitionID)
	if !ok {
		return nil, armError(http.StatusBadRequest, "RoleDefinitionDoesNotExist", "The specified role definition with ID '"+p.RoleDefinitionID+"' does not exist.")
	}
	principal, err := a.cfg.Store.GetPrincipal(p.PrincipalID)
	if err != nil {
		return nil, err
	}
	if principal == nil {
		return nil, armError(http.StatusBadRequest, "PrincipalNotFound", "Principal "+strings.ReplaceAll(p.PrincipalID, "-", "")+
			" does not exist in the directory "+a.cfg.TenantID+". Check that you have the correct principal ID.")
	}
	if p.PrincipalType == "" {
		p.PrincipalType = "ServicePrincipal"
	}
	now := time.Now().UTC()
	ra := &store.RoleAssignment{ID: c.ID.String(), Name: c.ID.Name(), Scope: c.ID.ScopePath(), RoleDefinitionID: rbac.DefinitionID(a.cfg.SubscriptionID, role.ID),
		PrincipalID: strings.ToLower(p.PrincipalID), PrincipalType: p.PrincipalType, Condition: p.Condition, ConditionVersion: p.ConditionVersion,
		Description: p.Description, CreatedAt: now, UpdatedAt: now}
	if old != nil {
		ra.CreatedAt = old.CreatedAt
	}
	return ra, nil
}
