package token

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/internal/reqinfo"
)

// Challenge builds ACR's WWW-Authenticate value byte for byte (spec rule 1): no spaces after
// commas, every value quoted, scope last unless error follows; no scope for the /v2/ ping.
func Challenge(realm, service string, scope *Scope, errCode string) string {
	var b strings.Builder
	b.WriteString(`Bearer realm="` + realm + `",service="` + service + `"`)
	if scope != nil {
		b.WriteString(`,scope="` + scope.String() + `"`)
	}
	if errCode != "" {
		b.WriteString(`,error="` + errCode + `"`)
	}
	return b.String()
}

type detail struct {
	Type   string `json:"Type"`
	Name   string `json:"Name"`
	Action string `json:"Action"`
}

// challengeError is the 401 ACR answers: UNAUTHORIZED with one detail entry per action.
func challengeError(r *http.Request, need Scope, errCode string) error {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http" // a plain-HTTP client (oras on localhost) fetches its token the same way
	}
	var scope *Scope
	e := errUnauthorized
	if need.Type != "" {
		scope = &need
		var d []detail
		for _, a := range sortedActions(need.Actions) {
			d = append(d, detail{Type: need.Type, Name: need.Name, Action: a})
		}
		e = e.WithDetail(d)
	}
	return e.WithHeader("WWW-Authenticate", Challenge(scheme+"://"+r.Host+"/oauth2/token", r.Host, scope, errCode))
}

// basicChallenge is what ACR answers to wrong Basic credentials sent straight to /v2/.
var basicChallenge = errUnauthorized.WithHeader("WWW-Authenticate", `Basic realm="Azure Container Registry"`)

type callerKey struct{}

// CallerName returns who the gate let through ("" before the gate or when unauthenticated).
func CallerName(ctx context.Context) string {
	name, _ := ctx.Value(callerKey{}).(string)
	return name
}

// Protect lets a request through to next only when it carries credentials that grant what
// access says it needs: a Bearer access token for this registry, or Basic credentials ACR
// accepts directly (admin user, service principal, the null GUID with an ACR token).
func (s *Service) Protect(registry string, access AccessFunc, next http.Handler) http.Handler {
	return httpx.ACRHeaders(httpx.RegistryHandler(func(w http.ResponseWriter, r *http.Request) error {
		reg, err := s.registry(registry)
		if err != nil {
			return err
		}
		need := access(r)
		log := httpx.LoggerOr(r.Context(), s.cfg.Logger)
		auth := r.Header.Get("Authorization")
		scheme, cred, _ := strings.Cut(auth, " ")
		var name string
		switch {
		case strings.EqualFold(scheme, "Bearer") && cred != "":
			c, err := s.signer.verify(strings.TrimSpace(cred), reg.LoginServer, grantAccess)
			if err != nil {
				log.Info("request refused: invalid token", "registry", registry, "path", r.URL.Path, "err", err)
				return challengeError(r, need, "invalid_token")
			}
			if need.Type != "" && !covers(c.Access, need) {
				log.Info("request refused: token lacks access", "registry", registry, "need", need.String(), "sub", c.Sub)
				return challengeError(r, need, "insufficient_scope")
			}
			name = s.tokenCallerName(c)
		case strings.EqualFold(scheme, "Basic"):
			user, pass, ok := r.BasicAuth()
			if !ok {
				return basicChallenge
			}
			c, err := s.basicCaller(reg, user, pass)
			if err != nil {
				log.Info("request refused: bad Basic credentials", "registry", registry, "user", user)
				return gateBasicError(err)
			}
			g, err := s.grantFor(reg, c)
			if err != nil {
				return err
			}
			if need.Type != "" && !covers(g.authorize([]Scope{need}), need) {
				log.Info("request refused: caller lacks access", "registry", registry, "need", need.String(), "caller", c.Name())
				return challengeError(r, need, "insufficient_scope")
			}
			name = c.Name()
		default:
			return challengeError(r, need, "")
		}
		reqinfo.SetPrincipal(r.Context(), name)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, name)))
		return nil
	}))
}

// gateBasicError: wrong Basic credentials on the registry itself get ACR's Basic challenge.
func gateBasicError(err error) error {
	if errors.Is(err, errBadCredentials) {
		return basicChallenge
	}
	return err
}

// tokenCallerName names the caller an access token stands for, as Basic callers are named.
func (s *Service) tokenCallerName(c *claims) string {
	switch c.Caller {
	case callerAdmin:
		return (&caller{kind: callerAdmin, subject: c.Sub}).Name()
	case callerPrincipal:
		if p, err := s.cfg.Store.GetPrincipal(c.OID); err == nil && p != nil {
			return principalCaller(p).Name()
		}
	case callerToken:
		return (&caller{kind: callerToken, subject: c.Sub}).Name()
	}
	return "anonymous"
}
