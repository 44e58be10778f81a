package arm

import (
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Microsoft.ManagedIdentity/userAssignedIdentities: creating one creates its service
// principal in the emulated tenant, usable at once by the managed-identity endpoints and in
// role assignments.

const identityType = "Microsoft.ManagedIdentity/userAssignedIdentities"

func (a *api) userAssignedIdentities() *Kind[store.Principal] {
	get := func(c *Call) (*store.Principal, error) {
		p, err := a.cfg.Store.PrincipalByResourceID(c.ID.String())
		if p == nil || err != nil || p.Kind != store.KindManagedIdentity {
			return nil, err
		}
		return p, nil
	}
	return &Kind[store.Principal]{Type: identityType, Actions: crud(identityType),
		ID:  func(p *store.Principal) string { return p.ResourceID },
		Get: get,
		List: func(c *Call) ([]*store.Principal, error) {
			ps, err := a.cfg.Store.ListPrincipals()
			var out []*store.Principal
			for _, p := range ps {
				if p.Kind == store.KindManagedIdentity && strings.Contains(strings.ToLower(p.ResourceID), "/providers/microsoft.managedidentity/userassignedidentities/") &&
					inGroup(p.ResourceID, c.ID) {
					out = append(out, p)
				}
			}
			return out, err
		},
		Decode: func(c *Call, old *store.Principal, _ bool) (*store.Principal, error) {
			var body struct {
				Location string `json:"location"`
			}
			if err := c.Decode(&body); err != nil {
				return nil, err
			}
			if old != nil {
				return old, nil // a PUT again keeps the identity
			}
			return &store.Principal{ObjectID: ids.NewGUID(), AppID: ids.NewGUID(), TenantID: a.cfg.TenantID, DisplayName: c.ID.Name(),
				Kind: store.KindManagedIdentity, ResourceID: c.ID.String()}, nil
		},
		Save:   func(_ *Call, _, p *store.Principal) error { return a.cfg.Store.PutPrincipal(p) },
		Delete: func(_ *Call, p *store.Principal) error { return a.cfg.Store.DeletePrincipal(p.ObjectID) },
		JSON:   func(c *Call, p *store.Principal) any { return a.identityJSON(p, c.APIVersion()) }}
}

// assignIdentity is the action attaching a user-assigned identity to a resource needs on it.
const assignIdentity = identityType + "/assign/action"

// identityJSON writes an identity; api-versions before 2021-09-30-preview also write its
// clientSecretUrl, the MSI data plane's URL of its credentials (recording test_acr_identity at
// 2018-11-30; test_acr_encryption_with_cmk at 2021-09-30-preview has none). Nothing answers there.
func (a *api) identityJSON(p *store.Principal, apiVersion string) map[string]any {
	name := p.ResourceID[strings.LastIndex(p.ResourceID, "/")+1:]
	props := map[string]string{"tenantId": p.TenantID, "principalId": p.ObjectID, "clientId": p.AppID}
	if apiVersion < "2021-09-30" {
		props["clientSecretUrl"] = "https://control-" + a.cfg.Location + ".identity.azure.net" + p.ResourceID + "/credentials?tid=" + p.TenantID +
			"&oid=" + p.ObjectID + "&aid=" + p.AppID
	}
	return map[string]any{
		"id": p.ResourceID, "name": name, "type": identityType, "location": a.cfg.Location,
		"tags": map[string]string{}, "properties": props,
	}
}

// inGroup tells whether an ARM id is in the list's scope: the call's resource group, or any
// group of the subscription for a subscription-wide list.
func inGroup(id string, list armid.ID) bool {
	scope := strings.ToLower(list.ScopePath())
	return scope == "/" || strings.HasPrefix(strings.ToLower(id), scope+"/")
}
