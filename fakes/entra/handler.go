package entra

import (
	"net/http"
	"net/url"
	"strings"
)

type handler struct {
	dir   Directory
	iss   *Issuer
	base  func(*http.Request) string
	local func(*http.Request) []string
}

// HandlerOption configures NewHandler.
type HandlerOption func(*handler)

// WithLocalResources names resources Entra issues tokens for besides Azure's own, for a
// request: in the emulator, its ARM endpoint, which its cloud metadata names as
// resourceManager. Clients configured from that metadata (the azurerm provider's custom-cloud
// mode) ask for "<resourceManager>/.default", as they ask for
// "https://management.azure.com/.default" in Azure's public cloud, where the resource manager
// URL is an identifier of ARM's application too. The token's aud is the resource as asked for.
func WithLocalResources(f func(r *http.Request) []string) HandlerOption {
	return func(h *handler) { h.local = f }
}

// route is one endpoint under /{tenant}/.
type route struct {
	method string
	serve  func(h *handler, w http.ResponseWriter, r *http.Request, tenant string) *oauthError
}

// routes lists every endpoint, keyed by the path after the tenant segment. A table rather than
// http.ServeMux: ServeMux answers mismatches in plain text and redirects unclean paths, where
// clients of this surface expect JSON.
var routes = map[string]route{
	"v2.0/.well-known/openid-configuration": {http.MethodGet, func(h *handler, w http.ResponseWriter, r *http.Request, t string) *oauthError {
		return h.openIDConfig(w, r, t, true)
	}},
	".well-known/openid-configuration": {http.MethodGet, func(h *handler, w http.ResponseWriter, r *http.Request, t string) *oauthError {
		return h.openIDConfig(w, r, t, false)
	}},
	"discovery/v2.0/keys": {http.MethodGet, (*handler).keys},
	"discovery/keys":      {http.MethodGet, (*handler).keys},
	"discovery/instance":  {http.MethodGet, (*handler).instance},
	"oauth2/v2.0/token": {http.MethodPost, func(h *handler, w http.ResponseWriter, r *http.Request, t string) *oauthError {
		return h.token(w, r, t, true)
	}},
	"oauth2/token": {http.MethodPost, func(h *handler, w http.ResponseWriter, r *http.Request, t string) *oauthError {
		return h.token(w, r, t, false)
	}},
}

// NewHandler serves Entra's endpoints for the principals of dir, signing with iss. base gives
// the authority base URL clients use (scheme://host[:port], no trailing slash), for the URLs in
// discovery documents; nil means "https://" + r.Host, right whenever clients reach the handler
// directly. Paths are relative to the authority host: /{tenant}/oauth2/v2.0/token and so on.
func NewHandler(dir Directory, iss *Issuer, base func(r *http.Request) string, opts ...HandlerOption) http.Handler {
	if base == nil {
		base = func(r *http.Request) string { return "https://" + r.Host }
	}
	h := &handler{dir: dir, iss: iss, base: base}
	for _, o := range opts {
		o(h)
	}
	return h
}

// audience is the aud of a token for the requested scope or resource, ok=false when Entra
// does not know the resource.
func (h *handler) audience(r *http.Request, requested string) (string, bool) {
	if aud, ok := Audience(requested); ok {
		return aud, true
	}
	if h.local == nil {
		return "", false
	}
	return audienceAmong(requested, h.local(r))
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tenant, rest, _ := strings.Cut(strings.TrimLeft(r.URL.Path, "/"), "/")
	rt, ok := routes[strings.TrimSuffix(rest, "/")]
	var err *oauthError
	switch {
	case !ok || !IsEntraPath(r.URL.Path):
		err = errNotFound(r.URL.Path)
	case r.Method != rt.method && !(rt.method == http.MethodGet && r.Method == http.MethodHead):
		err = errMethod(rt.method, r.Method)
	default:
		err = rt.serve(h, w, r, tenant)
	}
	if err != nil {
		writeError(w, r, h.iss.now(), err)
	}
}

// knownTenant accepts the tenant segment of discovery requests: the well-known names, or a
// tenant of the directory.
func (h *handler) knownTenant(tenant string) bool {
	return isWellKnownTenant(tenant) || h.dir.HasTenant(normalizeID(tenant))
}

// openIDConfig serves the OIDC discovery document. MSAL Go needs authorization_endpoint,
// token_endpoint and issuer, and refuses an issuer whose scheme and host:port differ from the
// authority's, so every URL is built from the authority base the client used.
// https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc
func (h *handler) openIDConfig(w http.ResponseWriter, r *http.Request, tenant string, v2 bool) *oauthError {
	if !h.knownTenant(tenant) {
		return errTenantNotFound("invalid_tenant", tenant)
	}
	base := h.base(r)
	tb := base + "/" + tenant
	// The tenant-independent documents name the issuer with a placeholder, as Entra's do.
	issuerTenant := tenant
	switch strings.ToLower(tenant) {
	case "common", "organizations":
		issuerTenant = "{tenantid}"
	case "consumers":
		issuerTenant = consumersTenant
	}
	doc := map[string]any{
		"token_endpoint":                        tb + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              tb + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/" + issuerTenant + "/v2.0",
		"request_uri_parameter_supported":       false,
		"userinfo_endpoint":                     base + "/oidc/userinfo",
		"authorization_endpoint":                tb + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         tb + "/oauth2/v2.0/devicecode",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  tb + "/oauth2/v2.0/logout",
		"claims_supported": []string{"sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
			"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver",
			"at_hash", "c_hash", "email"},
		"kerberos_endpoint":     tb + "/kerberos",
		"tenant_region_scope":   "NA",
		"cloud_instance_name":   "microsoftonline.com",
		"cloud_graph_host_name": "graph.windows.net",
		"msgraph_host":          "graph.microsoft.com",
		"rbac_url":              "https://pas.windows.net",
	}
	if !v2 {
		// The v1 document: v1 endpoints, and the sts.windows.net issuer of v1.0 tokens.
		doc["token_endpoint"] = tb + "/oauth2/token"
		doc["authorization_endpoint"] = tb + "/oauth2/authorize"
		doc["device_authorization_endpoint"] = tb + "/oauth2/devicecode"
		doc["end_session_endpoint"] = tb + "/oauth2/logout"
		doc["jwks_uri"] = tb + "/discovery/keys"
		doc["issuer"] = "https://sts.windows.net/" + issuerTenant + "/"
		doc["scopes_supported"] = []string{"openid"}
	}
	writeJSON(w, http.StatusOK, doc)
	return nil
}

// keys serves the JWKS. Entra serves the same keys to every tenant.
func (h *handler) keys(w http.ResponseWriter, r *http.Request, _ string) *oauthError {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(h.iss.JWKS())
	return nil
}

// instance answers MSAL's instance discovery (spec 5.5 step 1) for the host named in
// authorization_endpoint, declaring it its own alias, so clients that leave instance discovery
// on still work once their requests reach the emulator (DNS override or proxy). The tenant
// discovery endpoint names the tenant of the request: MSAL fetches it as it stands.
func (h *handler) instance(w http.ResponseWriter, r *http.Request, _ string) *oauthError {
	u, err := url.Parse(r.URL.Query().Get("authorization_endpoint"))
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return errInvalidInstance()
	}
	tenant, _, _ := strings.Cut(strings.TrimPrefix(u.Path, "/"), "/")
	if tenant == "" {
		tenant = "common"
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": "https://" + u.Host + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": u.Host, "preferred_cache": u.Host, "aliases": []string{u.Host},
		}},
	})
	return nil
}

// normalizeID lower-cases GUIDs, which Entra compares case-insensitively, and leaves other
// identifiers (tenant domain names) alone.
func normalizeID(id string) string {
	if guidRE.MatchString(id) {
		return strings.ToLower(id)
	}
	return id
}
