package token

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/internal/reqinfo"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

const maxFormBytes = 1 << 20

var (
	errUnauthorized = httpx.NewRegistryError(http.StatusUnauthorized, "UNAUTHORIZED",
		"authentication required, visit https://aka.ms/acr/authorization for more information.")
	errUnsupportedGrant = httpx.NewRegistryError(http.StatusBadRequest, "UNSUPPORTED", "unsupported grant_type")
)

func (s *Service) errorsAsRegistry(h httpx.RegistryHandler) http.Handler {
	return httpx.ACRHeaders(h)
}

func writeToken(w http.ResponseWriter, v map[string]string) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

// exchange serves POST /oauth2/exchange: an Entra access token for the ACR audience (or an ARM
// audience, unless the registry disabled authentication-as-ARM) becomes an ACR refresh token
// carrying the caller's identity. Only POST exists (a GET is 404, as on ACR).
// https://github.com/Azure/acr/blob/main/docs/AAD-OAuth.md
func (s *Service) exchange(w http.ResponseWriter, r *http.Request, registry string) error {
	if r.Method != http.MethodPost {
		http.NotFound(w, r)
		return nil
	}
	reg, err := s.registry(registry)
	if err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return httpx.NewRegistryError(http.StatusBadRequest, "INVALID_REQUEST", "the request form could not be read")
	}
	log := httpx.LoggerOr(r.Context(), s.cfg.Logger)
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "access_token", "access_token_refresh_token":
	default:
		return errUnsupportedGrant.WithMessage("unsupported grant_type " + strconvQuote(gt) + ": use access_token")
	}
	raw := r.PostForm.Get("access_token")
	if raw == "" {
		return httpx.NewRegistryError(http.StatusBadRequest, "INVALID_REQUEST", "access_token is required")
	}
	id, err := s.cfg.Entra.VerifyEntraToken(raw)
	if err != nil {
		log.Info("token exchange refused: invalid Entra token", "registry", registry, "err", err)
		return errUnauthorized
	}
	if !acceptedAudience(id.Audience, reg.AuthAsARM) {
		log.Info("token exchange refused: audience", "registry", registry, "aud", id.Audience, "authAsArm", reg.AuthAsARM)
		return errUnauthorized.WithMessage("InvalidAudience: Invalid authorization token audience.")
	}
	if !equalFold(id.TenantID, s.cfg.TenantID) || (r.PostForm.Get("tenant") != "" && !equalFold(r.PostForm.Get("tenant"), id.TenantID)) {
		log.Info("token exchange refused: tenant", "registry", registry, "tid", id.TenantID)
		return errUnauthorized
	}
	p, err := s.cfg.Store.GetPrincipal(id.ObjectID)
	if err != nil {
		return err
	}
	if p == nil {
		log.Info("token exchange refused: unknown principal", "registry", registry, "oid", id.ObjectID)
		return errUnauthorized
	}
	c := principalCaller(p)
	g, err := s.grantFor(reg, c)
	if err != nil {
		return err
	}
	if !g.any() {
		log.Info("token exchange refused: no role on the registry", "registry", registry, "principal", c.Name())
		return errUnauthorized
	}
	rt, err := s.refreshToken(reg, c, g)
	if err != nil {
		return err
	}
	reqinfo.SetPrincipal(r.Context(), c.Name())
	log.Info("token exchange", "registry", registry, "principal", c.Name())
	return writeToken(w, map[string]string{"refresh_token": rt})
}

func strconvQuote(s string) string { return strconv.Quote(s) }

// acceptedAudience: the ACR audience always; ARM audiences unless authentication-as-ARM is off.
func acceptedAudience(aud string, authAsARM bool) bool {
	a := strings.TrimSuffix(strings.ToLower(aud), "/")
	switch a {
	case "https://containerregistry.azure.net":
		return true
	case "https://management.azure.com", "https://management.core.windows.net":
		return authAsARM
	}
	return false
}

func (s *Service) refreshToken(reg *store.Registry, c *caller, g grant) (string, error) {
	cl := claims{Sub: c.subject, AUD: reg.LoginServer, RID: reg.ID, GrantType: grantRefresh, AppID: c.appID,
		Tenant: c.tenant, Permissions: g.permissionsClaim(), Caller: c.kind, Credential: c.credential}
	if c.principal != nil {
		cl.OID = c.principal.ObjectID
	}
	tok, _, err := s.signer.mint(cl, s.cfg.RefreshTTL)
	return tok, err
}

// token serves /oauth2/token. GET takes Basic credentials (or none: anonymous) and scopes in
// the query, as docker, crane and oras do without an identity token; POST takes the
// refresh_token grant (ACR refresh tokens) or the password grant (username/password, or the
// Azure SDK's anonymous form with an empty refresh_token).
func (s *Service) token(w http.ResponseWriter, r *http.Request, registry string) error {
	reg, err := s.registry(registry)
	if err != nil {
		return err
	}
	log := httpx.LoggerOr(r.Context(), s.cfg.Logger)
	var c *caller
	var scopes []Scope
	offline := false
	switch r.Method {
	case http.MethodGet:
		q := r.URL.Query()
		scopes = ParseScopes(q["scope"])
		offline = q.Get("offline_token") == "true"
		if user, pass, ok := r.BasicAuth(); ok {
			if c, err = s.basicCaller(reg, user, pass); err != nil {
				log.Info("token refused: bad credentials", "registry", registry, "user", user)
				return basicError(err)
			}
		}
	case http.MethodPost:
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if err := r.ParseForm(); err != nil {
			return httpx.NewRegistryError(http.StatusBadRequest, "INVALID_REQUEST", "the request form could not be read")
		}
		f := r.PostForm
		scopes = ParseScopes(f["scope"])
		switch f.Get("grant_type") {
		case "refresh_token":
			cl, err := s.signer.verify(f.Get("refresh_token"), reg.LoginServer, grantRefresh)
			if err != nil {
				log.Info("token refused: bad refresh token", "registry", registry, "err", err)
				return errUnauthorized
			}
			if c, err = s.refreshCaller(reg, cl); err != nil {
				return basicError(err)
			}
		case "password":
			offline = f.Get("access_type") == "offline"
			if user := f.Get("username"); user != "" {
				if c, err = s.basicCaller(reg, user, f.Get("password")); err != nil {
					log.Info("token refused: bad credentials", "registry", registry, "user", user)
					return basicError(err)
				}
			}
		default:
			return errUnsupportedGrant
		}
	default:
		return httpx.NewRegistryError(http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.")
	}
	if c == nil {
		c = &caller{kind: "anonymous", subject: ""}
	}
	g, err := s.grantFor(reg, c)
	if err != nil {
		return err
	}
	reqinfo.SetPrincipal(r.Context(), c.Name())
	access := g.authorize(scopes)
	cl := claims{Sub: c.subject, AUD: reg.LoginServer, GrantType: grantAccess, AppID: c.appID, Tenant: c.tenant, Access: access, Caller: c.kind}
	if c.principal != nil {
		cl.OID = c.principal.ObjectID
	}
	tok, err := s.accessToken(cl)
	if err != nil {
		return err
	}
	out := map[string]string{"access_token": tok}
	if offline && c.kind != "anonymous" {
		rt, err := s.refreshToken(reg, c, g)
		if err != nil {
			return err
		}
		out["refresh_token"] = rt
	}
	log.Debug("token issued", "registry", registry, "caller", c.Name(), "requested", len(scopes), "granted", access)
	return writeToken(w, out)
}

// accessToken mints an access token, or reuses a fresh-enough identical one.
func (s *Service) accessToken(c claims) (string, error) {
	key, now := cacheKey(&c), s.cfg.Now()
	if tok, ok := s.cache.get(key, now); ok {
		return tok, nil
	}
	tok, _, err := s.signer.mint(c, s.cfg.AccessTTL)
	if err == nil {
		s.cache.put(key, tok, now, s.cfg.AccessTTL)
	}
	return tok, err
}

func basicError(err error) error {
	if errors.Is(err, errBadCredentials) {
		return errUnauthorized
	}
	return err
}
