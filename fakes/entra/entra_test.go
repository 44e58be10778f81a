package entra

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

const (
	tenant   = "11111111-1111-1111-1111-111111111111"
	clientID = "33333333-3333-3333-3333-333333333333"
	objectID = "44444444-4444-4444-4444-444444444444"
	secret   = "s3cret"
	fedID    = "77777777-7777-7777-7777-777777777777"
)

type dir map[string]*Principal

func (d dir) HasTenant(t string) bool { return t == tenant }
func (d dir) ClientByAppID(t, appID string) (*Principal, error) {
	return d[appID], nil
}

func directory() dir {
	return dir{
		clientID: {ObjectID: objectID, AppID: clientID, TenantID: tenant, Kind: KindServicePrincipal, Secrets: []string{secret}},
		fedID: {ObjectID: "88888888-8888-8888-8888-888888888888", AppID: fedID, TenantID: tenant, Kind: KindServicePrincipal,
			Federated: []FederatedCredential{{Issuer: "https://oidc.example/cluster", Subject: "system:serviceaccount:default:app"}}},
	}
}

func newServer(t *testing.T) (*httptest.Server, *Issuer) {
	t.Helper()
	iss, err := NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	var srv *httptest.Server
	srv = httptest.NewTLSServer(NewHandler(directory(), iss, func(r *http.Request) string { return "https://" + r.Host }))
	t.Cleanup(srv.Close)
	return srv, iss
}

func TestMintVerify(t *testing.T) {
	iss, _ := NewIssuer()
	p := &Principal{ObjectID: objectID, AppID: clientID, TenantID: tenant, Kind: KindManagedIdentity, ResourceID: "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"}
	tok, exp, err := iss.Mint(p, "https://containerregistry.azure.net", AuthCertificate)
	if err != nil {
		t.Fatal(err)
	}
	c, err := iss.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c.Audience != "https://containerregistry.azure.net" || c.ObjectID != objectID || c.AppID != clientID || c.TenantID != tenant ||
		c.ResourceID != p.ResourceID || c.Issuer != "https://sts.windows.net/"+tenant+"/" || !c.ExpiresAt.Equal(exp.Truncate(time.Second)) {
		t.Fatalf("claims = %+v", c)
	}
	if c.Raw["idtyp"] != "app" || c.Raw["ver"] != "1.0" || c.Raw["appidacr"] != "2" {
		t.Fatalf("raw claims = %v", c.Raw)
	}

	other, _ := NewIssuer()
	wrongKey, _, _ := other.Mint(p, "https://containerregistry.azure.net", AuthSecret)
	expiredIss := &Issuer{key: iss.key, kid: iss.kid, lifetime: time.Hour, now: func() time.Time { return time.Now().Add(-3 * time.Hour) }}
	expired, _, _ := expiredIss.Mint(p, "https://containerregistry.azure.net", AuthSecret)
	futureIss := &Issuer{key: iss.key, kid: iss.kid, lifetime: time.Hour, now: func() time.Time { return time.Now().Add(time.Hour) }}
	future, _, _ := futureIss.Mint(p, "https://containerregistry.azure.net", AuthSecret)
	parts := strings.Split(tok, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	tamperedPayload := strings.Replace(string(payload), objectID, "99999999-9999-9999-9999-999999999999", 1)
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(tamperedPayload)) + "." + parts[2]
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
	badIssTok, _ := jwt.NewBuilder().Issuer("https://evil.example/").Audience([]string{"https://containerregistry.azure.net"}).
		Expiration(time.Now().Add(time.Hour)).Claim("tid", tenant).Claim("oid", objectID).Build()
	badIss, _ := jwt.Sign(badIssTok, jwt.WithKey(jwa.RS256, iss.key))
	for name, raw := range map[string]string{"other key": wrongKey, "expired": expired, "not yet valid": future, "tampered": tampered, "alg none": none, "wrong issuer": string(badIss)} {
		if _, err := iss.Verify(raw); err == nil {
			t.Errorf("%s token verified", name)
		}
	}
}

func TestAudience(t *testing.T) {
	tests := map[string]string{
		"https://containerregistry.azure.net/.default":  "https://containerregistry.azure.net",
		"https://management.core.windows.net//.default": "https://management.core.windows.net/",
		"https://management.azure.com/":                 "https://management.azure.com/",
		"https://vault.azure.net/.default":              "",
		"containerregistry":                             "",
	}
	for in, want := range tests {
		got, ok := Audience(in)
		if got != want || ok != (want != "") {
			t.Errorf("Audience(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
}

func post(t *testing.T, srv *httptest.Server, path string, form url.Values, basicUser, basicPass string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(basicUser, basicPass)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("not JSON: %s", b)
	}
	return res.StatusCode, body
}

func TestTokenEndpoint(t *testing.T) {
	srv, iss := newServer(t)
	v2 := "/" + tenant + "/oauth2/v2.0/token"
	form := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret},
			"scope": {"https://containerregistry.azure.net/.default openid offline_access profile"}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		desc   string
		path   string
		form   url.Values
		status int
		aadsts float64
		err    string
	}{
		{"unknown tenant", "/99999999-9999-9999-9999-999999999999/oauth2/v2.0/token", form(), 400, 90002, "invalid_request"},
		{"unknown client", v2, form("client_id", "00000000-0000-0000-0000-00000000000f"), 400, 700016, "unauthorized_client"},
		{"wrong secret", v2, form("client_secret", "nope"), 401, 7000215, "invalid_client"},
		{"no secret", v2, form("client_secret", ""), 401, 7000218, "invalid_client"},
		{"unknown resource", v2, form("scope", "https://vault.azure.net/.default"), 400, 500011, "invalid_resource"},
		{"scope without .default", v2, form("scope", "https://containerregistry.azure.net"), 400, 1002012, "invalid_scope"},
		{"unsupported grant", v2, form("grant_type", "password"), 400, 70003, "unsupported_grant_type"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			status, body := post(t, srv, tc.path, tc.form, "", "")
			codes, _ := body["error_codes"].([]any)
			if status != tc.status || body["error"] != tc.err || len(codes) != 1 || codes[0] != tc.aadsts ||
				!strings.HasPrefix(body["error_description"].(string), "AADSTS") || body["trace_id"] == "" || body["correlation_id"] == "" {
				t.Fatalf("got %d %v", status, body)
			}
		})
	}
	// v2: numbers; v1: strings and the resource echoed.
	status, body := post(t, srv, v2, form(), "", "")
	if status != 200 || body["token_type"] != "Bearer" {
		t.Fatalf("v2: %d %v", status, body)
	}
	if _, ok := body["expires_in"].(float64); !ok {
		t.Fatalf("v2 expires_in is not a number: %v", body["expires_in"])
	}
	status, body = post(t, srv, "/"+tenant+"/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "resource": {"https://management.core.windows.net/"}}, clientID, secret)
	if status != 200 || body["resource"] != "https://management.core.windows.net/" {
		t.Fatalf("v1 with Basic client auth: %d %v", status, body)
	}
	if _, ok := body["expires_on"].(string); !ok {
		t.Fatalf("v1 expires_on is not a string: %v", body["expires_on"])
	}
	c, err := iss.Verify(body["access_token"].(string))
	if err != nil || c.Audience != "https://management.core.windows.net/" || c.Raw["appidacr"] != "1" {
		t.Fatalf("v1 token: %+v %v", c, err)
	}
}

func assertion(t *testing.T, sub string) string {
	t.Helper()
	key, _ := NewIssuer()
	tok, _ := jwt.NewBuilder().Issuer("https://oidc.example/cluster").Subject(sub).Audience([]string{"api://AzureADTokenExchange"}).
		Expiration(time.Now().Add(10 * time.Minute)).Build()
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, key.key))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestDiscoveryAndKeys(t *testing.T) {
	srv, iss := newServer(t)
	res, err := srv.Client().Get(srv.URL + "/" + tenant + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.NewDecoder(res.Body).Decode(&doc)
	res.Body.Close()
	if doc["issuer"] != srv.URL+"/"+tenant+"/v2.0" || doc["token_endpoint"] != srv.URL+"/"+tenant+"/oauth2/v2.0/token" || doc["authorization_endpoint"] == nil {
		t.Fatalf("discovery = %v", doc)
	}
	res, err = srv.Client().Get(srv.URL + "/" + tenant + "/discovery/v2.0/keys")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	set, err := jwk.Parse(b)
	if err != nil || set.Len() != 1 {
		t.Fatalf("JWKS: %v %s", err, b)
	}
	tok, _, _ := iss.Mint(directory()[clientID], "https://containerregistry.azure.net", AuthSecret)
	if _, err := jws.Verify([]byte(tok), jws.WithKeySet(set, jws.WithInferAlgorithmFromKey(true), jws.WithRequireKid(true))); err != nil {
		t.Fatalf("a minted token does not verify with the published JWKS: %v", err)
	}
	for _, p := range []string{"/" + tenant + "/oauth2/v2.0/token", "/common/discovery/instance", "/" + tenant + "/v2.0/.well-known/openid-configuration"} {
		if !IsEntraPath(p) {
			t.Errorf("IsEntraPath(%s) = false", p)
		}
	}
	for _, p := range []string{"/v2/", "/oauth2/token", "/acr/v1/_catalog", "/subscriptions/x", "/_emulator/state"} {
		if IsEntraPath(p) {
			t.Errorf("IsEntraPath(%s) = true", p)
		}
	}
}

// The real clients: azidentity's client-secret and client-assertion credentials.
func TestAzidentity(t *testing.T) {
	srv, iss := newServer(t)
	opts := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL + "/"}, Transport: srv.Client()}
	ctx := context.Background()
	scope := policy.TokenRequestOptions{Scopes: []string{"https://containerregistry.azure.net/.default"}}

	cred, err := azidentity.NewClientSecretCredential(tenant, clientID, secret, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(ctx, scope)
	if err != nil {
		t.Fatal(err)
	}
	c, err := iss.Verify(tok.Token)
	if err != nil || c.Audience != "https://containerregistry.azure.net" || c.AppID != clientID || c.ObjectID != objectID || c.TenantID != tenant {
		t.Fatalf("client secret token: %+v, %v", c, err)
	}
	bad, _ := azidentity.NewClientSecretCredential(tenant, clientID, "wrong", &azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if _, err := bad.GetToken(ctx, scope); err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("wrong secret: %v", err)
	}

	for sub, want := range map[string]bool{"system:serviceaccount:default:app": true, "system:serviceaccount:default:other": false} {
		fed, err := azidentity.NewClientAssertionCredential(tenant, fedID, func(context.Context) (string, error) { return assertion(t, sub), nil },
			&azidentity.ClientAssertionCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
		if err != nil {
			t.Fatal(err)
		}
		_, err = fed.GetToken(ctx, scope)
		if (err == nil) != want {
			t.Errorf("federated assertion for %s: err = %v, want success %v", sub, err, want)
		}
	}
}
