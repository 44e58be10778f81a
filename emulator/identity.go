package emulator

import (
	"crypto/sha256"
	"fmt"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/rbac"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/emulator/token"
	"github.com/acr-emulator/acr-emulator/fakes/entra"
)

// directory lets the fake Entra ID see the principals in the store.
type directory struct {
	st     *store.Store
	tenant string
}

func (d directory) HasTenant(tenantID string) bool { return strings.EqualFold(tenantID, d.tenant) }

func (d directory) ClientByAppID(tenantID, appID string) (*entra.Principal, error) {
	p, err := d.st.PrincipalByAppID(appID)
	if err != nil || p == nil || !strings.EqualFold(p.TenantID, tenantID) {
		return nil, err
	}
	return toEntra(p), nil
}

func toEntra(p *store.Principal) *entra.Principal {
	out := &entra.Principal{ObjectID: p.ObjectID, AppID: p.AppID, TenantID: p.TenantID, DisplayName: p.DisplayName,
		Kind: entra.Kind(p.Kind), Secrets: p.Secrets, ResourceID: p.ResourceID}
	for _, f := range p.Federated {
		out.Federated = append(out.Federated, entra.FederatedCredential{Issuer: f.Issuer, Subject: f.Subject, Audiences: f.Audiences})
	}
	return out
}

// entraVerifier lets the token service check Entra tokens without importing fakes/entra.
type entraVerifier struct{ iss *entra.Issuer }

func (v entraVerifier) VerifyEntraToken(raw string) (*token.Identity, error) {
	c, err := v.iss.Verify(raw)
	if err != nil {
		return nil, err
	}
	return &token.Identity{TenantID: c.TenantID, ObjectID: c.ObjectID, AppID: c.AppID, Audience: c.Audience}, nil
}

// derivedGUID makes a stable GUID from a seed, for ids a world file leaves out.
func derivedGUID(seed string) string {
	h := sha256.Sum256([]byte(seed))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// seedIdentities stores the world's service principals and role assignments.
func (e *Emulator) seedIdentities() error {
	w := e.world
	byRef := map[string]*store.Principal{}
	for _, sp := range w.ServicePrincipals {
		oid := sp.ObjectID
		if oid == "" {
			oid = derivedGUID("object:" + sp.ClientID)
		}
		p := &store.Principal{ObjectID: strings.ToLower(oid), AppID: strings.ToLower(sp.ClientID), TenantID: w.TenantID,
			DisplayName: sp.Name, Kind: store.KindServicePrincipal, Secrets: []string{sp.Secret}}
		if err := e.st.PutPrincipal(p); err != nil {
			return err
		}
		for _, k := range []string{sp.Name, p.AppID, p.ObjectID} {
			byRef[strings.ToLower(k)] = p
		}
	}
	for i, ra := range w.RoleAssignments {
		p, ok := byRef[strings.ToLower(ra.Principal)]
		if !ok {
			return fmt.Errorf("world: roleAssignments[%d]: unknown principal %q", i, ra.Principal)
		}
		role, ok := rbac.RoleByName(ra.Role)
		if !ok {
			if role, ok = rbac.RoleByID(ra.Role); !ok {
				return fmt.Errorf("world: roleAssignments[%d]: unknown role %q", i, ra.Role)
			}
		}
		scope := w.ResolveScope(ra.Scope)
		name := ids.NewGUID()
		a := &store.RoleAssignment{
			ID: scope + "/providers/Microsoft.Authorization/roleAssignments/" + name, Name: name, Scope: scope,
			RoleDefinitionID: rbac.DefinitionID(w.SubscriptionID, role.ID), PrincipalID: p.ObjectID, PrincipalType: "ServicePrincipal",
		}
		if err := e.st.PutRoleAssignment(a); err != nil {
			return fmt.Errorf("world: roleAssignments[%d]: %w", i, err)
		}
	}
	return nil
}
