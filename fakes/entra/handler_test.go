package entra

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

const (
	secret   = "s3cret+/=:&%" // characters client_secret_basic must form-encode
	fedID    = "77777777-7777-7777-7777-777777777777"
	fedIss   = "https://oidc.example/cluster"
	fedSub   = "system:serviceaccount:default:app"
	miID     = "55555555-5555-5555-5555-555555555555"
	unknownT = "99999999-9999-9999-9999-999999999999"
)

type dir map[string]*Principal

func (d dir) HasTenant(t string) bool { return t == tenant }
func (d dir) ClientByAppID(t, appID string) (*Principal, error) {
	if t != tenant {
		return nil, nil
	}
	return d[appID], nil
}

func directory() dir {
	return dir{
		clientID: {ObjectID: objectID, AppID: clientID, TenantID: tenant, Kind: KindServicePrincipal, Secrets: []string{"old", secret}},
		fedID: {ObjectID: "88888888-8888-8888-8888-888888888888", AppID: fedID, TenantID: tenant, Kind: KindServicePrincipal,
			Federated: []FederatedCredential{{Issuer: fedIss, Subject: fedSub}}},
		miID: {ObjectID: "66666666-6666-6666-6666-666666666666", AppID: miID, TenantID: tenant, Kind: KindManagedIdentity, ResourceID: uamiID,
			Federated: []FederatedCredential{{Issuer: fedIss, Subject: "system:serviceaccount:ns:mi", Audiences: []string{"api://custom"}}}},
	}
}

func newServer(t *testing.T) (*httptest.Server, *Issuer) {
	t.Helper()
	iss := newIssuer(t)
	srv := httptest.NewTLSServer(NewHandler(directory(), iss, nil))
	t.Cleanup(srv.Close)
	return srv, iss
}

// call sends a request and decodes a JSON object answer.
func call(t *testing.T, srv *httptest.Server, method, path string, form url.Values, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %d, not a JSON object: %q", method, path, res.StatusCode, b)
	}
	return res, m
}

// assertion is a workload-identity token as a Kubernetes API server would sign it; the key is
// not one Entra could know.
func assertion(t *testing.T, iss, sub, aud string, exp time.Time) string {
	t.Helper()
	key := newIssuer(t).key
	return signRS256(t, key, map[string]any{"alg": "RS256", "kid": "k8s"},
		map[string]any{"iss": iss, "sub": sub, "aud": []string{aud}, "exp": exp.Unix(), "iat": time.Now().Unix(), "nbf": time.Now().Unix()})
}

func TestDiscovery(t *testing.T) {
	srv, _ := newServer(t)
	host := strings.TrimPrefix(srv.URL, "https://")
	for _, tc := range []struct {
		path, issuer, token, jwks string
	}{
		{"/" + tenant + "/v2.0/.well-known/openid-configuration", srv.URL + "/" + tenant + "/v2.0", "/oauth2/v2.0/token", "/discovery/v2.0/keys"},
		{"/" + tenant + "/.well-known/openid-configuration", "https://sts.windows.net/" + tenant + "/", "/oauth2/token", "/discovery/keys"},
		{"/common/v2.0/.well-known/openid-configuration", srv.URL + "/{tenantid}/v2.0", "/oauth2/v2.0/token", "/discovery/v2.0/keys"},
		{"/organizations/v2.0/.well-known/openid-configuration", srv.URL + "/{tenantid}/v2.0", "/oauth2/v2.0/token", "/discovery/v2.0/keys"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, doc := call(t, srv, "GET", tc.path, nil, nil)
			tb := srv.URL + "/" + strings.Split(tc.path, "/")[1]
			if res.StatusCode != 200 || doc["issuer"] != tc.issuer || doc["token_endpoint"] != tb+tc.token || doc["jwks_uri"] != tb+tc.jwks {
				t.Fatalf("%d %v", res.StatusCode, doc)
			}
			if u, err := url.Parse(doc["authorization_endpoint"].(string)); err != nil || u.Host != host {
				t.Errorf("authorization_endpoint = %v", doc["authorization_endpoint"])
			}
			for _, f := range []string{"token_endpoint_auth_methods_supported", "id_token_signing_alg_values_supported",
				"response_types_supported", "scopes_supported", "subject_types_supported"} {
				if l, _ := doc[f].([]any); len(l) == 0 {
					t.Errorf("%s missing", f)
				}
			}
		})
	}
	// MSAL requires the issuer on the authority's own host:port, whatever name reached us.
	req, _ := http.NewRequest("GET", srv.URL+"/"+tenant+"/v2.0/.well-known/openid-configuration", nil)
	req.Host = "login.emulator.test:8443"
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.NewDecoder(res.Body).Decode(&doc)
	res.Body.Close()
	if doc["issuer"] != "https://login.emulator.test:8443/"+tenant+"/v2.0" {
		t.Errorf("issuer for Host login.emulator.test:8443 = %v", doc["issuer"])
	}
	res, body := call(t, srv, "GET", "/"+unknownT+"/v2.0/.well-known/openid-configuration", nil, nil)
	if res.StatusCode != 400 || body["error"] != "invalid_tenant" || !strings.HasPrefix(body["error_description"].(string), "AADSTS90002: Tenant '"+unknownT+"' not found.") {
		t.Errorf("unknown tenant: %d %v", res.StatusCode, body)
	}
}

func TestKeysEndpoint(t *testing.T) {
	srv, iss := newServer(t)
	tok, _, _ := iss.Mint(directory()[clientID], acrAud, AuthSecret)
	for _, p := range []string{"/" + tenant + "/discovery/v2.0/keys", "/" + tenant + "/discovery/keys", "/common/discovery/v2.0/keys"} {
		res, err := srv.Client().Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		set, err := jwk.Parse(b)
		if err != nil || set.Len() != 1 {
			t.Fatalf("%s: %v %s", p, err, b)
		}
		if _, err := jws.Verify([]byte(tok), jws.WithKeySet(set, jws.WithInferAlgorithmFromKey(true), jws.WithRequireKid(true))); err != nil {
			t.Fatalf("%s: a minted token does not verify: %v", p, err)
		}
	}
}

func TestInstanceDiscovery(t *testing.T) {
	srv, _ := newServer(t)
	q := url.Values{"api-version": {"1.1"}, "authorization_endpoint": {"https://login.emulator.test:8443/" + tenant + "/oauth2/v2.0/authorize"}}
	res, body := call(t, srv, "GET", "/common/discovery/instance?"+q.Encode(), nil, nil)
	md, _ := body["metadata"].([]any)
	if res.StatusCode != 200 || body["tenant_discovery_endpoint"] != "https://login.emulator.test:8443/"+tenant+"/v2.0/.well-known/openid-configuration" || len(md) != 1 {
		t.Fatalf("%d %v", res.StatusCode, body)
	}
	if m := md[0].(map[string]any); m["preferred_network"] != "login.emulator.test:8443" || len(m["aliases"].([]any)) != 1 {
		t.Errorf("metadata = %v", m)
	}
	res, body = call(t, srv, "GET", "/common/discovery/instance?api-version=1.1&authorization_endpoint=http://x/y", nil, nil)
	if res.StatusCode != 400 || body["error"] != "invalid_instance" {
		t.Errorf("http authority: %d %v", res.StatusCode, body)
	}
}

func TestTokenErrors(t *testing.T) {
	srv, _ := newServer(t)
	v2, v1 := "/"+tenant+"/oauth2/v2.0/token", "/"+tenant+"/oauth2/token"
	form := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret},
			"scope": {acrAud + "/.default openid offline_access profile"}}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				v.Del(kv[i])
			} else {
				v.Set(kv[i], kv[i+1])
			}
		}
		return v
	}
	fed := func(a string) url.Values {
		return form("client_id", fedID, "client_secret", "", "client_assertion_type", assertionType, "client_assertion", a)
	}
	now := time.Now()
	tests := []struct {
		desc   string
		path   string
		form   url.Values
		status int
		err    string
		aadsts int
		text   string // expected start of the description after "AADSTSnnnn: "
	}{
		{"unknown tenant", "/" + unknownT + "/oauth2/v2.0/token", form(), 400, "invalid_request", 90002, "Tenant '" + unknownT + "' not found."},
		{"common tenant", "/common/oauth2/v2.0/token", form(), 400, "invalid_request", 50059, "No tenant-identifying information"},
		{"no grant type", v2, form("grant_type", ""), 400, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'."},
		{"unsupported grant", v2, form("grant_type", "password"), 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type 'password'."},
		{"no client id", v2, form("client_id", ""), 400, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'."},
		{"unknown client", v2, form("client_id", "00000000-0000-0000-0000-00000000000f"), 400, "unauthorized_client", 700016,
			"Application with identifier '00000000-0000-0000-0000-00000000000f' was not found in the directory '" + tenant + "'."},
		{"wrong secret", v2, form("client_secret", "nope"), 401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID"},
		{"no secret", v2, form("client_secret", ""), 401, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."},
		{"managed identity with a secret", v2, form("client_id", miID, "client_secret", "x"), 401, "invalid_client", 7000215, "Invalid client secret provided."},
		{"unknown resource", v2, form("scope", "https://vault.azure.net/.default"), 400, "invalid_resource", 500011,
			"The resource principal named https://vault.azure.net was not found in the tenant named " + tenant + "."},
		{"unknown v1 resource", v1, form("scope", "", "resource", "https://vault.azure.net"), 400, "invalid_resource", 500011, "The resource principal named https://vault.azure.net was not found"},
		{"no v1 resource", v1, form(), 400, "invalid_request", 900144, "The request body must contain the following parameter: 'resource'."},
		{"no scope", v2, form("scope", ""), 400, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'."},
		{"scope without /.default", v2, form("scope", acrAud), 400, "invalid_scope", 1002012, "The provided value for scope " + acrAud + " is not valid."},
		{"two resources", v2, form("scope", acrAud+"/.default https://management.azure.com/.default"), 400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. One or more scopes"},
		{"only openid scopes", v2, form("scope", "openid profile"), 400, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid."},
		{"federated subject mismatch", v2, fed(assertion(t, fedIss, "system:serviceaccount:default:other", DefaultFederatedAudience, now.Add(time.Hour))), 400, "invalid_request", 70021,
			"No matching federated identity record found for presented assertion. Assertion Issuer: '" + fedIss + "'. Assertion Subject: 'system:serviceaccount:default:other'."},
		{"federated issuer mismatch", v2, fed(assertion(t, "https://evil.example", fedSub, DefaultFederatedAudience, now.Add(time.Hour))), 400, "invalid_request", 70021, "No matching federated identity record"},
		{"federated audience mismatch", v2, fed(assertion(t, fedIss, fedSub, "api://other", now.Add(time.Hour))), 400, "invalid_request", 70021, "No matching federated identity record"},
		{"federated assertion expired", v2, fed(assertion(t, fedIss, fedSub, DefaultFederatedAudience, now.Add(-10*time.Minute))), 400, "invalid_client", 700024, "Client assertion is not within its valid time range."},
		{"federated assertion unsigned", v2, fed(b64(map[string]any{"alg": "none"}) + "." + b64(map[string]any{"iss": fedIss, "sub": fedSub, "aud": DefaultFederatedAudience, "exp": now.Add(time.Hour).Unix()}) + "."), 400, "invalid_request", 50027, "JWT token is invalid or malformed."},
		{"federated assertion garbage", v2, fed("garbage"), 400, "invalid_request", 50027, "JWT token is invalid or malformed."},
		{"certificate assertion", v2, fed(assertion(t, fedID, fedID, srvTokenURL, now.Add(time.Hour))), 401, "invalid_client", 700027, "The certificate with identifier"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			res, body := call(t, srv, "POST", tc.path, tc.form, map[string]string{"client-request-id": "12345678-1234-1234-1234-123456789abc"})
			codes, _ := body["error_codes"].([]any)
			desc, _ := body["error_description"].(string)
			prefix := "AADSTS" + strconv.Itoa(tc.aadsts) + ": " + tc.text
			if res.StatusCode != tc.status || body["error"] != tc.err || len(codes) != 1 || codes[0] != float64(tc.aadsts) || !strings.HasPrefix(desc, prefix) {
				t.Fatalf("got %d %v\nwant %d %s %q", res.StatusCode, body, tc.status, tc.err, prefix)
			}
			trace, _ := body["trace_id"].(string)
			if !guidRE.MatchString(trace) || body["correlation_id"] != "12345678-1234-1234-1234-123456789abc" || res.Header.Get("x-ms-request-id") != trace ||
				!strings.Contains(desc, " Trace ID: "+trace+" Correlation ID: 12345678-1234-1234-1234-123456789abc Timestamp: "+body["timestamp"].(string)) {
				t.Errorf("trace fields: %v", body)
			}
		})
	}
}

// srvTokenURL stands for the token endpoint a certificate assertion is addressed to.
const srvTokenURL = "https://login.emulator.test/" + tenant + "/oauth2/v2.0/token"

func TestTokenSuccess(t *testing.T) {
	srv, iss := newServer(t)
	base := url.Values{"grant_type": {"client_credentials"}}
	with := func(kv ...string) url.Values {
		v := url.Values{}
		for k, vs := range base {
			v[k] = vs
		}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	basic := func(id, pw string) map[string]string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(pw))
		return map[string]string{"Authorization": req.Header.Get("Authorization")}
	}
	fedAssertion := assertion(t, fedIss, fedSub, DefaultFederatedAudience, time.Now().Add(time.Hour))
	tests := []struct {
		desc     string
		v1       bool
		form     url.Values
		hdr      map[string]string
		aud, oid string
		acr      string
		mirid    string
	}{
		{"v2 secret in the form", false, with("client_id", clientID, "client_secret", secret, "scope", acrAud+"/.default openid offline_access profile"), nil, acrAud, objectID, "1", ""},
		{"v2 upper-case client id", false, with("client_id", strings.ToUpper(clientID), "client_secret", secret, "scope", acrAud+"/.default"), nil, acrAud, objectID, "1", ""},
		{"v2 client_secret_basic", false, with("scope", "https://management.core.windows.net//.default"), basic(clientID, secret), "https://management.core.windows.net/", objectID, "1", ""},
		{"v1 client_secret_basic", true, with("resource", "https://management.core.windows.net/"), basic(clientID, secret), "https://management.core.windows.net/", objectID, "1", ""},
		{"v1 secret in the form", true, with("client_id", clientID, "client_secret", secret, "resource", acrAud), nil, acrAud, objectID, "1", ""},
		{"v2 federated assertion", false, with("client_id", fedID, "client_assertion_type", assertionType, "client_assertion", fedAssertion, "scope", acrAud+"/.default"), nil, acrAud, "88888888-8888-8888-8888-888888888888", "2", ""},
		{"v2 managed identity federated with a custom audience", false, with("client_id", miID, "client_assertion_type", assertionType,
			"client_assertion", assertion(t, fedIss, "system:serviceaccount:ns:mi", "api://custom", time.Now().Add(time.Hour)), "scope", acrAud+"/.default"), nil, acrAud, "66666666-6666-6666-6666-666666666666", "2", uamiID},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			path := "/" + tenant + "/oauth2/v2.0/token"
			if tc.v1 {
				path = "/" + tenant + "/oauth2/token"
			}
			res, body := call(t, srv, "POST", path, tc.form, tc.hdr)
			if res.StatusCode != 200 || body["token_type"] != "Bearer" {
				t.Fatalf("%d %v", res.StatusCode, body)
			}
			if tc.v1 {
				for _, f := range []string{"expires_in", "ext_expires_in", "expires_on", "not_before"} {
					s, ok := body[f].(string)
					if _, err := strconv.ParseInt(s, 10, 64); !ok || err != nil {
						t.Errorf("v1 %s = %#v, want a string of digits", f, body[f])
					}
				}
				if body["resource"] != tc.form.Get("resource") {
					t.Errorf("resource = %v", body["resource"])
				}
			} else {
				for _, f := range []string{"expires_in", "ext_expires_in"} {
					if n, ok := body[f].(float64); !ok || n < 3590 || n > 3600 {
						t.Errorf("v2 %s = %#v, want the number 3599", f, body[f])
					}
				}
				if _, has := body["resource"]; has {
					t.Errorf("v2 answer has resource")
				}
			}
			c, err := iss.Verify(body["access_token"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if c.Audience != tc.aud || c.ObjectID != tc.oid || c.TenantID != tenant || c.Raw["appidacr"] != tc.acr || c.ResourceID != tc.mirid {
				t.Errorf("claims = %+v", c)
			}
		})
	}
}

func TestRoutes(t *testing.T) {
	srv, _ := newServer(t)
	for _, tc := range []struct {
		method, path string
		status       int
		allow        string
	}{
		{"GET", "/" + tenant + "/oauth2/v2.0/token", 405, "POST"},
		{"PUT", "/" + tenant + "/oauth2/token", 405, "POST"},
		{"POST", "/" + tenant + "/v2.0/.well-known/openid-configuration", 405, "GET"},
		{"DELETE", "/" + tenant + "/discovery/v2.0/keys", 405, "GET"},
		{"GET", "/" + tenant + "/oauth2/v2.0/authorize", 404, ""},
		{"GET", "/" + tenant, 404, ""},
		{"GET", "/" + tenant + "/oauth2/v2.0/token/extra", 404, ""},
		{"GET", "/v2/", 404, ""},
	} {
		res, body := call(t, srv, tc.method, tc.path, nil, nil)
		if res.StatusCode != tc.status || res.Header.Get("Allow") != tc.allow || body["error"] == nil ||
			!strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d allow=%q %v", tc.method, tc.path, res.StatusCode, res.Header.Get("Allow"), body)
		}
	}
}

// TestCustomCloudToken: what the azurerm provider sends in custom-cloud mode (metadata_host),
// joining a loginEndpoint that ends in "/" with "/{tenant}/..." and asking for the metadata's
// resourceManager URL as a scope.
func TestCustomCloudToken(t *testing.T) {
	iss := newIssuer(t)
	local := httptest.NewTLSServer(NewHandler(directory(), iss, nil, WithLocalResources(func(r *http.Request) []string {
		return []string{"https://" + r.Host}
	})))
	t.Cleanup(local.Close)
	plain, plainIss := newServer(t)
	form := func(scope string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}, "scope": {scope}}
	}
	for _, tc := range []struct {
		desc   string
		srv    *httptest.Server
		path   string
		scope  string
		status int
		aud    string
	}{
		{"doubled slash, Azure resource", plain, "//" + tenant + "/oauth2/v2.0/token", "https://management.azure.com/.default", 200, "https://management.azure.com"},
		{"the local resource", local, "//" + tenant + "/oauth2/v2.0/token", local.URL + "/.default", 200, local.URL},
		{"the local resource, trailing slash kept", local, "/" + tenant + "/oauth2/v2.0/token", local.URL + "//.default", 200, local.URL + "/"},
		{"the local resource, other casing", local, "/" + tenant + "/oauth2/v2.0/token", strings.ToUpper(local.URL) + "/.default", 200, local.URL},
		{"another host", local, "/" + tenant + "/oauth2/v2.0/token", "https://localhost:1/.default", 400, ""},
		{"no local resources", plain, "/" + tenant + "/oauth2/v2.0/token", plain.URL + "/.default", 400, ""},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			res, body := call(t, tc.srv, "POST", tc.path, form(tc.scope), nil)
			if res.StatusCode != tc.status {
				t.Fatalf("%d %v", res.StatusCode, body)
			}
			if tc.status != 200 {
				if body["error"] != "invalid_resource" {
					t.Errorf("error = %v", body)
				}
				return
			}
			verifier := iss
			if tc.srv == plain {
				verifier = plainIss
			}
			c, err := verifier.Verify(body["access_token"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if c.Audience != tc.aud || c.ObjectID != objectID {
				t.Errorf("aud = %q, oid = %q; want aud %q", c.Audience, c.ObjectID, tc.aud)
			}
		})
	}
}
