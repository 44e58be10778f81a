package arm

import (
	"net/http"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/rbac"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Microsoft.Authorization lives under any scope ("/subscriptions/x", a resource group, a
// registry...), which no router pattern matches, so requests are split on the provider segment.
const authzProvider = "/providers/Microsoft.Authorization/"

// splitAuthz returns the scope and the rest ("roleAssignments/<name>", "roleDefinitions") of a
// Microsoft.Authorization path.
func splitAuthz(path string) (scope, rest string, ok bool) {
	i := strings.Index(strings.ToLower(path), strings.ToLower(authzProvider))
	if i < 0 {
		return "", "", false
	}
	scope = path[:i]
	if scope == "" {
		scope = "/"
	}
	return scope, path[i+len(authzProvider):], true
}

func (a *api) authorization(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	scope, rest, _ := splitAuthz(r.URL.Path)
	kind, name, _ := strings.Cut(rest, "/")
	switch {
	case strings.EqualFold(kind, "roleDefinitions") && r.Method == http.MethodGet:
		return a.roleDefinitions(w, r, scope, name)
	case strings.EqualFold(kind, "roleAssignments"):
		switch {
		case name == "" && r.Method == http.MethodGet:
			return a.listRoleAssignments(w, r, caller, scope)
		case name != "" && r.Method == http.MethodGet:
			return a.getRoleAssignment(w, r, caller, scope, name)
		case name != "" && r.Method == http.MethodPut:
			return a.putRoleAssignment(w, r, caller, scope, name)
		case name != "" && r.Method == http.MethodDelete:
			return a.deleteRoleAssignment(w, r, caller, scope, name)
		}
	}
	return armError(http.StatusNotFound, "NotFound", "The requested resource does not exist or is not supported by the emulator: "+r.Method+" "+r.URL.Path)
}

func (a *api) roleDefinitionJSON(scope string, d rbac.RoleDefinition) map[string]any {
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

// roleDefinitions serves the built-in roles, with the $filter=roleName eq '<name>' az uses to
// resolve --role.
func (a *api) roleDefinitions(w http.ResponseWriter, r *http.Request, scope, id string) error {
	if id != "" {
		d, ok := rbac.RoleByID(id)
		if !ok {
			return armError(http.StatusNotFound, "RoleDefinitionDoesNotExist", "The specified role definition with ID '"+id+"' does not exist.")
		}
		return writeJSON(w, http.StatusOK, a.roleDefinitionJSON(scope, d))
	}
	filter := r.URL.Query().Get("$filter")
	out := []any{}
	for _, d := range rbac.BuiltInRoles() {
		if name, ok := quotedAfter(filter, "roleName eq "); ok && !strings.EqualFold(name, d.Name) {
			continue
		}
		out = append(out, a.roleDefinitionJSON(scope, d))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"value": out})
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

func assignmentID(scope, name string) string {
	return strings.TrimSuffix(scope, "/") + "/providers/Microsoft.Authorization/roleAssignments/" + name
}

func (a *api) getRoleAssignment(w http.ResponseWriter, r *http.Request, caller *Identity, scope, name string) error {
	if err := a.authorize(caller, scope, "Microsoft.Authorization/roleAssignments/read"); err != nil {
		return err
	}
	ra, err := a.cfg.Store.GetRoleAssignment(assignmentID(scope, name))
	if err != nil {
		return err
	}
	if ra == nil {
		return armError(http.StatusNotFound, "RoleAssignmentNotFound", "The role assignment '"+name+"' is not found.")
	}
	return writeJSON(w, http.StatusOK, assignmentJSON(ra))
}

// listRoleAssignments lists the assignments that apply at scope (at it and above) and those
// below it, filtered by $filter=atScope() or principalId eq '<id>' / assignedTo('<id>').
func (a *api) listRoleAssignments(w http.ResponseWriter, r *http.Request, caller *Identity, scope string) error {
	if err := a.authorize(caller, scope, "Microsoft.Authorization/roleAssignments/read"); err != nil {
		return err
	}
	filter := r.URL.Query().Get("$filter")
	principal, byPrincipal := quotedAfter(filter, "principalId eq ")
	if !byPrincipal {
		principal, byPrincipal = quotedAfter(filter, "assignedTo(")
	}
	atScope := strings.Contains(strings.ToLower(filter), "atscope()")
	all, err := a.cfg.Store.ListRoleAssignments()
	if err != nil {
		return err
	}
	out := []any{}
	for _, ra := range all {
		above := rbac.InScope(ra.Scope, scope)
		below := rbac.InScope(scope, ra.Scope)
		if !(above || (below && !atScope)) || (byPrincipal && !strings.EqualFold(ra.PrincipalID, principal)) {
			continue
		}
		out = append(out, assignmentJSON(ra))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"value": out})
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

func (a *api) putRoleAssignment(w http.ResponseWriter, r *http.Request, caller *Identity, scope, name string) error {
	if err := a.authorize(caller, scope, "Microsoft.Authorization/roleAssignments/write"); err != nil {
		return err
	}
	var b assignmentBody
	if err := decode(r, &b); err != nil {
		return err
	}
	p := b.Properties
	role, ok := rbac.RoleByID(p.RoleDefinitionID)
	if !ok {
		return armError(http.StatusBadRequest, "RoleDefinitionDoesNotExist", "The specified role definition with ID '"+p.RoleDefinitionID+"' does not exist.")
	}
	principal, err := a.cfg.Store.GetPrincipal(p.PrincipalID)
	if err != nil {
		return err
	}
	if principal == nil {
		return armError(http.StatusBadRequest, "PrincipalNotFound", "Principal "+strings.ReplaceAll(p.PrincipalID, "-", "")+
			" does not exist in the directory "+a.cfg.TenantID+". Check that you have the correct principal ID.")
	}
	if p.PrincipalType == "" {
		p.PrincipalType = "ServicePrincipal"
	}
	ra := &store.RoleAssignment{ID: assignmentID(scope, name), Name: name, Scope: scope, RoleDefinitionID: rbac.DefinitionID(a.cfg.SubscriptionID, role.ID),
		PrincipalID: strings.ToLower(p.PrincipalID), PrincipalType: p.PrincipalType, Condition: p.Condition, ConditionVersion: p.ConditionVersion, Description: p.Description}
	existing, err := a.cfg.Store.GetRoleAssignment(ra.ID)
	if err != nil {
		return err
	}
	if err := a.cfg.Store.PutRoleAssignment(ra); err != nil {
		if err == store.ErrConflict {
			return armError(http.StatusConflict, "RoleAssignmentExists", "The role assignment already exists.")
		}
		return err
	}
	saved, err := a.cfg.Store.GetRoleAssignment(ra.ID)
	if err != nil {
		return err
	}
	code := http.StatusCreated
	if existing != nil {
		code = http.StatusOK
	}
	a.cfg.Logger.Info("role assigned", "role", role.Name, "principal", ra.PrincipalID, "scope", scope)
	return writeJSON(w, code, assignmentJSON(saved))
}

func (a *api) deleteRoleAssignment(w http.ResponseWriter, r *http.Request, caller *Identity, scope, name string) error {
	if err := a.authorize(caller, scope, "Microsoft.Authorization/roleAssignments/delete"); err != nil {
		return err
	}
	ra, err := a.cfg.Store.GetRoleAssignment(assignmentID(scope, name))
	if err != nil {
		return err
	}
	if ra == nil {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if _, err := a.cfg.Store.DeleteRoleAssignment(ra.ID); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, assignmentJSON(ra))
}
