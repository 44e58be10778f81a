package entra

import (
	"crypto"
	"crypto/hmac"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

const (
	tenant   = "11111111-1111-1111-1111-111111111111"
	clientID = "33333333-3333-3333-3333-333333333333"
	objectID = "44444444-4444-4444-4444-444444444444"
	acrAud   = "https://containerregistry.azure.net"
	uamiID   = "/subscriptions/s/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
)

func newIssuer(t *testing.T, opts ...IssuerOption) *Issuer {
	t.Helper()
	iss, err := NewIssuer(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func b64(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// signRS256 builds a token by hand, so tests control every header and claim.
func signRS256(t *testing.T, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	input := b64(header) + "." + b64(claims)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func decodeSegment(t *testing.T, seg string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMintVerify(t *testing.T) {
	iss := newIssuer(t)
	for _, tc := range []struct {
		desc     string
		p        *Principal
		acr      string
		wantMIRI string
	}{
		{"service principal", &Principal{ObjectID: objectID, AppID: clientID, TenantID: tenant, Kind: KindServicePrincipal}, AuthSecret, ""},
		{"managed identity", &Principal{ObjectID: objectID, AppID: clientID, TenantID: tenant, Kind: KindManagedIdentity, ResourceID: uamiID}, AuthCertificate, uamiID},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			tok, exp, err := iss.Mint(tc.p, acrAud, tc.acr)
			if err != nil {
				t.Fatal(err)
			}
			if d := time.Until(exp); d < 59*time.Minute || d > time.Hour {
				t.Errorf("expires in %v, want about an hour", d)
			}
			c, err := iss.Verify(tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.Audience != acrAud || c.ObjectID != objectID || c.AppID != clientID || c.TenantID != tenant ||
				c.ResourceID != tc.wantMIRI || c.Issuer != "https://sts.windows.net/"+tenant+"/" || !c.ExpiresAt.Equal(exp) {
				t.Fatalf("claims = %+v", c)
			}
			for k, want := range map[string]any{"idtyp": "app", "ver": "1.0", "appidacr": tc.acr, "sub": objectID, "tid": tenant, "oid": objectID} {
				if c.Raw[k] != want {
					t.Errorf("claim %s = %v, want %v", k, c.Raw[k], want)
				}
			}
			for _, k := range []string{"uti", "rh", "iat", "nbf", "exp"} {
				if c.Raw[k] == nil {
					t.Errorf("claim %s missing", k)
				}
			}
			if _, has := c.Raw["xms_mirid"]; has != (tc.wantMIRI != "") {
				t.Errorf("xms_mirid present = %v", has)
			}
			// Claim types as Entra writes them: tools decode aud as a string (the azurerm
			// provider fails on an array) and the times as numbers.
			payload := decodeSegment(t, strings.Split(tok, ".")[1])
			if _, ok := payload["aud"].(string); !ok {
				t.Errorf("aud = %#v on the wire, want a JSON string", payload["aud"])
			}
			for _, k := range []string{"iat", "nbf", "exp"} {
				if _, ok := payload[k].(float64); !ok {
					t.Errorf("%s = %#v on the wire, want a number", k, payload[k])
				}
			}
			for _, k := range []string{"appidacr", "ver", "tid", "oid", "appid", "idtyp", "iss", "sub"} {
				if _, ok := payload[k].(string); !ok {
					t.Errorf("%s = %#v on the wire, want a string", k, payload[k])
				}
			}
			hdr := decodeSegment(t, strings.Split(tok, ".")[0])
			if hdr["alg"] != "RS256" || hdr["typ"] != "JWT" || hdr["kid"] != iss.kid || hdr["x5t"] != iss.kid {
				t.Errorf("header = %v", hdr)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	now := time.Now()
	iss := newIssuer(t, WithClock(func() time.Time { return now }))
	p := &Principal{ObjectID: objectID, AppID: clientID, TenantID: tenant, Kind: KindServicePrincipal}
	mintAt := func(at time.Time, lifetime time.Duration) string {
		other := *iss
		other.now, other.lifetime = func() time.Time { return at }, lifetime
		tok, _, err := other.Mint(p, acrAud, AuthSecret)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := mintAt(now, time.Hour)
	parts := strings.Split(good, ".")
	claims := decodeSegment(t, parts[1])
	header := map[string]any{"alg": "RS256", "typ": "JWT", "kid": iss.kid}
	with := func(k string, v any) map[string]any {
		c := map[string]any{}
		for kk, vv := range claims {
			c[kk] = vv
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	tampered := parts[0] + "." + b64(with("oid", "99999999-9999-9999-9999-999999999999")) + "." + parts[2]
	pubDER, _ := x509.MarshalPKIXPublicKey(&iss.key.PublicKey)
	hsInput := b64(map[string]any{"alg": "HS256", "typ": "JWT"}) + "." + parts[1]
	mac := hmac.New(sha256.New, pubDER)
	mac.Write([]byte(hsInput))
	other := newIssuer(t)
	otherTok, _, _ := other.Mint(p, acrAud, AuthSecret)

	tests := []struct {
		desc string
		raw  string
		ok   bool
	}{
		{"fresh", good, true},
		{"expired within the skew", mintAt(now.Add(-time.Hour-2*time.Minute), time.Hour), true},
		{"expired beyond the skew", mintAt(now.Add(-time.Hour-6*time.Minute), time.Hour), false},
		{"expired long ago", mintAt(now.Add(-3*time.Hour), time.Hour), false},
		{"not yet valid", mintAt(now.Add(11*time.Minute), time.Hour), false},
		{"tampered payload", tampered, false},
		{"alg none", b64(map[string]any{"alg": "none", "typ": "JWT"}) + "." + parts[1] + ".", false},
		{"HS256 keyed with the public key", hsInput + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), false},
		{"header alg RS512 over an RS256 signature", signRS256(t, iss.key, map[string]any{"alg": "RS512", "kid": iss.kid}, claims), false},
		{"another issuer's key", otherTok, false},
		{"another key, our kid", signRS256(t, other.key, header, claims), false},
		{"iss not sts.windows.net", signRS256(t, iss.key, header, with("iss", "https://login.microsoftonline.com/"+tenant+"/v2.0")), false},
		{"iss of another tenant", signRS256(t, iss.key, header, with("iss", "https://sts.windows.net/22222222-2222-2222-2222-222222222222/")), false},
		{"iss without trailing slash", signRS256(t, iss.key, header, with("iss", "https://sts.windows.net/"+tenant)), false},
		{"no exp", signRS256(t, iss.key, header, with("exp", nil)), false},
		{"no oid", signRS256(t, iss.key, header, with("oid", nil)), false},
		{"hand-signed with our key", signRS256(t, iss.key, header, claims), true},
		{"JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] + `","signature":"` + parts[2] + `"}`, false},
		{"garbage", "not.a.token", false},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := iss.Verify(tc.raw)
			if (err == nil) != tc.ok {
				t.Fatalf("Verify err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestWithLifetime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	iss := newIssuer(t, WithLifetime(10*time.Minute), WithClock(func() time.Time { return now }))
	_, exp, err := iss.Mint(&Principal{ObjectID: objectID, AppID: clientID, TenantID: tenant}, acrAud, AuthSecret)
	if err != nil || !exp.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("exp = %v, %v; want %v", exp, err, now.Add(10*time.Minute))
	}
	if _, err := NewIssuer(WithLifetime(0)); err == nil {
		t.Fatal("a zero lifetime was accepted")
	}
	if _, _, err := iss.Mint(&Principal{ObjectID: objectID}, acrAud, AuthSecret); err == nil {
		t.Fatal("minted a token without a tenant")
	}
}

func TestJWKS(t *testing.T) {
	iss := newIssuer(t)
	var doc struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(iss.JWKS(), &doc); err != nil || len(doc.Keys) != 1 {
		t.Fatalf("JWKS = %s, %v", iss.JWKS(), err)
	}
	k := doc.Keys[0]
	for _, f := range []string{"kty", "use", "kid", "x5t", "n", "e"} {
		if s, _ := k[f].(string); s == "" {
			t.Errorf("key field %s missing: %v", f, k)
		}
	}
	if k["kty"] != "RSA" || k["use"] != "sig" || k["e"] != "AQAB" || k["kid"] != k["x5t"] {
		t.Errorf("key = %v", k)
	}
	// x5t is the SHA-1 thumbprint of the x5c certificate, whose key is the signing key.
	der, _ := base64.StdEncoding.DecodeString(k["x5c"].([]any)[0].(string))
	sum := sha1.Sum(der)
	if k["x5t"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Errorf("x5t does not match x5c")
	}
	if cert, err := x509.ParseCertificate(der); err != nil || !cert.PublicKey.(*rsa.PublicKey).Equal(&iss.key.PublicKey) {
		t.Errorf("x5c: %v", err)
	}
	set, err := jwk.Parse(iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ := iss.Mint(&Principal{ObjectID: objectID, AppID: clientID, TenantID: tenant}, acrAud, AuthSecret)
	if _, err := jws.Verify([]byte(tok), jws.WithKeySet(set, jws.WithInferAlgorithmFromKey(true), jws.WithRequireKid(true))); err != nil {
		t.Fatalf("a minted token does not verify with the JWKS: %v", err)
	}
	otherTok, _, _ := newIssuer(t).Mint(&Principal{ObjectID: objectID, AppID: clientID, TenantID: tenant}, acrAud, AuthSecret)
	if _, err := jws.Verify([]byte(otherTok), jws.WithKeySet(set, jws.WithInferAlgorithmFromKey(true), jws.WithRequireKid(false))); err == nil {
		t.Fatal("another issuer's token verifies with this JWKS")
	}
}

func TestAudience(t *testing.T) {
	tests := []struct{ in, want string }{
		{"https://containerregistry.azure.net/.default", "https://containerregistry.azure.net"},
		{"https://containerregistry.azure.net", "https://containerregistry.azure.net"},
		{"https://containerregistry.azure.net/", "https://containerregistry.azure.net/"},
		{"https://ContainerRegistry.azure.net/.default", "https://containerregistry.azure.net"},
		{"https://management.core.windows.net//.default", "https://management.core.windows.net/"},
		{"https://management.core.windows.net/.default", "https://management.core.windows.net"},
		{"https://management.azure.com/", "https://management.azure.com/"},
		{"https://management.azure.com/.default", "https://management.azure.com"},
		{"https://graph.microsoft.com/.default", "https://graph.microsoft.com"},
		{"https://graph.windows.net/", "https://graph.windows.net/"},
		{"https://vault.azure.net/.default", ""},
		{"https://myregistry.azurecr.io/.default", ""},
		{"https://containerregistry.azure.net//", ""},
		{"containerregistry", ""},
		{"", ""},
	}
	for _, tc := range tests {
		got, ok := Audience(tc.in)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Audience(%q) = %q, %v; want %q", tc.in, got, ok, tc.want)
		}
	}
}

func TestIsEntraPath(t *testing.T) {
	tests := map[string]bool{
		"/" + tenant + "/oauth2/v2.0/token":                     true,
		"//" + tenant + "/oauth2/v2.0/token":                    true,
		"//v2/":                                                 false,
		"/" + strings.ToUpper(tenant) + "/oauth2/token":         true,
		"/" + tenant + "/v2.0/.well-known/openid-configuration": true,
		"/common/discovery/instance":                            true,
		"/organizations/v2.0/.well-known/openid-configuration":  true,
		"/consumers":                          true,
		"/Common/discovery/keys":              true,
		"/v2/":                                false,
		"/v2/" + tenant + "/manifests/latest": false,
		"/oauth2/token":                       false,
		"/oauth2/exchange":                    false,
		"/acr/v1/_catalog":                    false,
		"/subscriptions/" + tenant:            false,
		"/_emulator/state":                    false,
		"/metadata/identity/oauth2/token":     false,
		"/":                                   false,
		"/commons/x":                          false,
		"/1111-1111/oauth2/token":             false,
	}
	for p, want := range tests {
		if got := IsEntraPath(p); got != want {
			t.Errorf("IsEntraPath(%q) = %v, want %v", p, got, want)
		}
	}
}

// FuzzVerify: no string is taken for a token this issuer did not sign.
func FuzzVerify(f *testing.F) {
	iss, err := NewIssuer()
	if err != nil {
		f.Fatal(err)
	}
	good, _, err := iss.Mint(&Principal{ObjectID: objectID, AppID: clientID, TenantID: tenant, Kind: KindServicePrincipal}, acrAud, AuthSecret)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, good[:len(good)-3], "a.b.c", "eyJhbGciOiJub25lIn0.e30.", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if c, err := iss.Verify(raw); err == nil && raw != good {
			t.Fatalf("Verify accepted %q as %+v", raw, c)
		}
	})
}
