package token

import (
	"crypto/subtle"
	"errors"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/rbac"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// caller is who a request or token request speaks for.
type caller struct {
	kind      string // callerPrincipal, callerAdmin, callerToken or "anonymous"
	principal *store.Principal
	token     *store.Token // a repository-scoped token
	subject   string       // sub claim and audit name
	appID     string
	tenant    string
	// credential binds a refresh token to the admin or token password it came from, so
	// regenerating that password revokes it (see credentialMark).
	credential string
}

// Name is how logs and the audit name the caller.
func (c *caller) Name() string {
	switch c.kind {
	case callerPrincipal:
		name := string(c.principal.Kind)
		if c.principal.DisplayName != "" {
			name += " " + c.principal.DisplayName
		}
		return name + " (" + c.principal.AppID + ")"
	case callerAdmin:
		return "admin user " + c.subject
	case callerToken:
		return "token " + c.subject
	}
	return "anonymous"
}

var errBadCredentials = errors.New("invalid credentials")

// basicCaller resolves Basic credentials the way ACR does: the null GUID with an ACR refresh
// token (what az acr login hands to docker), the admin user, a repository-scoped token's name
// and password, or a service principal's client id and secret. An access token is never a password: renewing one with itself would make a
// chain of tokens that outlives every revocation.
func (s *Service) basicCaller(reg *store.Registry, user, pass string) (*caller, error) {
	if user == nullGUID {
		c, err := s.signer.verify(pass, reg.LoginServer, grantRefresh)
		if err != nil {
			return nil, errBadCredentials
		}
		return s.refreshCaller(reg, c)
	}
	if reg.AdminUserEnabled && strings.EqualFold(user, reg.AdminUsername) {
		for _, p := range reg.AdminPasswords {
			if p != "" && subtle.ConstantTimeCompare([]byte(p), []byte(pass)) == 1 {
				return &caller{kind: callerAdmin, subject: reg.AdminUsername, credential: s.signer.credentialMark(callerAdmin, reg.ID, p)}, nil
			}
		}
		return nil, errBadCredentials
	}
	if c, err := s.tokenCaller(reg, user, pass); c != nil || err != nil {
		return c, err
	}
	p, err := s.cfg.Store.PrincipalByAppID(user)
	if err != nil {
		return nil, err
	}
	if p == nil || p.Kind != store.KindServicePrincipal {
		return nil, errBadCredentials
	}
	for _, secret := range p.Secrets {
		if subtle.ConstantTimeCompare([]byte(secret), []byte(pass)) == 1 {
			return principalCaller(p), nil
		}
	}
	return nil, errBadCredentials
}

func principalCaller(p *store.Principal) *caller {
	return &caller{kind: callerPrincipal, principal: p, subject: p.ObjectID, appID: p.AppID, tenant: p.TenantID}
}

// refreshCaller turns verified refresh-token claims back into a caller, re-reading the
// principal so that a deleted identity loses access at once.
func (s *Service) refreshCaller(reg *store.Registry, c *claims) (*caller, error) {
	switch c.Caller {
	case callerAdmin:
		// Disabling the admin user or regenerating the password the token came from revokes it
		// at the next token request.
		if !reg.AdminUserEnabled {
			return nil, errBadCredentials
		}
		for _, p := range reg.AdminPasswords {
			if p != "" && c.Credential != "" && subtle.ConstantTimeCompare([]byte(s.signer.credentialMark(callerAdmin, reg.ID, p)), []byte(c.Credential)) == 1 {
				return &caller{kind: callerAdmin, subject: reg.AdminUsername, credential: c.Credential}, nil
			}
		}
		return nil, errBadCredentials
	case callerPrincipal:
		p, err := s.cfg.Store.GetPrincipal(c.OID)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return nil, errBadCredentials
		}
		return principalCaller(p), nil
	case callerToken:
		return s.tokenRefreshCaller(reg, c)
	}
	return nil, errBadCredentials
}

// grant is what a caller may do on a registry right now.
type grant struct {
	all       bool             // admin user
	data      *rbac.DataGrant  // principals
	scoped    *rbac.TokenGrant // repository-scoped tokens
	anonymous bool             // anonymous pull enabled on the registry
}

func (s *Service) grantFor(reg *store.Registry, c *caller) (grant, error) {
	switch c.kind {
	case callerAdmin:
		return grant{all: true}, nil
	case callerPrincipal:
		stored, err := s.cfg.Store.RoleAssignmentsOf(c.principal.ObjectID)
		if err != nil {
			return grant{}, err
		}
		assignments := make([]rbac.Assignment, len(stored))
		for i, a := range stored {
			assignments[i] = rbac.Assignment{ID: a.ID, PrincipalID: a.PrincipalID, RoleDefinitionID: a.RoleDefinitionID, Scope: a.Scope, Condition: a.Condition}
		}
		d := rbac.Data(assignments, c.principal.ObjectID, reg.ID, rbac.Mode(reg.RoleAssignmentMode))
		return grant{data: &d}, nil
	case callerToken:
		tg, err := s.scopeMapGrant(reg, c.token)
		return grant{scoped: &tg}, err
	}
	return grant{anonymous: reg.AnonymousPullEnabled}, nil
}

// allowed reports whether the grant permits action on a scope's resource.
func (g grant) allowed(typ, name, action string) bool {
	switch {
	case g.all:
		return true
	case g.data != nil:
		if typ == typeRegistry {
			return name == "catalog" && g.data.Catalog()
		}
		return typ == typeRepository && g.data.Allowed(name, action)
	case g.scoped != nil:
		// A token never lists the catalog, whatever its scope map.
		return typ == typeRepository && g.scoped.Allowed(name, action)
	case g.anonymous:
		// Anonymous pull makes every repository readable, and the catalog listable.
		return (typ == typeRepository && (action == "pull" || action == "metadata_read")) ||
			(typ == typeRegistry && name == "catalog")
	}
	return false
}

// any reports whether the grant permits anything at all on the registry.
func (g grant) any() bool {
	return g.all || (g.data != nil && g.data.Any()) || (g.scoped != nil && g.scoped.Any()) || g.anonymous
}

// authorize keeps, of the requested scopes, the actions the grant permits ("*" on a repository
// only when every action is permitted).
func (g grant) authorize(scopes []Scope) []AccessEntry {
	out := []AccessEntry{}
	for _, sc := range scopes {
		var granted []string
		for _, a := range sc.Actions {
			switch {
			case a == "*" && sc.Type == typeRepository:
				ok := true
				for _, each := range allRepositoryActions {
					ok = ok && g.allowed(sc.Type, sc.Name, each)
				}
				if ok {
					granted = append(granted, a)
				}
			case g.allowed(sc.Type, sc.Name, a):
				granted = append(granted, a)
			}
		}
		if len(granted) > 0 {
			out = append(out, AccessEntry{Type: sc.Type, Name: sc.Name, Actions: granted})
		}
	}
	return out
}

// permissionsClaim summarises a grant for the refresh token's informational "permissions".
func (g grant) permissionsClaim() *permissions {
	actions := []string{}
	switch {
	case g.all:
		actions = []string{"*"}
	case g.data != nil:
		if g.data.Allowed("*", "pull") {
			actions = append(actions, "read")
		}
		if g.data.Allowed("*", "push") {
			actions = append(actions, "write")
		}
		if g.data.Allowed("*", "delete") {
			actions = append(actions, "delete")
		}
	}
	return &permissions{Actions: actions}
}
