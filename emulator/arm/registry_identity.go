package arm

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// The registry's own managed identity (identity: SystemAssigned, UserAssigned or both), what
// ACR uses to read a customer-managed key or credentials. A system-assigned identity is a
// principal of the emulated tenant from the moment the registry has it: role assignments
// name it, and the managed-identity endpoint issues its tokens to whoever holds the
// registry's identity header (the emulator's own services).

type identityBody struct {
	Type string `json:"type"`
	// A null value removes that identity (as in a PATCH that drops one).
	UserAssignedIdentities map[string]*json.RawMessage `json:"userAssignedIdentities"`
}

// decodeIdentity sets next's identities from an identity block; absent keeps them. A new
// system-assigned identity gets its object id here and is created when the registry is saved.
func (a *api) decodeIdentity(next *store.Registry, b *identityBody, patch bool) error {
	if b == nil {
		return nil
	}
	system, user := false, false
	for _, part := range strings.Split(b.Type, ",") {
		switch strings.ToLower(strings.TrimSpace(part)) {
		case "systemassigned":
			system = true
		case "userassigned":
			user = true
		case "none":
		default:
			return armError(http.StatusBadRequest, "InvalidRequestContent", "The value '"+b.Type+
				"' of identity.type is not valid. Allowed values: SystemAssigned, UserAssigned, SystemAssigned, UserAssigned, None.")
		}
	}
	switch {
	case system && next.SystemIdentity == "":
		next.SystemIdentity = ids.NewGUID()
	case !system:
		next.SystemIdentity = ""
	}
	if !user {
		next.UserIdentities = nil
		return nil
	}
	if b.UserAssignedIdentities == nil && !patch {
		return armError(http.StatusBadRequest, "InvalidRequestContent", "identity.userAssignedIdentities is required when identity.type includes UserAssigned.")
	}
	keep := next.UserIdentities
	if !patch {
		keep = nil
	}
	for id, v := range b.UserAssignedIdentities {
		if pid, err := armid.Parse(id); err != nil || pid.Key() != strings.ToLower(identityType) || pid.Collection() {
			return armError(http.StatusBadRequest, "InvalidRequestContent", "'"+id+"' is not a user-assigned identity's resource id.")
		}
		keep = slices.DeleteFunc(keep, func(k string) bool { return strings.EqualFold(k, id) })
		if v != nil && string(*v) != "null" {
			keep = append(keep, id)
		}
	}
	slices.Sort(keep)
	next.UserIdentities = keep
	return nil
}

// validateIdentities requires each user-assigned identity to exist and, for one newly
// attached, the caller to hold its assign action, as ARM's linked authorization does.
func (a *api) validateIdentities(c *Call, old, next *store.Registry) error {
	for _, id := range next.UserIdentities {
		p, err := a.cfg.Store.PrincipalByResourceID(id)
		if err != nil {
			return err
		}
		if p == nil || p.Kind != store.KindManagedIdentity {
			return IdentityNotFound(next.ID, id)
		}
	}
	var had []string
	if old != nil {
		had = old.UserIdentities
	}
	return CheckAssignIdentities(a.cfg.Store, c.Caller, registryType, next.ID, had, next.UserIdentities)
}

// saveIdentity creates a new system-assigned identity, deletes a removed one, and keeps the
// registry's identity record (its header and identities) for the managed-identity endpoint.
func (a *api) saveIdentity(old, next *store.Registry) error {
	st := a.cfg.Store
	if next.SystemIdentity != "" && (old == nil || old.SystemIdentity != next.SystemIdentity) {
		if err := st.PutPrincipal(&store.Principal{ObjectID: next.SystemIdentity, AppID: ids.NewGUID(), TenantID: a.cfg.TenantID,
			DisplayName: next.Name, Kind: store.KindManagedIdentity, ResourceID: next.ID}); err != nil {
			return err
		}
	}
	if old != nil && old.SystemIdentity != "" && old.SystemIdentity != next.SystemIdentity {
		if err := st.DeletePrincipal(old.SystemIdentity); err != nil {
			return err
		}
	}
	res, err := st.GetResource(next.ID)
	if err != nil {
		return err
	}
	if next.SystemIdentity == "" && len(next.UserIdentities) == 0 {
		if res == nil {
			return nil
		}
		return st.DeleteResource(next.ID)
	}
	if res == nil {
		res = &store.Resource{ID: next.ID, Type: registryType, Name: next.Name, IdentityHeader: ids.NewGUID()}
	}
	r := *res
	r.SystemPrincipalID, r.UserAssigned = next.SystemIdentity, next.UserIdentities
	return st.PutResource(&r)
}

// registryIdentityJSON is the identity block of a registry, nil when it has none.
func (a *api) registryIdentityJSON(reg *store.Registry) map[string]any {
	var types []string
	out := map[string]any{}
	if reg.SystemIdentity != "" {
		types = append(types, "SystemAssigned")
		out["principalId"], out["tenantId"] = reg.SystemIdentity, a.cfg.TenantID
	}
	if len(reg.UserIdentities) > 0 {
		types = append(types, "UserAssigned")
		users := map[string]any{}
		for _, id := range reg.UserIdentities {
			entry := map[string]string{}
			if p, _ := a.cfg.Store.PrincipalByResourceID(id); p != nil {
				entry["clientId"], entry["principalId"] = p.AppID, p.ObjectID
			}
			users[id] = entry
		}
		out["userAssignedIdentities"] = users
	}
	if types == nil {
		return nil
	}
	out["type"] = strings.Join(types, ", ")
	return out
}
