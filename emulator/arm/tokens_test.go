package arm

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"
)

const (
	scopeMaps = regs + "/myregistry/scopeMaps"
	tokens    = regs + "/myregistry/tokens"
	generate  = regs + "/myregistry/generateCredentials" + v
)

func names(r result) []string {
	var out []string
	for _, item := range r.body["value"].([]any) {
		out = append(out, item.(map[string]any)["name"].(string))
	}
	return out
}

func TestScopeMaps(t *testing.T) {
	srv := newAPI(t)
	// Every registry has the system-defined scope maps, listed with the user's, by name.
	list := call(t, srv, "GET", scopeMaps+v, "reader", "")
	if got := strings.Join(names(list), ","); got != "_repositories_admin,_repositories_pull,_repositories_pull_metadata_read,_repositories_push,_repositories_push_metadata_write" {
		t.Fatalf("initial scope maps: %s", got)
	}
	pull := call(t, srv, "GET", scopeMaps+"/_REPOSITORIES_PULL"+v, "reader", "")
	if pull.status != 200 || prop(pull, "properties", "type") != "SystemDefined" || prop(pull, "name") != "_repositories_pull" ||
		fmt.Sprint(prop(pull, "properties", "actions")) != "[repositories/*/content/read]" ||
		prop(pull, "properties", "description") != "Can pull any repository of the registry" {
		t.Fatalf("system-defined scope map: %d %v", pull.status, pull.body)
	}

	// Created as az creates one: 200 with the scope map, nothing to poll.
	req, _ := http.NewRequest("PUT", srv.URL+scopeMaps+"/acr-token-scope-map"+v, strings.NewReader(`{"properties":{"actions":["repositories/foo/content/read"]}}`))
	req.Header.Set("Authorization", "Bearer owner")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Azure-AsyncOperation") != "" || res.Header.Get("X-Go-Azure-Sdk-Skip-Polling-Delay") != "true" {
		t.Fatalf("scope map PUT: %d %v", res.StatusCode, res.Header)
	}
	sm := call(t, srv, "GET", scopeMaps+"/ACR-token-scope-map"+v, "reader", "")
	if sm.status != 200 || sm.body["id"] != scopeMaps+"/acr-token-scope-map" || prop(sm, "properties", "type") != "UserDefined" ||
		prop(sm, "properties", "provisioningState") != "Succeeded" || prop(sm, "properties", "description") != nil ||
		prop(sm, "systemData", "createdBy") != owner {
		t.Fatalf("scope map: %d %v", sm.status, sm.body)
	}
	// PATCH changes what it names; the actions keep their order (Terraform reads a list).
	up := call(t, srv, "PATCH", scopeMaps+"/acr-token-scope-map"+v, "owner", `{"properties":{"description":"Sample","actions":["repositories/foo/metadata/read","repositories/foo/content/read"]}}`)
	if up.status != 200 || prop(up, "properties", "description") != "Sample" ||
		fmt.Sprint(prop(up, "properties", "actions")) != "[repositories/foo/metadata/read repositories/foo/content/read]" {
		t.Fatalf("scope map PATCH: %d %v", up.status, up.body)
	}
	if d := call(t, srv, "PATCH", scopeMaps+"/acr-token-scope-map"+v, "owner", `{"properties":{}}`); prop(d, "properties", "description") != "Sample" {
		t.Fatalf("an empty PATCH changed the description: %v", d.body)
	}
	if d := call(t, srv, "PUT", scopeMaps+"/acr-token-scope-map"+v, "owner", `{"properties":{"actions":["repositories/foo/content/read"]}}`); d.status != 200 || prop(d, "properties", "description") != nil {
		t.Fatalf("a PUT keeps what it does not give: %v", d.body)
	}

	for _, c := range []struct {
		desc, method, path, body, token string
		status                          int
		code                            string
	}{
		{"change a system-defined one", "PUT", scopeMaps + "/_repositories_pull", `{"properties":{"actions":["repositories/*/content/write"]}}`, "owner", 400, "SystemDefinedScopeMapNotEditable"},
		{"patch a system-defined one", "PATCH", scopeMaps + "/_repositories_admin", `{"properties":{"description":"x"}}`, "owner", 400, "SystemDefinedScopeMapNotEditable"},
		{"delete a system-defined one", "DELETE", scopeMaps + "/_repositories_push", ``, "owner", 400, "SystemDefinedScopeMapNotEditable"},
		{"no actions", "PUT", scopeMaps + "/emptymap", `{"properties":{"actions":[]}}`, "owner", 400, "InvalidScopeMapActions"},
		{"no properties", "PUT", scopeMaps + "/emptymap", `{}`, "owner", 400, "InvalidRequestContent"},
		{"bad action", "PUT", scopeMaps + "/badmap", `{"properties":{"actions":["repositories/foo/content/execute"]}}`, "owner", 400, "InvalidScopeMapActions"},
		{"wildcard in the middle", "PUT", scopeMaps + "/badmap", `{"properties":{"actions":["repositories/a/*/b/content/read"]}}`, "owner", 400, "InvalidScopeMapActions"},
		{"short name", "PUT", scopeMaps + "/abc", `{"properties":{"actions":["repositories/a/content/read"]}}`, "owner", 400, "InvalidResourceName"},
		{"bad name", "PUT", scopeMaps + "/bad.name", `{"properties":{"actions":["repositories/a/content/read"]}}`, "owner", 400, "InvalidResourceName"},
		{"long description", "PUT", scopeMaps + "/descmap", `{"properties":{"description":"` + strings.Repeat("d", 257) + `","actions":["repositories/a/content/read"]}}`, "owner", 400, "InvalidRequestContent"},
		{"reader writes", "PUT", scopeMaps + "/readermap", `{"properties":{"actions":["repositories/a/content/read"]}}`, "reader", 403, "AuthorizationFailed"},
		{"missing one", "GET", scopeMaps + "/nosuchmap", ``, "reader", 404, "ResourceNotFound"},
		{"patch a missing one", "PATCH", scopeMaps + "/nosuchmap", `{}`, "owner", 404, "ResourceNotFound"},
		{"missing registry", "GET", regs + "/nosuchregistry/scopeMaps/somemap", ``, "reader", 404, "ResourceNotFound"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			r := call(t, srv, c.method, c.path+v, c.token, c.body)
			if r.status != c.status || errCode(r) != c.code {
				t.Fatalf("%s %s = %d %v, want %d %s", c.method, c.path, r.status, r.body, c.status, c.code)
			}
		})
	}
	if got := call(t, srv, "GET", scopeMaps+"/nosuchmap"+v, "reader", ""); prop(got, "error", "message") != "The resource nosuchmap could not be found." {
		t.Fatalf("404 text: %v", got.body)
	}
	if d := call(t, srv, "DELETE", scopeMaps+"/acr-token-scope-map"+v, "owner", ""); d.status != 200 {
		t.Fatalf("delete: %d %v", d.status, d.body)
	}
	if d := call(t, srv, "DELETE", scopeMaps+"/acr-token-scope-map"+v, "owner", ""); d.status != 204 {
		t.Fatalf("delete again: %d", d.status)
	}
	if got := len(names(call(t, srv, "GET", scopeMaps+v, "reader", ""))); got != 5 {
		t.Fatalf("after delete: %d scope maps", got)
	}
}

// A Basic registry holds 100 scope maps and 100 tokens.
func TestScopeMapAndTokenBounds(t *testing.T) {
	srv := newAPI(t)
	base := regs + "/basicregistry"
	for i := range 100 {
		if r := call(t, srv, "PUT", fmt.Sprintf("%s/scopeMaps/map%03d%s", base, i, v), "owner", `{"properties":{"actions":["repositories/a/content/read"]}}`); r.status != 200 {
			t.Fatalf("scope map %d: %d %v", i, r.status, r.body)
		}
	}
	if r := call(t, srv, "PUT", base+"/scopeMaps/onemore"+v, "owner", `{"properties":{"actions":["repositories/a/content/read"]}}`); r.status != 409 || errCode(r) != "QuotaExceeded" {
		t.Fatalf("the 101st scope map: %d %v", r.status, r.body)
	}
	// Changing an existing one is not a new one.
	if r := call(t, srv, "PUT", base+"/scopeMaps/map000"+v, "owner", `{"properties":{"actions":["repositories/b/content/read"]}}`); r.status != 200 {
		t.Fatalf("update at the bound: %d %v", r.status, r.body)
	}
	usages := call(t, srv, "GET", base+"/listUsages"+v, "reader", "")
	if !strings.Contains(fmt.Sprint(usages.body), "currentValue:100 limit:100 name:ScopeMaps") {
		t.Fatalf("listUsages: %v", usages.body)
	}
}

func TestTokens(t *testing.T) {
	srv := newAPI(t)
	smID := scopeMaps + "/_repositories_pull"
	req, _ := http.NewRequest("PUT", srv.URL+tokens+"/acr-token"+v, strings.NewReader(`{"properties":{"scopeMapId":"`+smID+`","status":"enabled"}}`))
	req.Header.Set("Authorization", "Bearer owner")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 || !strings.Contains(res.Header.Get("Azure-AsyncOperation"), "/tokens/acr-token/operationStatuses/") {
		t.Fatalf("token PUT: %d %v", res.StatusCode, res.Header)
	}
	tok := call(t, srv, "GET", tokens+"/ACR-TOKEN"+v, "reader", "")
	if tok.status != 200 || tok.body["id"] != tokens+"/acr-token" || prop(tok, "properties", "scopeMapId") != smID ||
		prop(tok, "properties", "status") != "enabled" || fmt.Sprint(prop(tok, "properties", "credentials")) != "map[passwords:[]]" {
		t.Fatalf("token: %d %v", tok.status, tok.body)
	}

	// Both passwords, no expiry: values in the answer, never in the token.
	gen := call(t, srv, "POST", generate, "owner", `{"tokenId":"`+tokens+`/acr-token"}`)
	pws, _ := gen.body["passwords"].([]any)
	if gen.status != 200 || gen.body["username"] != "acr-token" || len(pws) != 2 {
		t.Fatalf("generateCredentials: %d %v", gen.status, gen.body)
	}
	values := map[string]string{}
	for _, p := range pws {
		m := p.(map[string]any)
		if _, has := m["expiry"]; has || m["value"] == "" || m["creationTime"] == nil {
			t.Fatalf("password %v", m)
		}
		values[m["name"].(string)] = m["value"].(string)
	}
	if values["password1"] == "" || values["password1"] == values["password2"] {
		t.Fatalf("passwords: %v", values)
	}
	tok = call(t, srv, "GET", tokens+"/acr-token"+v, "reader", "")
	if s := fmt.Sprint(prop(tok, "properties", "credentials", "passwords")); !strings.Contains(s, "name:password1") || strings.Contains(s, "value") {
		t.Fatalf("token passwords: %s", s)
	}

	// password2 alone, with an expiry: the answer lists both, the value of password2 only.
	gen = call(t, srv, "POST", generate, "owner", `{"tokenId":"`+tokens+`/acr-token","name":"password2","expiry":"2100-12-31T12:59:59.000Z"}`)
	pws, _ = gen.body["passwords"].([]any)
	if gen.status != 200 || len(pws) != 2 {
		t.Fatalf("generate password2: %d %v", gen.status, gen.body)
	}
	p1, p2 := pws[0].(map[string]any), pws[1].(map[string]any)
	if p1["name"] != "password1" || p1["value"] != nil || p2["name"] != "password2" || p2["value"] == values["password2"] ||
		p2["expiry"] != "2100-12-31T12:59:59+00:00" {
		t.Fatalf("generate password2: %v", pws)
	}

	// A PATCH naming only password1 removes password2 (az acr token credential delete).
	up := call(t, srv, "PATCH", tokens+"/acr-token"+v, "owner", `{"properties":{"credentials":{"passwords":[{"name":"password1"}]},"status":"disabled"}}`)
	if up.status != 201 || prop(up, "properties", "status") != "disabled" || len(prop(up, "properties", "credentials", "passwords").([]any)) != 1 {
		t.Fatalf("token PATCH: %d %v", up.status, up.body)
	}

	cert := testCertificate(t)
	for _, c := range []struct {
		desc, method, path, body string
		status                   int
		code                     string
	}{
		{"no scope map", "PUT", tokens + "/token-none", `{"properties":{}}`, 400, "InvalidRequestContent"},
		{"missing scope map", "PUT", tokens + "/token-miss", `{"properties":{"scopeMapId":"` + scopeMaps + `/nosuchmap"}}`, 400, "ScopeMapNotFound"},
		{"another registry's scope map", "PUT", tokens + "/token-other", `{"properties":{"scopeMapId":"` + regs + `/basicregistry/scopeMaps/_repositories_pull"}}`, 400, "ScopeMapNotFound"},
		{"not a scope map", "PUT", tokens + "/token-other", `{"properties":{"scopeMapId":"` + regs + `/myregistry"}}`, 400, "ScopeMapNotFound"},
		{"bad status", "PUT", tokens + "/token-bad", `{"properties":{"scopeMapId":"` + smID + `","status":"paused"}}`, 400, "InvalidRequestContent"},
		{"bad name", "PUT", tokens + "/tok", `{"properties":{"scopeMapId":"` + smID + `"}}`, 400, "InvalidResourceName"},
		{"bad certificate", "PUT", tokens + "/token-cert", `{"properties":{"scopeMapId":"` + smID + `","credentials":{"certificates":[{"name":"certificate1","encodedPemCertificate":"bm90IGEgY2VydA=="}]}}}`, 400, "InvalidRequestContent"},
		{"bad password name", "PATCH", tokens + "/acr-token", `{"properties":{"credentials":{"passwords":[{"name":"password3"}]}}}`, 400, "InvalidRequestContent"},
		{"reader", "PUT", tokens + "/token-reader", `{"properties":{"scopeMapId":"` + smID + `"}}`, 403, "AuthorizationFailed"},
		{"generate: no token id", "POST", generate, `{}`, 400, "InvalidRequestContent"},
		{"generate: missing token", "POST", generate, `{"tokenId":"` + tokens + `/nosuchtoken"}`, 404, "ResourceNotFound"},
		{"generate: another registry's token", "POST", generate, `{"tokenId":"` + regs + `/basicregistry/tokens/acr-token"}`, 400, "InvalidRequestContent"},
		{"generate: bad name", "POST", generate, `{"tokenId":"` + tokens + `/acr-token","name":"password3"}`, 400, "InvalidRequestContent"},
		{"generate: past expiry", "POST", generate, `{"tokenId":"` + tokens + `/acr-token","expiry":"2001-01-01T00:00:00Z"}`, 400, "InvalidRequestContent"},
		{"generate: bad expiry", "POST", generate, `{"tokenId":"` + tokens + `/acr-token","expiry":"tomorrow"}`, 400, "InvalidRequestContent"},
		{"generate: reader", "POST", generate, `{"tokenId":"` + tokens + `/acr-token"}`, 403, "AuthorizationFailed"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			path := c.path
			if !strings.Contains(path, "?") {
				path += v
			}
			token := "owner"
			if strings.Contains(c.desc, "reader") {
				token = "reader"
			}
			r := call(t, srv, c.method, path, token, c.body)
			if r.status != c.status || errCode(r) != c.code {
				t.Fatalf("%s %s = %d %v, want %d %s", c.method, c.path, r.status, r.body, c.status, c.code)
			}
		})
	}

	// A certificate is shown by name, thumbprint and expiry.
	ct := call(t, srv, "PUT", tokens+"/token-cert"+v, "owner", `{"properties":{"scopeMapId":"`+smID+`","credentials":{"certificates":[{"name":"certificate1","encodedPemCertificate":"`+cert+`"}]}}}`)
	certs, _ := prop(ct, "properties", "credentials", "certificates").([]any)
	if ct.status != 201 || len(certs) != 1 || len(certs[0].(map[string]any)["thumbprint"].(string)) != 40 ||
		!strings.HasPrefix(certs[0].(map[string]any)["expiry"].(string), "2099-") {
		t.Fatalf("token with a certificate: %d %v", ct.status, ct.body)
	}
	if got := names(call(t, srv, "GET", tokens+v, "reader", "")); strings.Join(got, ",") != "acr-token,token-cert" {
		t.Fatalf("tokens: %v", got)
	}
	del := call(t, srv, "DELETE", tokens+"/token-cert"+v, "owner", "")
	if del.status != 202 {
		t.Fatalf("token delete: %d", del.status)
	}
	if got := call(t, srv, "GET", tokens+"/token-cert"+v, "reader", ""); got.status != 404 {
		t.Fatalf("deleted token: %d", got.status)
	}
}

// testCertificate is the base64 of a PEM certificate valid until 2099.
func testCertificate(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "token"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
