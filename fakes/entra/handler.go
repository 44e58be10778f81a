package entra

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwt"
)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

var wellKnownTenants = []string{"common", "organizations", "consumers"}

// IsEntraPath reports whether a request path belongs to Entra: its first segment is a tenant
// (GUID or common/organizations/consumers) and its second one of Entra's.
func IsEntraPath(p string) bool {
	segs := strings.SplitN(strings.TrimPrefix(p, "/"), "/", 3)
	if len(segs) < 2 {
		return false
	}
	if !guidRE.MatchString(segs[0]) && !slices.Contains(wellKnownTenants, segs[0]) {
		return false
	}
	switch segs[1] {
	case "v2.0", "oauth2", "discovery", ".well-known":
		return true
	}
	return false
}

type handler struct {
	dir  Directory
	iss  *Issuer
	base func(*http.Request) string
}

// NewHandler serves Entra's endpoints; base gives the authority base URL (scheme://host:port).
func NewHandler(dir Directory, iss *Issuer, base func(r *http.Request) string) http.Handler {
	h := &handler{dir: dir, iss: iss, base: base}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", h.openIDConfig(true))
	mux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", h.openIDConfig(false))
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", h.keys)
	mux.HandleFunc("GET /{tenant}/discovery/keys", h.keys)
	mux.HandleFunc("GET /{tenant}/discovery/instance", h.instance)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", h.token(true))
	mux.HandleFunc("POST /{tenant}/oauth2/token", h.token(false))
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// openIDConfig serves the OIDC discovery document. MSAL requires issuer to be on the authority's
// own host, and authorization_endpoint, token_endpoint and issuer to be present.
// https://learn.microsoft.com/entra/identity-platform/v2-protocols-oidc
func (h *handler) openIDConfig(v2 bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tenant := r.PathValue("tenant")
		if guidRE.MatchString(tenant) && !h.dir.HasTenant(tenant) {
			h.fail(w, r, http.StatusBadRequest, "invalid_tenant", 90002, errorf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
			return
		}
		base := h.base(r) + "/" + tenant
		doc := map[string]any{
			"token_endpoint":                        base + "/oauth2/v2.0/token",
			"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
			"jwks_uri":                              base + "/discovery/v2.0/keys",
			"response_modes_supported":              []string{"query", "fragment", "form_post"},
			"subject_types_supported":               []string{"pairwise"},
			"id_token_signing_alg_values_supported": []string{"RS256"},
			"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
			"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
			"issuer":                                base + "/v2.0",
			"request_uri_parameter_supported":       false,
			"userinfo_endpoint":                     h.base(r) + "/oidc/userinfo",
			"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
			"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
			"http_logout_supported":                 true,
			"frontchannel_logout_supported":         true,
			"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
			"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "oid", "tid"},
			"tenant_region_scope":                   "NA",
			"cloud_instance_name":                   "microsoftonline.com",
			"cloud_graph_host_name":                 "graph.windows.net",
			"msgraph_host":                          "graph.microsoft.com",
		}
		if !v2 {
			doc["token_endpoint"] = base + "/oauth2/token"
			doc["authorization_endpoint"] = base + "/oauth2/authorize"
			doc["jwks_uri"] = base + "/discovery/keys"
			doc["issuer"] = "https://sts.windows.net/" + tenant + "/"
		}
		writeJSON(w, http.StatusOK, doc)
	}
}

func (h *handler) keys(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(h.iss.JWKS())
}

// instance answers MSAL's instance discovery for the host that asks, so clients that leave it on
// still work once they reach the emulator.
func (h *handler) instance(w http.ResponseWriter, r *http.Request) {
	host := strings.TrimPrefix(strings.TrimPrefix(h.base(r), "https://"), "http://")
	if ae := r.URL.Query().Get("authorization_endpoint"); ae != "" {
		if u, err := url.Parse(ae); err == nil && u.Host != "" {
			host = u.Host
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": "https://" + host + "/{tenant}/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata":                  []any{map[string]any{"preferred_network": host, "preferred_cache": host, "aliases": []string{host}}},
	})
}

// fail writes Entra's error shape: error, error_description with the AADSTS code and trace
// lines, error_codes, timestamp, trace_id, correlation_id.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, status int, code string, aadsts int, msg string) {
	trace, corr := randomGUID(), r.Header.Get("client-request-id")
	if corr == "" {
		corr = randomGUID()
	}
	ts := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	desc := "AADSTS" + strconv.Itoa(aadsts) + ": " + msg + " Trace ID: " + trace + " Correlation ID: " + corr + " Timestamp: " + ts
	writeJSON(w, status, map[string]any{
		"error": code, "error_description": desc, "error_codes": []int{aadsts},
		"timestamp": ts, "trace_id": trace, "correlation_id": corr,
	})
}

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// token serves the v2.0 (scope=) and v1 (resource=) token endpoints for the client credentials
// grant. https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
func (h *handler) token(v2 bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := r.ParseForm(); err != nil {
			h.fail(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
			return
		}
		f := r.PostForm
		tenant := r.PathValue("tenant")
		if !h.dir.HasTenant(tenant) {
			h.fail(w, r, http.StatusBadRequest, "invalid_request", 90002, errorf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
			return
		}
		if gt := f.Get("grant_type"); gt != "client_credentials" {
			h.fail(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+gt+"'.")
			return
		}
		clientID, secret := f.Get("client_id"), f.Get("client_secret")
		if u, p, ok := r.BasicAuth(); ok {
			clientID, _ = url.QueryUnescape(u)
			secret, _ = url.QueryUnescape(p)
		}
		p, err := h.dir.ClientByAppID(tenant, clientID)
		if err != nil {
			h.fail(w, r, http.StatusInternalServerError, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
			return
		}
		if p == nil {
			h.fail(w, r, http.StatusBadRequest, "unauthorized_client", 700016, errorf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant))
			return
		}
		acr, ok := h.authenticate(w, r, p, secret, f)
		if !ok {
			return
		}
		requested := f.Get("resource")
		if v2 {
			requested = ""
			for _, sc := range strings.Fields(f.Get("scope")) {
				if sc == "openid" || sc == "offline_access" || sc == "profile" || sc == "email" {
					continue
				}
				if !strings.HasSuffix(sc, "/.default") || requested != "" {
					h.fail(w, r, http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope "+sc+" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
					return
				}
				requested = sc
			}
		}
		aud, ok := Audience(requested)
		if !ok {
			h.fail(w, r, http.StatusBadRequest, "invalid_resource", 500011, errorf("The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", strings.TrimSuffix(requested, "/.default"), tenant))
			return
		}
		tok, exp, err := h.iss.Mint(p, aud, acr)
		if err != nil {
			h.fail(w, r, http.StatusInternalServerError, "temporarily_unavailable", 90033, "A transient error has occurred. Please try again.")
			return
		}
		secs := int(time.Until(exp).Seconds())
		if v2 {
			writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"token_type": "Bearer", "expires_in": strconv.Itoa(secs), "ext_expires_in": strconv.Itoa(secs),
			"expires_on": strconv.FormatInt(exp.Unix(), 10), "not_before": strconv.FormatInt(time.Now().Add(-5*time.Minute).Unix(), 10),
			"resource": requested, "access_token": tok,
		})
	}
}

// authenticate checks the client's secret or federated assertion and returns appidacr.
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request, p *Principal, secret string, f url.Values) (string, bool) {
	if f.Get("client_assertion_type") == assertionType && f.Get("client_assertion") != "" {
		if federatedMatch(p, f.Get("client_assertion")) {
			return AuthCertificate, true
		}
		h.fail(w, r, http.StatusBadRequest, "invalid_client", 70021, "No matching federated identity record found for presented assertion. Assertion Issuer, Subject or Audience do not match any federated credential of the application.")
		return "", false
	}
	if secret == "" {
		h.fail(w, r, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return "", false
	}
	for _, s := range p.Secrets {
		if subtle.ConstantTimeCompare([]byte(s), []byte(secret)) == 1 {
			return AuthSecret, true
		}
	}
	h.fail(w, r, http.StatusUnauthorized, "invalid_client", 7000215, errorf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", p.AppID))
	return "", false
}

// federatedMatch accepts an unexpired assertion whose iss, sub and aud match a federated
// credential. The external issuer's keys are not reachable offline, so its signature is not
// checked: the emulator trusts the match, which is what tests of workload identity need.
func federatedMatch(p *Principal, assertion string) bool {
	tok, err := jwt.Parse([]byte(assertion), jwt.WithVerify(false), jwt.WithValidate(true), jwt.WithAcceptableSkew(5*time.Minute))
	if err != nil {
		return false
	}
	for _, fc := range p.Federated {
		auds := fc.Audiences
		if len(auds) == 0 {
			auds = []string{"api://AzureADTokenExchange"}
		}
		if tok.Issuer() == fc.Issuer && tok.Subject() == fc.Subject && slices.ContainsFunc(tok.Audience(), func(a string) bool { return slices.Contains(auds, a) }) {
			return true
		}
	}
	return false
}

func randomGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
