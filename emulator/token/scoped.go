package token

import (
	"crypto/subtle"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/rbac"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Repository-scoped tokens (registries/tokens) on the data plane: the token's name is the user
// name, one of its passwords the password (docker login, Basic on /v2 and /oauth2/token). What
// a token may do is its scope map's, evaluated at every token request, so a changed scope map,
// a disabled or deleted token, a regenerated or expired password take effect at the next one.
// Refresh tokens a token's login hands out carry a mark of the password they came from.
// https://learn.microsoft.com/azure/container-registry/container-registry-repository-scoped-permissions

// tokenRefusal says why a token's credentials are refused ("" when they are accepted).
type tokenRefusal string

const (
	refusedDisabled tokenRefusal = "token disabled"
	refusedPassword tokenRefusal = "wrong password"
	refusedExpired  tokenRefusal = "password expired"
)

// checkTokenPassword decides whether pass logs in as token t at now: the token enabled, pass
// one of its passwords (compared in constant time), that password not expired.
func checkTokenPassword(t *store.Token, pass string, now time.Time) (*store.TokenPassword, tokenRefusal) {
	return checkToken(t, now, func(pw *store.TokenPassword) bool {
		return pw.Value != "" && subtle.ConstantTimeCompare([]byte(pw.Value), []byte(pass)) == 1
	})
}

// checkToken is checkTokenPassword with the password found by match.
func checkToken(t *store.Token, now time.Time, match func(*store.TokenPassword) bool) (*store.TokenPassword, tokenRefusal) {
	if !t.Enabled {
		return nil, refusedDisabled
	}
	for i := range t.Passwords {
		pw := &t.Passwords[i]
		if !match(pw) {
			continue
		}
		if !pw.Expiry.IsZero() && !now.Before(pw.Expiry) {
			return nil, refusedExpired
		}
		return pw, ""
	}
	return nil, refusedPassword
}

// tokenOwner is what a token password's mark is bound to: the token, by its registry and name.
func tokenOwner(reg *store.Registry, name string) string {
	return reg.ID + "/tokens/" + strings.ToLower(name)
}

// tokenCaller is the caller for a token's Basic credentials; nil, nil when reg has no token
// of that name (the user name may be another kind of credential).
func (s *Service) tokenCaller(reg *store.Registry, user, pass string) (*caller, error) {
	t, err := s.cfg.Store.GetToken(reg.Name, user)
	if err != nil || t == nil {
		return nil, err
	}
	pw, why := checkTokenPassword(t, pass, s.cfg.Now())
	if why != "" {
		s.cfg.Logger.Info("token credentials refused", "registry", reg.Name, "token", t.Name, "reason", string(why))
		return nil, errBadCredentials
	}
	return &caller{kind: callerToken, token: t, subject: t.Name, credential: s.signer.credentialMark(callerToken, tokenOwner(reg, t.Name), pw.Value)}, nil
}

// tokenRefreshCaller re-checks the token a refresh token came from: still there, enabled, and
// the password it was minted from still one of its passwords and unexpired.
func (s *Service) tokenRefreshCaller(reg *store.Registry, c *claims) (*caller, error) {
	t, err := s.cfg.Store.GetToken(reg.Name, c.Sub)
	if err != nil {
		return nil, err
	}
	if t == nil || c.Credential == "" {
		return nil, errBadCredentials
	}
	_, why := checkToken(t, s.cfg.Now(), func(pw *store.TokenPassword) bool {
		mark := s.signer.credentialMark(callerToken, tokenOwner(reg, t.Name), pw.Value)
		return pw.Value != "" && subtle.ConstantTimeCompare([]byte(mark), []byte(c.Credential)) == 1
	})
	if why != "" {
		s.cfg.Logger.Info("token refresh refused", "registry", reg.Name, "token", t.Name, "reason", string(why))
		return nil, errBadCredentials
	}
	return &caller{kind: callerToken, token: t, subject: t.Name, credential: c.Credential}, nil
}

// scopeMapGrant is what a token's scope map allows now: a system-defined scope map's actions,
// a stored one's, or nothing when the scope map was deleted.
func (s *Service) scopeMapGrant(reg *store.Registry, t *store.Token) (rbac.TokenGrant, error) {
	if d, ok := rbac.BuiltInScopeMap(t.ScopeMap); ok {
		return rbac.ScopeMapGrant(d.Actions), nil
	}
	m, err := s.cfg.Store.GetScopeMap(reg.Name, t.ScopeMap)
	if err != nil || m == nil {
		return rbac.TokenGrant{}, err
	}
	return rbac.ScopeMapGrant(m.Actions), nil
}
