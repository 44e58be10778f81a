package emulator

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/arm"
	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/rbac"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/emulator/token"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/acr-emulator/acr-emulator/fakes/entra"
	"github.com/acr-emulator/acr-emulator/fakes/imds"
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

// armVerifier lets the management plane check Entra tokens.
type armVerifier struct{ iss *entra.Issuer }

func (v armVerifier) VerifyEntraToken(raw string) (*arm.Identity, error) {
	c, err := v.iss.Verify(raw)
	if err != nil {
		return nil, err
	}
	return &arm.Identity{TenantID: c.TenantID, ObjectID: c.ObjectID, AppID: c.AppID, Audience: c.Audience}, nil
}

// armEndpoints are the emulator's ARM endpoints as Entra resources, for a token request: ARM
// answers on every HTTPS host the emulator does, so the host the client reached Entra at is
// one, and it is the resourceManager of the cloud metadata the client read there
// (GET /metadata/endpoints), for which the azurerm provider's custom-cloud mode asks a token.
func armEndpoints(r *http.Request) []string { return []string{"https://" + r.Host} }

// derivedGUID makes a stable GUID from a seed, for ids a world file leaves out.
func derivedGUID(seed string) string {
	h := sha256.Sum256([]byte(seed))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// endpointDescriptions are what ARM shows for a connection's state when no one wrote a reason.
var endpointDescriptions = map[string]string{"Approved": "Auto-Approved", "Pending": "Awaiting approval", "Rejected": "Rejected", "Disconnected": "Disconnected"}

func orText(s, def string) string {
	if s != "" {
		return s
	}
	return def
}

func orDerived(id, seed string) string {
	if id != "" {
		return id
	}
	return derivedGUID(seed)
}

// computeDirectory lets the managed-identity endpoint find compute resources and identities.
type computeDirectory struct{ st *store.Store }

func (d computeDirectory) compute(r *store.Resource, err error) (*imds.Compute, error) {
	if err != nil || r == nil {
		return nil, err
	}
	c := &imds.Compute{ID: r.ID}
	if r.SystemPrincipalID != "" {
		p, err := d.st.GetPrincipal(r.SystemPrincipalID)
		if err != nil {
			return nil, err
		}
		if p != nil {
			c.System = toEntra(p)
		}
	}
	for _, id := range r.UserAssigned {
		p, err := d.st.PrincipalByResourceID(id)
		if err != nil {
			return nil, err
		}
		if p != nil {
			c.User = append(c.User, toEntra(p))
		}
	}
	return c, nil
}

func (d computeDirectory) ComputeByHeader(h string) (*imds.Compute, error) {
	return d.compute(d.st.ResourceByIdentityHeader(h))
}

func (d computeDirectory) IMDSCompute() (*imds.Compute, error) { return d.compute(d.st.IMDSResource()) }

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
	for _, mi := range w.ManagedIdentities {
		id := w.ManagedIdentityID(mi.Name)
		p := &store.Principal{ObjectID: strings.ToLower(orDerived(mi.PrincipalID, "principal:"+id)), AppID: strings.ToLower(orDerived(mi.ClientID, "client:"+id)),
			TenantID: w.TenantID, DisplayName: mi.Name, Kind: store.KindManagedIdentity, ResourceID: id}
		if err := e.st.PutPrincipal(p); err != nil {
			return err
		}
		for _, k := range []string{mi.Name, p.AppID, p.ObjectID} {
			byRef[strings.ToLower(k)] = p
		}
	}
	for _, c := range w.ComputeResources {
		id := w.ComputeID(c)
		res := &store.Resource{ID: id, Type: c.Type, Name: c.Name, IdentityHeader: c.IdentityHeader, IMDS: c.IMDS}
		if c.SystemAssignedIdentity {
			p := &store.Principal{ObjectID: strings.ToLower(orDerived(c.SystemPrincipalID, "principal:"+id)), AppID: derivedGUID("client:" + id),
				TenantID: w.TenantID, DisplayName: c.Name, Kind: store.KindManagedIdentity, ResourceID: id}
			if err := e.st.PutPrincipal(p); err != nil {
				return err
			}
			res.SystemPrincipalID = p.ObjectID
			for _, k := range []string{c.Name, p.AppID, p.ObjectID} {
				byRef[strings.ToLower(k)] = p
			}
		}
		for _, u := range c.UserAssignedIdentities {
			res.UserAssigned = append(res.UserAssigned, w.ManagedIdentityID(u))
		}
		if err := e.st.PutResource(res); err != nil {
			return err
		}
	}
	for _, o := range w.Origins {
		endpoints := o.Endpoints
		for _, reg := range o.PrivateEndpoints {
			endpoints = append(endpoints, world.PrivateEndpoint{Registry: reg, Name: o.Name + "-" + reg, Status: "Approved"})
		}
		for _, we := range endpoints {
			pe := &store.PrivateEndpoint{ID: w.ResourceGroupID() + "/providers/Microsoft.Network/privateEndpoints/" + we.Name,
				Name: we.Name, VNet: o.Name, RegistryID: w.RegistryID(we.Registry), ConnectionName: we.Name,
				Status: we.Status, Description: orText(we.Description, endpointDescriptions[we.Status])}
			if err := e.st.PutPrivateEndpoint(pe); err != nil {
				return err
			}
		}
	}
	for _, r := range w.Registries {
		for _, t := range r.Tasks {
			if !t.Identity.System() {
				continue
			}
			// The task's system-assigned identity exists before the task, so that role
			// assignments can name it; creating the task attaches it.
			id := w.TaskID(r.Name, t.Name)
			p := &store.Principal{ObjectID: strings.ToLower(orDerived(t.Identity.PrincipalID, "principal:"+id)), AppID: derivedGUID("client:" + id),
				TenantID: w.TenantID, DisplayName: t.Name, Kind: store.KindManagedIdentity, ResourceID: id}
			if err := e.st.PutPrincipal(p); err != nil {
				return err
			}
			if err := e.st.PutResource(&store.Resource{ID: id, Type: "Microsoft.ContainerRegistry/registries/tasks", Name: t.Name,
				IdentityHeader: ids.NewGUID(), SystemPrincipalID: p.ObjectID}); err != nil {
				return err
			}
			byRef[strings.ToLower(r.Name+"/tasks/"+t.Name)] = p
			byRef[p.ObjectID] = p
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
		name := strings.ToLower(orDerived(ra.Name, fmt.Sprintf("assignment:%d:%s|%s|%s", i, p.ObjectID, role.ID, strings.ToLower(scope))))
		// Azure records managed identities as service principals in role assignments.
		a := &store.RoleAssignment{
			ID: scope + "/providers/Microsoft.Authorization/roleAssignments/" + name, Name: name, Scope: scope,
			RoleDefinitionID: rbac.DefinitionID(w.SubscriptionID, role.ID), PrincipalID: p.ObjectID, PrincipalType: "ServicePrincipal",
			Description: ra.Description, Condition: ra.Condition,
		}
		if ra.Condition != "" {
			a.ConditionVersion = "2.0"
		}
		if err := e.st.PutRoleAssignment(a); err != nil {
			return fmt.Errorf("world: roleAssignments[%d]: %w", i, err)
		}
	}
	return nil
}
