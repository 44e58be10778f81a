package token

import (
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

func TestCheckTokenPassword(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tok := func(enabled bool, pws ...store.TokenPassword) *store.Token {
		return &store.Token{Name: "ci-token", Enabled: enabled, Passwords: pws}
	}
	p1 := store.TokenPassword{Name: "password1", Value: "one"}
	p2 := store.TokenPassword{Name: "password2", Value: "two"}
	expired := store.TokenPassword{Name: "password1", Value: "one", Expiry: now}
	later := store.TokenPassword{Name: "password1", Value: "one", Expiry: now.Add(time.Second)}
	tests := []struct {
		desc string
		t    *store.Token
		pass string
		want tokenRefusal
		name string // the password accepted
	}{
		{"password1", tok(true, p1, p2), "one", "", "password1"},
		{"password2", tok(true, p1, p2), "two", "", "password2"},
		{"wrong password", tok(true, p1, p2), "three", refusedPassword, ""},
		{"no passwords", tok(true), "", refusedPassword, ""},
		{"an empty password never matches", tok(true, store.TokenPassword{Name: "password1"}), "", refusedPassword, ""},
		{"disabled", tok(false, p1), "one", refusedDisabled, ""},
		{"expired at its expiry", tok(true, expired, p2), "one", refusedExpired, ""},
		{"the other one unexpired", tok(true, expired, p2), "two", "", "password2"},
		{"before its expiry", tok(true, later), "one", "", "password1"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			pw, why := checkTokenPassword(tc.t, tc.pass, now)
			if why != tc.want || (pw == nil) != (tc.name == "") || (pw != nil && pw.Name != tc.name) {
				t.Fatalf("checkTokenPassword = %v %q, want %q %q", pw, why, tc.name, tc.want)
			}
		})
	}
}

// granted lists the access claim of an access token: "repository:app:pull,push ...".
func granted(t *testing.T, tok string) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c claims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range c.Access {
		out = append(out, e.Type+":"+e.Name+":"+strings.Join(e.Actions, ","))
	}
	return strings.Join(out, " ")
}

func TestScopedTokens(t *testing.T) {
	f := newFixture(t, nil)
	must(t, f.st.PutScopeMap(&store.ScopeMap{Registry: "myregistry", Name: "app-read", Actions: []string{"repositories/app/content/read"}}))
	putToken := func(tok *store.Token) {
		t.Helper()
		tok.Registry = "myregistry"
		must(t, f.st.PutToken(tok))
	}
	putToken(&store.Token{Name: "ci-token", ScopeMap: "app-read", Enabled: true,
		Passwords: []store.TokenPassword{{Name: "password1", Value: "p-one"}, {Name: "password2", Value: "p-two"}}})
	putToken(&store.Token{Name: "admin-token", ScopeMap: "_repositories_admin", Enabled: true,
		Passwords: []store.TokenPassword{{Name: "password1", Value: "admin-pw"}}})

	want := "repository:app:pull,push,delete repository:other:pull registry:catalog:*"
	token := func(user, pass string) (int, string) {
		t.Helper()
		r := f.do(t, "GET", "/oauth2/token?service="+f.login+"&scope="+url.QueryEscape(want), basic(user, pass), nil)
		if r.status != 200 {
			return r.status, ""
		}
		return r.status, granted(t, field(t, r.body, "access_token"))
	}
	// Only what the scope map allows; the catalog never, even for _repositories_admin.
	if _, got := token("ci-token", "p-one"); got != "repository:app:pull" {
		t.Fatalf("ci-token granted %q", got)
	}
	if _, got := token("CI-Token", "p-two"); got != "repository:app:pull" {
		t.Fatalf("ci-token (password2, another case) granted %q", got)
	}
	if _, got := token("admin-token", "admin-pw"); got != "repository:app:pull,push,delete repository:other:pull" {
		t.Fatalf("admin-token granted %q", got)
	}
	if status, _ := token("ci-token", "wrong"); status != 401 {
		t.Fatalf("wrong token password: %d", status)
	}
	// Basic straight to the registry: pull allowed, push refused with insufficient_scope.
	if r := f.do(t, "GET", "/v2/app/manifests/v1", basic("ci-token", "p-one"), nil); r.status != 200 || r.body != "content:token ci-token" {
		t.Fatalf("pull with token Basic: %d %s", r.status, r.body)
	}
	if r := f.do(t, "PUT", "/v2/app/manifests/v1", basic("ci-token", "p-one"), nil); r.status != 401 ||
		!strings.HasSuffix(r.header.Get("Www-Authenticate"), `error="insufficient_scope"`) {
		t.Fatalf("push with token Basic: %d %q", r.status, r.header.Get("Www-Authenticate"))
	}

	// docker login hands out refresh tokens; each is bound to its password.
	offline := func(pass string) string {
		t.Helper()
		r := f.do(t, "GET", "/oauth2/token?offline_token=true&client_id=docker&service="+f.login, basic("ci-token", pass), nil)
		if r.status != 200 || field(t, r.body, "refresh_token") == "" {
			t.Fatalf("docker login with the token: %d %s", r.status, r.body)
		}
		return field(t, r.body, "refresh_token")
	}
	renew := func(rt string) (int, string) {
		r := f.do(t, "POST", "/oauth2/token", nil, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {want}, "service": {f.login}})
		if r.status != 200 {
			return r.status, ""
		}
		return r.status, granted(t, field(t, r.body, "access_token"))
	}
	rt1, rt2 := offline("p-one"), offline("p-two")
	if status, got := renew(rt1); status != 200 || got != "repository:app:pull" {
		t.Fatalf("refresh: %d %q", status, got)
	}
	// A changed scope map applies at the next token request.
	must(t, f.st.PutScopeMap(&store.ScopeMap{Registry: "myregistry", Name: "app-read", Actions: []string{"repositories/app/content/read", "repositories/app/content/write"}}))
	if _, got := renew(rt1); got != "repository:app:pull,push" {
		t.Fatalf("after adding content/write: %q", got)
	}

	update := func(change func(*store.Token)) {
		t.Helper()
		cur, err := f.st.GetToken("myregistry", "ci-token")
		must(t, err)
		next := cur.Copy()
		change(next)
		must(t, f.st.PutToken(next))
	}
	// Regenerating password1 refuses it and what came from it; password2 still works.
	update(func(tok *store.Token) { tok.Passwords[0].Value = "p-one-regenerated" })
	if status, _ := token("ci-token", "p-one"); status != 401 {
		t.Fatalf("the old password1: %d", status)
	}
	if status, _ := renew(rt1); status != 401 {
		t.Fatalf("refresh token of the old password1: %d", status)
	}
	if status, _ := renew(rt2); status != 200 {
		t.Fatalf("refresh token of password2: %d", status)
	}
	if status, _ := token("ci-token", "p-one-regenerated"); status != 200 {
		t.Fatalf("the new password1: %d", status)
	}
	// An expired password is refused, at login and at refresh.
	update(func(tok *store.Token) { tok.Passwords[1].Expiry = time.Now().Add(-time.Second) })
	if status, _ := token("ci-token", "p-two"); status != 401 {
		t.Fatalf("expired password2: %d", status)
	}
	if status, _ := renew(rt2); status != 401 {
		t.Fatalf("refresh token of an expired password: %d", status)
	}
	update(func(tok *store.Token) { tok.Passwords[1].Expiry = time.Now().Add(time.Hour) })
	if status, _ := renew(rt2); status != 200 {
		t.Fatalf("refresh token of a password expiring later: %d", status)
	}
	// Disabling the token refuses everything it holds.
	update(func(tok *store.Token) { tok.Enabled = false })
	if status, _ := token("ci-token", "p-two"); status != 401 {
		t.Fatalf("disabled token: %d", status)
	}
	if status, _ := renew(rt2); status != 401 {
		t.Fatalf("refresh token of a disabled token: %d", status)
	}
	if r := f.do(t, "GET", "/v2/app/manifests/v1", basic("ci-token", "p-two"), nil); r.status != 401 {
		t.Fatalf("disabled token Basic on /v2: %d", r.status)
	}
	update(func(tok *store.Token) { tok.Enabled = true })
	// A deleted scope map grants nothing.
	must(t, f.st.DeleteScopeMap("myregistry", "app-read"))
	if status, got := renew(rt2); status != 200 || got != "" {
		t.Fatalf("token of a deleted scope map: %d %q", status, got)
	}
	// A deleted token is gone, and a token of the same name made again does not inherit.
	must(t, f.st.DeleteToken("myregistry", "ci-token"))
	if status, _ := renew(rt2); status != 401 {
		t.Fatalf("refresh token of a deleted token: %d", status)
	}
	putToken(&store.Token{Name: "ci-token", ScopeMap: "_repositories_pull", Enabled: true, Passwords: []store.TokenPassword{{Name: "password2", Value: "fresh"}}})
	if status, _ := renew(rt2); status != 401 {
		t.Fatalf("refresh token of a recreated token: %d", status)
	}
}
