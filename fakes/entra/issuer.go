// Package entra is a fake Microsoft Entra ID that MSAL and azidentity accept: OIDC discovery,
// JWKS, the v2.0 and v1 token endpoints (client secret, client_secret_basic, workload-identity
// client assertions) and instance discovery, issuing RS256 JWTs with the v1.0 claims Azure
// resources see (spec acr-dataplane-auth.md sections 5.5, 6).
//
// It knows principals only through the Directory interface, so the emulator decides who exists.
// Limits: app-only flows (no users, no interactive or device-code login); the signature of an
// external workload-identity assertion cannot be checked offline and is not.
package entra

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Kind of principal, as Entra tells them apart in tokens.
type Kind string

// Principal kinds.
const (
	KindServicePrincipal Kind = "ServicePrincipal"
	KindManagedIdentity  Kind = "ManagedIdentity"
	KindUser             Kind = "User"
)

// Principal is an identity of the tenant.
type Principal struct {
	ObjectID, AppID, TenantID, DisplayName string
	Kind                                   Kind
	Secrets                                []string
	ResourceID                             string // xms_mirid of a managed identity
	Federated                              []FederatedCredential
}

// FederatedCredential accepts client assertions from an external issuer for one subject.
type FederatedCredential struct {
	Issuer, Subject string
	Audiences       []string // default ["api://AzureADTokenExchange"]
}

// Directory is what Entra knows; the emulator implements it over its store.
type Directory interface {
	HasTenant(tenantID string) bool
	ClientByAppID(tenantID, appID string) (*Principal, error) // nil, nil when unknown
}

// Issuer signs and verifies Entra access tokens.
type Issuer struct {
	key      *rsa.PrivateKey
	kid      string
	x5c      []byte
	lifetime time.Duration
	now      func() time.Time
}

// NewIssuer makes an issuer with a fresh RSA 2048 key and a self-signed certificate for x5t.
func NewIssuer() (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "acr-emulator Entra signing key"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(5, 0, 0)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(der)
	kid := base64.RawURLEncoding.EncodeToString(sum[:])
	return &Issuer{key: key, kid: kid, x5c: der, lifetime: time.Hour, now: time.Now}, nil
}

// Lifetime of minted tokens.
func (i *Issuer) Lifetime() time.Duration { return i.lifetime }

// appidacr values: how the client authenticated.
const (
	AuthPublic      = "0"
	AuthSecret      = "1"
	AuthCertificate = "2" // also managed identities and federated assertions
)

// Mint issues a v1.0 access token for p with the given audience.
func (i *Issuer) Mint(p *Principal, audience, appidacr string) (string, time.Time, error) {
	now := i.now().UTC()
	exp := now.Add(i.lifetime)
	tid := p.TenantID
	b := jwt.NewBuilder().
		Audience([]string{audience}).
		Issuer("https://sts.windows.net/"+tid+"/").
		IssuedAt(now).NotBefore(now.Add(-5*time.Minute)).Expiration(exp).
		Subject(p.ObjectID).
		Claim("tid", tid).Claim("oid", p.ObjectID).Claim("appid", p.AppID).Claim("appidacr", appidacr).
		Claim("idtyp", "app").Claim("ver", "1.0").Claim("idp", "https://sts.windows.net/"+tid+"/").
		Claim("uti", randomID()).Claim("rh", "0.emulated."+randomID()).Claim("aio", randomID())
	if p.Kind == KindManagedIdentity && p.ResourceID != "" {
		b = b.Claim("xms_mirid", p.ResourceID)
	}
	tok, err := b.Build()
	if err != nil {
		return "", time.Time{}, err
	}
	hdr := jws.NewHeaders()
	_ = hdr.Set(jws.KeyIDKey, i.kid)
	_ = hdr.Set("x5t", i.kid)
	_ = hdr.Set(jws.TypeKey, "JWT")
	signed, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, i.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", time.Time{}, err
	}
	return string(signed), exp, nil
}

// Claims are the parts of a verified token the emulator uses.
type Claims struct {
	Audience, Issuer, TenantID, ObjectID, AppID, ResourceID string
	ExpiresAt                                               time.Time
	Raw                                                     map[string]any
}

// Verify checks an access token minted by this issuer: RS256 with this key only (alg none and
// other keys fail), lifetime with 5 minutes of skew, and an sts.windows.net issuer.
func (i *Issuer) Verify(raw string) (*Claims, error) {
	tok, err := jwt.Parse([]byte(raw), jwt.WithKey(jwa.RS256, &i.key.PublicKey), jwt.WithValidate(true),
		jwt.WithAcceptableSkew(5*time.Minute), jwt.WithClock(jwt.ClockFunc(i.now)))
	if err != nil {
		return nil, err
	}
	str := func(name string) string {
		v, _ := tok.Get(name)
		s, _ := v.(string)
		return s
	}
	c := &Claims{Issuer: tok.Issuer(), TenantID: str("tid"), ObjectID: str("oid"), AppID: str("appid"),
		ResourceID: str("xms_mirid"), ExpiresAt: tok.Expiration()}
	if aud := tok.Audience(); len(aud) == 1 {
		c.Audience = aud[0]
	}
	if c.Issuer != "https://sts.windows.net/"+c.TenantID+"/" || c.TenantID == "" || c.ObjectID == "" {
		return nil, errors.New("entra: token issuer or tenant is not valid")
	}
	c.Raw, _ = tok.AsMap(context.Background())
	return c, nil
}

// JWKS is the RFC 7517 key set clients could verify tokens with.
func (i *Issuer) JWKS() []byte {
	k, err := jwk.FromRaw(&i.key.PublicKey)
	if err != nil {
		return []byte(`{"keys":[]}`)
	}
	_ = k.Set(jwk.KeyIDKey, i.kid)
	_ = k.Set(jwk.KeyUsageKey, "sig")
	_ = k.Set(jwk.X509CertThumbprintKey, i.kid)
	_ = k.Set("issuer", "https://login.microsoftonline.com/{tenantid}/v2.0")
	b, err := json.Marshal(k)
	if err != nil {
		return []byte(`{"keys":[]}`)
	}
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	m["x5c"] = []string{base64.StdEncoding.EncodeToString(i.x5c)}
	out, _ := json.Marshal(map[string]any{"keys": []any{m}})
	return out
}

// Known resources: ACR, ARM (both names) and the two Graphs.
var resources = []string{
	"https://containerregistry.azure.net",
	"https://management.azure.com",
	"https://management.core.windows.net",
	"https://graph.microsoft.com",
	"https://graph.windows.net",
}

// Audience maps a v2 scope ("<resource>/.default") or a v1 resource to the token audience,
// keeping the form the client asked for (the az CLI asks for
// "https://management.core.windows.net//.default" and gets aud "https://management.core.windows.net/").
func Audience(scopeOrResource string) (string, bool) {
	r := strings.TrimSuffix(scopeOrResource, "/.default")
	base := strings.TrimSuffix(strings.ToLower(r), "/")
	for _, known := range resources {
		if base == known {
			return r, true
		}
	}
	return "", false
}

func randomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// errorf formats AADSTS descriptions.
func errorf(format string, a ...any) string { return fmt.Sprintf(format, a...) }
