package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

func TestParseScopes(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
	}{
		{in: []string{"repository:team/app:pull,push"}, want: []string{"repository:team/app:pull,push"}},
		{in: []string{"repository:a:pull repository:b:push"}, want: []string{"repository:a:pull", "repository:b:push"}},
		{in: []string{"registry:catalog:*", "repository:a:pull"}, want: []string{"registry:catalog:*", "repository:a:pull"}},
		{in: []string{"bogus", "repository:a:", ":a:pull"}, want: nil},
	}
	for _, tc := range tests {
		var got []string
		for _, s := range ParseScopes(tc.in) {
			got = append(got, s.String())
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("ParseScopes(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestChallengeBytes(t *testing.T) {
	realm, svc := "https://r.azurecr.io/oauth2/token", "r.azurecr.io"
	if got, want := Challenge(realm, svc, nil, ""), `Bearer realm="https://r.azurecr.io/oauth2/token",service="r.azurecr.io"`; got != want {
		t.Errorf("ping challenge = %s", got)
	}
	sc := &Scope{Type: "repository", Name: "hello-world", Actions: []string{"metadata_write"}}
	want := `Bearer realm="https://r.azurecr.io/oauth2/token",service="r.azurecr.io",scope="repository:hello-world:metadata_write",error="insufficient_scope"`
	if got := Challenge(realm, svc, sc, "insufficient_scope"); got != want {
		t.Errorf("challenge = %s\nwant      %s", got, want)
	}
}

// fixture: one registry, the admin user, a service principal with or without a role.
type fakeEntra map[string]*Identity

func (f fakeEntra) VerifyEntraToken(raw string) (*Identity, error) {
	if id, ok := f[raw]; ok {
		return id, nil
	}
	return nil, errors.New("bad token")
}

const (
	tenant  = "11111111-1111-1111-1111-111111111111"
	regID   = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myregistry"
	puller  = "aaaaaaaa-0000-0000-0000-000000000001"
	noRole  = "aaaaaaaa-0000-0000-0000-000000000002"
	acrPull = "/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d"
)

type fixture struct {
	srv   *httptest.Server
	svc   *Service
	st    *store.Store
	login string
}

func newFixture(t *testing.T, mutate func(*store.Registry)) *fixture {
	t.Helper()
	st := store.New()
	f := &fixture{st: st}
	entra := fakeEntra{
		"acr-token-puller":  {TenantID: tenant, ObjectID: puller, AppID: "app-puller", Audience: "https://containerregistry.azure.net"},
		"arm-token-puller":  {TenantID: tenant, ObjectID: puller, AppID: "app-puller", Audience: "https://management.core.windows.net/"},
		"acr-token-norole":  {TenantID: tenant, ObjectID: noRole, AppID: "app-norole", Audience: "https://containerregistry.azure.net"},
		"acr-token-unknown": {TenantID: tenant, ObjectID: "bbbbbbbb-0000-0000-0000-000000000009", Audience: "https://containerregistry.azure.net"},
	}
	svc, err := New(Config{Store: st, Entra: entra, TenantID: tenant, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	content := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "content:"+CallerName(r.Context()))
	})
	access := func(r *http.Request) Scope {
		if r.URL.Path == "/v2/" {
			return Scope{}
		}
		if r.Method == http.MethodPut {
			return Scope{Type: "repository", Name: "app", Actions: []string{"pull", "push"}}
		}
		return Scope{Type: "repository", Name: "app", Actions: []string{"pull"}}
	}
	mux := http.NewServeMux()
	mux.Handle("/oauth2/", svc.Handler("myregistry"))
	mux.Handle("/", svc.Protect("myregistry", access, content))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	f.login = strings.TrimPrefix(f.srv.URL, "http://")
	reg := &store.Registry{Name: "myregistry", LoginServer: f.login, ID: regID, AdminUserEnabled: true, AdminUsername: "myregistry",
		AdminPasswords: [2]string{"pw1", "pw2"}, AuthAsARM: true, RoleAssignmentMode: "LegacyRegistryPermissions"}
	if mutate != nil {
		mutate(reg)
	}
	must(t, st.PutRegistry(reg))
	must(t, st.PutPrincipal(&store.Principal{ObjectID: puller, AppID: "app-puller", TenantID: tenant, Kind: store.KindServicePrincipal, Secrets: []string{"s3cret"}}))
	must(t, st.PutPrincipal(&store.Principal{ObjectID: noRole, AppID: "app-norole", TenantID: tenant, Kind: store.KindServicePrincipal, Secrets: []string{"s3cret"}}))
	must(t, st.PutRoleAssignment(&store.RoleAssignment{ID: regID + "/providers/Microsoft.Authorization/roleAssignments/1", Scope: regID, RoleDefinitionID: acrPull, PrincipalID: puller}))
	return f
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

type result struct {
	status int
	header http.Header
	body   string
}

func (f *fixture) do(t *testing.T, method, path string, header map[string]string, form url.Values) result {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, f.srv.URL+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return result{res.StatusCode, res.Header, string(b)}
}

func basic(user, pass string) map[string]string {
	return map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))}
}

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func field(t *testing.T, body, name string) string {
	t.Helper()
	var m map[string]string
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not a token response: %s", body)
	}
	return m[name]
}

func TestGateChallenges(t *testing.T) {
	f := newFixture(t, nil)
	r := f.do(t, "GET", "/v2/app/manifests/v1", nil, nil)
	wantChallenge := `Bearer realm="http://` + f.login + `/oauth2/token",service="` + f.login + `",scope="repository:app:pull"`
	if r.status != 401 || r.header.Get("Www-Authenticate") != wantChallenge {
		t.Fatalf("no credentials: %d %q", r.status, r.header.Get("Www-Authenticate"))
	}
	wantBody := `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required, visit https://aka.ms/acr/authorization for more information.","detail":[{"Type":"repository","Name":"app","Action":"pull"}]}]}` + "\n"
	if r.body != wantBody {
		t.Fatalf("401 body = %s", r.body)
	}
	r = f.do(t, "GET", "/v2/", nil, nil)
	if r.status != 401 || strings.Contains(r.header.Get("Www-Authenticate"), "scope=") {
		t.Fatalf("ping: %d %q", r.status, r.header.Get("Www-Authenticate"))
	}
	r = f.do(t, "GET", "/v2/app/manifests/v1", basic("myregistry", "wrong"), nil)
	if r.status != 401 || r.header.Get("Www-Authenticate") != `Basic realm="Azure Container Registry"` {
		t.Fatalf("wrong Basic: %d %q", r.status, r.header.Get("Www-Authenticate"))
	}
	r = f.do(t, "GET", "/v2/app/manifests/v1", basic("myregistry", "pw2"), nil)
	if r.status != 200 || r.body != "content:admin user myregistry" {
		t.Fatalf("admin Basic: %d %s", r.status, r.body)
	}
	r = f.do(t, "GET", "/v2/app/manifests/v1", bearer("garbage"), nil)
	if r.status != 401 || !strings.HasSuffix(r.header.Get("Www-Authenticate"), `,error="invalid_token"`) {
		t.Fatalf("bad bearer: %d %q", r.status, r.header.Get("Www-Authenticate"))
	}
}

func TestTokenFlows(t *testing.T) {
	f := newFixture(t, nil)
	// Service principal with AcrPull: pull allowed, push refused with insufficient_scope.
	r := f.do(t, "GET", "/oauth2/token?service="+f.login+"&scope=repository:app:pull,push", basic("app-puller", "s3cret"), nil)
	if r.status != 200 {
		t.Fatalf("SP token: %d %s", r.status, r.body)
	}
	tok := field(t, r.body, "access_token")
	if r := f.do(t, "GET", "/v2/app/manifests/v1", bearer(tok), nil); r.status != 200 {
		t.Fatalf("pull with AcrPull token: %d %s", r.status, r.body)
	}
	r = f.do(t, "PUT", "/v2/app/manifests/v1", bearer(tok), nil)
	if r.status != 401 || !strings.HasSuffix(r.header.Get("Www-Authenticate"), `scope="repository:app:pull,push",error="insufficient_scope"`) {
		t.Fatalf("push with AcrPull token: %d %q", r.status, r.header.Get("Www-Authenticate"))
	}

	// Exchange: Entra ACR-audience token → refresh token → access token (POST refresh grant).
	r = f.do(t, "POST", "/oauth2/exchange", nil, url.Values{"grant_type": {"access_token"}, "service": {f.login}, "access_token": {"acr-token-puller"}})
	if r.status != 200 {
		t.Fatalf("exchange: %d %s", r.status, r.body)
	}
	rt := field(t, r.body, "refresh_token")
	payload := strings.Split(rt, ".")[1]
	if pad := len(payload) % 4; pad != 0 {
		payload += strings.Repeat("=", 4-pad)
	}
	if _, err := base64.StdEncoding.DecodeString(payload); err != nil {
		t.Fatalf("refresh token payload is not standard base64 (the Azure SDK decodes it so): %v", err)
	}
	r = f.do(t, "POST", "/oauth2/token", nil, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"repository:app:pull"}, "service": {f.login}})
	if r.status != 200 {
		t.Fatalf("refresh grant: %d %s", r.status, r.body)
	}
	if r := f.do(t, "GET", "/v2/app/manifests/v1", bearer(field(t, r.body, "access_token")), nil); r.status != 200 {
		t.Fatalf("pull with refreshed token: %d", r.status)
	}
	// The refresh token works as a password with the null GUID (az acr login → docker login).
	if r := f.do(t, "GET", "/v2/app/manifests/v1", basic(nullGUID, rt), nil); r.status != 200 {
		t.Fatalf("null GUID + refresh token: %d %s", r.status, r.body)
	}
	// A refresh token is not an access token.
	if r := f.do(t, "GET", "/v2/app/manifests/v1", bearer(rt), nil); r.status != 401 {
		t.Fatalf("refresh token used as access token: %d", r.status)
	}

	// docker login: GET with offline_token=true and no scope returns a refresh token too.
	r = f.do(t, "GET", "/oauth2/token?account=myregistry&client_id=docker&offline_token=true&service="+f.login, basic("myregistry", "pw1"), nil)
	if r.status != 200 || field(t, r.body, "refresh_token") == "" || field(t, r.body, "access_token") == "" {
		t.Fatalf("docker login token: %d %s", r.status, r.body)
	}
	// The Azure SDK's anonymous form: password grant with an empty refresh_token.
	r = f.do(t, "POST", "/oauth2/token", nil, url.Values{"grant_type": {"password"}, "refresh_token": {""}, "scope": {"registry:catalog:*"}, "service": {f.login}})
	if r.status != 200 {
		t.Fatalf("anonymous token: %d %s", r.status, r.body)
	}
	if r := f.do(t, "GET", "/v2/app/manifests/v1", bearer(field(t, r.body, "access_token")), nil); r.status != 401 {
		t.Fatalf("anonymous pull while anonymous pull is off: %d", r.status)
	}
}

func TestExchangeRefusals(t *testing.T) {
	f := newFixture(t, func(r *store.Registry) { r.AuthAsARM = false })
	tests := []struct {
		desc   string
		method string
		form   url.Values
		status int
	}{
		{"GET is not found", "GET", nil, 404},
		{"no role on the registry", "POST", url.Values{"grant_type": {"access_token"}, "access_token": {"acr-token-norole"}}, 401},
		{"unknown principal", "POST", url.Values{"grant_type": {"access_token"}, "access_token": {"acr-token-unknown"}}, 401},
		{"invalid Entra token", "POST", url.Values{"grant_type": {"access_token"}, "access_token": {"forged"}}, 401},
		{"ARM audience with authentication-as-ARM disabled", "POST", url.Values{"grant_type": {"access_token"}, "access_token": {"arm-token-puller"}}, 401},
		{"wrong tenant parameter", "POST", url.Values{"grant_type": {"access_token"}, "tenant": {"99999999-9999-9999-9999-999999999999"}, "access_token": {"acr-token-puller"}}, 401},
		{"unsupported grant", "POST", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}, 400},
		{"ACR audience is fine", "POST", url.Values{"grant_type": {"access_token"}, "access_token": {"acr-token-puller"}}, 200},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if r := f.do(t, tc.method, "/oauth2/exchange", nil, tc.form); r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
		})
	}
	// With authentication-as-ARM on (the default), the ARM audience is accepted.
	g := newFixture(t, nil)
	if r := g.do(t, "POST", "/oauth2/exchange", nil, url.Values{"grant_type": {"access_token"}, "access_token": {"arm-token-puller"}}); r.status != 200 {
		t.Fatalf("ARM audience: %d %s", r.status, r.body)
	}
}

func TestRejectedTokens(t *testing.T) {
	f := newFixture(t, nil)
	now := time.Now()
	good, _, err := f.svc.signer.mint(claims{AUD: f.login, GrantType: grantAccess, Access: []AccessEntry{{Type: "repository", Name: "app", Actions: []string{"pull"}}}}, time.Hour)
	must(t, err)
	expired, _, _ := (&signer{key: f.svc.signer.key, now: func() time.Time { return now.Add(-2 * time.Hour) }}).mint(claims{AUD: f.login, GrantType: grantAccess}, time.Hour)
	otherRegistry, _, _ := f.svc.signer.mint(claims{AUD: "other.azurecr.io", GrantType: grantAccess, Access: []AccessEntry{{Type: "repository", Name: "app", Actions: []string{"pull"}}}}, time.Hour)
	other, _ := newSigner(time.Now, nil)
	wrongKey, _, _ := other.mint(claims{AUD: f.login, GrantType: grantAccess, Access: []AccessEntry{{Type: "repository", Name: "app", Actions: []string{"pull"}}}}, time.Hour)
	parts := strings.Split(good, ".")
	forged := base64.RawURLEncoding.EncodeToString([]byte(`{"aud":"` + f.login + `","grant_type":"access_token","iss":"Azure Container Registry","exp":9999999999,"access":[{"type":"repository","name":"app","actions":["*"]}]}`))
	tampered := parts[0] + "." + forged + "." + parts[2]
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + forged + "."
	if r := f.do(t, "GET", "/v2/app/manifests/v1", bearer(good), nil); r.status != 200 {
		t.Fatalf("the control token must work: %d", r.status)
	}
	for name, tok := range map[string]string{"expired": expired, "other registry": otherRegistry, "wrong key": wrongKey, "tampered": tampered, "alg none": none} {
		if r := f.do(t, "GET", "/v2/app/manifests/v1", bearer(tok), nil); r.status != 401 || !strings.Contains(r.header.Get("Www-Authenticate"), `error="invalid_token"`) {
			t.Errorf("%s token: %d %q", name, r.status, r.header.Get("Www-Authenticate"))
		}
	}
}

func TestAnonymousPull(t *testing.T) {
	f := newFixture(t, func(r *store.Registry) { r.AnonymousPullEnabled = true })
	r := f.do(t, "GET", "/oauth2/token?service="+f.login+"&scope=repository:app:pull,push", nil, nil)
	tok := field(t, r.body, "access_token")
	if r := f.do(t, "GET", "/v2/app/manifests/v1", bearer(tok), nil); r.status != 200 {
		t.Fatalf("anonymous pull: %d", r.status)
	}
	if r := f.do(t, "PUT", "/v2/app/manifests/v1", bearer(tok), nil); r.status != 401 {
		t.Fatalf("anonymous push: %d", r.status)
	}
}

// Identical grants reuse a token; a different grant never does.
func TestAccessTokenReuse(t *testing.T) {
	f := newFixture(t, nil)
	get := func(user, pass, scope string) string {
		r := f.do(t, "GET", "/oauth2/token?service="+f.login+"&scope="+scope, basic(user, pass), nil)
		return field(t, r.body, "access_token")
	}
	a := get("myregistry", "pw1", "repository:app:pull")
	if b := get("myregistry", "pw2", "repository:app:pull"); a != b {
		t.Fatal("the same caller and grant got a new token (signing every time)")
	}
	if c := get("myregistry", "pw1", "repository:app:pull,push"); c == a {
		t.Fatal("a wider grant reused a narrower token")
	}
	if d := get("app-puller", "s3cret", "repository:app:pull"); d == a {
		t.Fatal("another caller reused the admin's token")
	}
}

// Revoking the credential a refresh token came from takes effect at the next token request,
// and an access token never renews itself (issue: a chain of tokens outlived revocation).
func TestRevocation(t *testing.T) {
	f := newFixture(t, nil)
	scope := "&scope=repository:app:pull&service="
	offline := func(user, pass string) string {
		t.Helper()
		r := f.do(t, "GET", "/oauth2/token?offline_token=true&client_id=docker"+scope+f.login, basic(user, pass), nil)
		if r.status != 200 {
			t.Fatalf("login as %s: %d %s", user, r.status, r.body)
		}
		return field(t, r.body, "refresh_token")
	}
	renew := func(rt string) result {
		return f.do(t, "POST", "/oauth2/token", nil, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"repository:app:pull"}, "service": {f.login}})
	}
	rt1, rt2 := offline("myregistry", "pw1"), offline("myregistry", "pw2")
	r := renew(rt1)
	if r.status != 200 {
		t.Fatalf("refresh grant: %d %s", r.status, r.body)
	}
	at := field(t, r.body, "access_token")
	if r := f.do(t, "GET", "/v2/app/manifests/v1", bearer(at), nil); r.status != 200 {
		t.Fatalf("pull with the renewed token: %d", r.status)
	}
	// An access token is not a password, neither at the token service nor on the registry.
	if r := f.do(t, "GET", "/oauth2/token?service="+f.login+"&scope=repository:app:pull", basic(nullGUID, at), nil); r.status != 401 {
		t.Fatalf("access token as password at /oauth2/token: %d %s", r.status, r.body)
	}
	if r := f.do(t, "POST", "/oauth2/token", nil, url.Values{"grant_type": {"password"}, "username": {nullGUID}, "password": {at}, "service": {f.login}}); r.status != 401 {
		t.Fatalf("access token as password (POST): %d %s", r.status, r.body)
	}
	if r := f.do(t, "GET", "/v2/app/manifests/v1", basic(nullGUID, at), nil); r.status != 401 {
		t.Fatalf("access token as Basic password on /v2: %d", r.status)
	}
	// The refresh token is a password with the null GUID, until its credential is revoked.
	if r := f.do(t, "GET", "/oauth2/token?service="+f.login+"&scope=repository:app:pull", basic(nullGUID, rt1), nil); r.status != 200 {
		t.Fatalf("refresh token as password: %d %s", r.status, r.body)
	}

	// Regenerating password 1 revokes what came from it, not what came from password 2.
	reg, err := f.st.GetRegistry("myregistry")
	must(t, err)
	next := *reg
	next.AdminPasswords = [2]string{"pw1-regenerated", reg.AdminPasswords[1]}
	must(t, f.st.PutRegistry(&next))
	if r := renew(rt1); r.status != 401 {
		t.Fatalf("refresh token of a regenerated password: %d %s", r.status, r.body)
	}
	if r := f.do(t, "GET", "/v2/app/manifests/v1", basic(nullGUID, rt1), nil); r.status != 401 {
		t.Fatalf("refresh token of a regenerated password on /v2: %d", r.status)
	}
	if r := renew(rt2); r.status != 200 {
		t.Fatalf("refresh token of the other password: %d %s", r.status, r.body)
	}
	// Disabling the admin user revokes every admin refresh token.
	off := next
	off.AdminUserEnabled = false
	must(t, f.st.PutRegistry(&off))
	if r := renew(rt2); r.status != 401 {
		t.Fatalf("admin refresh token with the admin user disabled: %d %s", r.status, r.body)
	}

	// A principal's refresh token stops granting once its role assignment is removed.
	r = f.do(t, "POST", "/oauth2/exchange", nil, url.Values{"grant_type": {"access_token"}, "service": {f.login}, "access_token": {"acr-token-puller"}})
	if r.status != 200 {
		t.Fatalf("exchange: %d %s", r.status, r.body)
	}
	prt := field(t, r.body, "refresh_token")
	pull := func() int {
		r := renew(prt)
		if r.status != 200 {
			return r.status
		}
		return f.do(t, "GET", "/v2/app/manifests/v1", bearer(field(t, r.body, "access_token")), nil).status
	}
	if got := pull(); got != 200 {
		t.Fatalf("pull with the principal's renewed token: %d", got)
	}
	if _, err := f.st.DeleteRoleAssignment(regID + "/providers/Microsoft.Authorization/roleAssignments/1"); err != nil {
		t.Fatal(err)
	}
	if got := pull(); got != 401 {
		t.Fatalf("pull after the role assignment was removed: %d", got)
	}
}
