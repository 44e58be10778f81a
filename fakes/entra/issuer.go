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
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Issuer signs Entra access tokens and verifies them for the emulator's ACR token service.
// Its RSA key is fresh unless WithKey hands it one (the emulator keeps one in its data
// directory, so tokens survive a restart).
type Issuer struct {
	key      *rsa.PrivateKey
	cert     []byte // self-signed DER certificate: Entra publishes x5c and x5t
	kid      string // base64url SHA-1 of cert; Entra uses the thumbprint as kid and x5t
	lifetime time.Duration
	now      func() time.Time
}

// IssuerOption configures NewIssuer.
type IssuerOption func(*Issuer)

// WithLifetime sets the lifetime of minted tokens. Real Entra issues 60 to 90 minutes (24 hours
// for managed identities); the default is one hour, which clients see as expires_in 3599.
func WithLifetime(d time.Duration) IssuerOption { return func(i *Issuer) { i.lifetime = d } }

// WithKey signs with key instead of a fresh one.
func WithKey(key *rsa.PrivateKey) IssuerOption { return func(i *Issuer) { i.key = key } }

// WithClock replaces time.Now, for tests of expiry on either side.
func WithClock(now func() time.Time) IssuerOption { return func(i *Issuer) { i.now = now } }

// maxSkew is the clock skew Verify tolerates on exp and nbf, the usual Entra validator default.
const maxSkew = 5 * time.Minute

// NewIssuer makes an issuer with an RSA key (fresh, 2048 bits, unless WithKey) and a
// self-signed certificate for it.
func NewIssuer(opts ...IssuerOption) (*Issuer, error) {
	i := &Issuer{lifetime: time.Hour, now: time.Now}
	for _, o := range opts {
		o(i)
	}
	if i.lifetime <= 0 {
		return nil, errors.New("entra: token lifetime must be positive")
	}
	if i.key == nil {
		var err error
		if i.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, fmt.Errorf("entra: signing key: %w", err)
		}
	}
	key := i.key
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "acr-emulator Entra ID token signing"},
		NotBefore:    now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("entra: signing certificate: %w", err)
	}
	sum := sha1.Sum(der)
	i.cert, i.kid = der, base64.RawURLEncoding.EncodeToString(sum[:])
	return i, nil
}

// Lifetime of minted tokens.
func (i *Issuer) Lifetime() time.Duration { return i.lifetime }

// stsIssuer is the iss of v1.0 tokens. First-party resources such as ARM get v1.0 tokens even
// from the v2.0 endpoint, and managed-identity tokens are always v1.0 (spec 6.1).
func stsIssuer(tenantID string) string { return "https://sts.windows.net/" + tenantID + "/" }

// Mint issues a v1.0 access token for p with the given audience and appidacr (AuthSecret,
// AuthCertificate...). It returns the token and its expiry.
func (i *Issuer) Mint(p *Principal, audience, appidacr string) (string, time.Time, error) {
	tok, _, exp, err := i.mint(p, audience, appidacr)
	return tok, exp, err
}

// mint also returns nbf, which the v1 token endpoint reports as not_before.
func (i *Issuer) mint(p *Principal, audience, appidacr string) (tok string, nbf, exp time.Time, err error) {
	if p == nil || p.TenantID == "" || p.ObjectID == "" || audience == "" {
		return "", nbf, exp, errors.New("entra: mint needs a principal with tenant and object ids, and an audience")
	}
	now := i.now().UTC().Truncate(time.Second)
	// Entra backdates iat and nbf by five minutes to absorb clock skew at resource servers.
	nbf, exp = now.Add(-maxSkew), now.Add(i.lifetime)
	iss := stsIssuer(p.TenantID)
	b := jwt.NewBuilder().
		Audience([]string{audience}).Issuer(iss).
		IssuedAt(nbf).NotBefore(nbf).Expiration(exp).
		// App-only tokens carry the service principal's object id as sub.
		Subject(p.ObjectID).
		Claim("tid", p.TenantID).Claim("oid", p.ObjectID).
		Claim("appid", p.AppID).Claim("appidacr", appidacr).
		Claim("idp", iss).Claim("idtyp", "app").Claim("ver", "1.0").
		// Opaque to every consumer; present because validators may log them.
		Claim("aio", opaqueID()).Claim("rh", "0.emulated."+opaqueID()).Claim("uti", opaqueID())
	if p.Kind == KindManagedIdentity && p.ResourceID != "" {
		b = b.Claim("xms_mirid", p.ResourceID)
	}
	t, err := b.Build()
	if err != nil {
		return "", nbf, exp, err
	}
	// Entra writes aud as a string; tools that decode it as one (the azurerm provider) fail
	// on jwx's default array. Per token, not jwt.Settings: that is process-wide.
	t.Options().Enable(jwt.FlattenAudience)
	hdr := jws.NewHeaders()
	for k, v := range map[string]any{jws.TypeKey: "JWT", jws.KeyIDKey: i.kid, "x5t": i.kid} {
		if err := hdr.Set(k, v); err != nil {
			return "", nbf, exp, err
		}
	}
	signed, err := jwt.Sign(t, jwt.WithKey(jwa.RS256, i.key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", nbf, exp, err
	}
	return string(signed), nbf, exp, nil
}

// Claims are the parts of a verified token the emulator uses; Raw holds all of them.
type Claims struct {
	Audience, Issuer, TenantID, ObjectID, AppID, ResourceID string
	ExpiresAt                                               time.Time
	Raw                                                     map[string]any
}

// Verify checks a token minted by this issuer: compact JWS, alg RS256 in the header (so "none",
// HS256 keyed with the public key and other algorithms fail before any crypto), a signature by
// this issuer's key only, exp and nbf with at most five minutes of skew, and an iss of the form
// https://sts.windows.net/<tid>/ naming the token's own tid. The audience is returned, not
// checked: which audiences count is the caller's policy (ACR vs ARM audiences).
func (i *Issuer) Verify(raw string) (*Claims, error) {
	if strings.Count(raw, ".") != 2 {
		return nil, errors.New("entra: token is not a compact JWS")
	}
	msg, err := jws.Parse([]byte(raw))
	if err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	if sigs := msg.Signatures(); len(sigs) != 1 || sigs[0].ProtectedHeaders().Algorithm() != jwa.RS256 {
		return nil, errors.New("entra: token is not signed with RS256")
	}
	tok, err := jwt.Parse([]byte(raw),
		jwt.WithKey(jwa.RS256, &i.key.PublicKey),
		jwt.WithValidate(true), jwt.WithRequiredClaim(jwt.ExpirationKey),
		jwt.WithAcceptableSkew(maxSkew), jwt.WithClock(jwt.ClockFunc(i.now)))
	if err != nil {
		return nil, fmt.Errorf("entra: %w", err)
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
	if c.TenantID == "" || strings.Contains(c.TenantID, "/") || c.Issuer != stsIssuer(c.TenantID) {
		return nil, fmt.Errorf("entra: issuer %q is not https://sts.windows.net/<tid>/ for the token's tenant", c.Issuer)
	}
	if c.ObjectID == "" || c.Audience == "" {
		return nil, errors.New("entra: token has no oid or no single aud")
	}
	if c.Raw, err = tok.AsMap(context.Background()); err != nil {
		return nil, fmt.Errorf("entra: %w", err)
	}
	return c, nil
}

// jsonWebKey is one RFC 7517 key as Entra publishes it (x5c is optional in the RFC; Entra
// includes the certificate and uses its thumbprint as both kid and x5t).
type jsonWebKey struct {
	Kty string   `json:"kty"`
	Use string   `json:"use"`
	Kid string   `json:"kid"`
	X5t string   `json:"x5t"`
	N   string   `json:"n"`
	E   string   `json:"e"`
	X5c []string `json:"x5c"`
}

// JWKS is the RFC 7517 key set that verifies this issuer's tokens.
func (i *Issuer) JWKS() []byte {
	pub := i.key.PublicKey
	k := jsonWebKey{
		Kty: "RSA", Use: "sig", Kid: i.kid, X5t: i.kid,
		N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		X5c: []string{base64.StdEncoding.EncodeToString(i.cert)},
	}
	// Marshalling strings cannot fail.
	b, _ := json.Marshal(map[string][]jsonWebKey{"keys": {k}})
	return b
}

// opaqueID is 16 random bytes in base64url, the shape of Entra's uti and aio.
func opaqueID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
