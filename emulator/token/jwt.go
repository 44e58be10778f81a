package token

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// ACR's own JWTs: refresh tokens (from /oauth2/exchange, or offline logins) and access tokens
// (from /oauth2/token). Clients never verify them, but the Azure SDK decodes the refresh token's
// payload with standard (not URL-safe) base64 to read exp (spec rule 6), so the payload must
// never base64url-encode to '-' or '_'. For ASCII JSON that happens only for '>', '?', '~' and
// DEL in certain positions: json.Marshal escapes '>', and marshal below escapes the others.

const issuer = "Azure Container Registry"

// Token grant types, the claim that tells refresh from access tokens.
const (
	grantRefresh = "refresh_token"
	grantAccess  = "access_token"
)

// Caller kinds recorded in refresh tokens, so a refresh grant knows whom to re-evaluate.
const (
	callerPrincipal = "principal"
	callerAdmin     = "admin"
	callerToken     = "token" // a repository-scoped token (registries/tokens)
)

type permissions struct {
	Actions    []string `json:"Actions"`
	NotActions []string `json:"NotActions"`
}

// claims is the union of refresh and access token claims. Field order is the JSON order.
type claims struct {
	JTI         string        `json:"jti"`
	Sub         string        `json:"sub"`
	NBF         int64         `json:"nbf"`
	EXP         int64         `json:"exp"`
	IAT         int64         `json:"iat"`
	ISS         string        `json:"iss"`
	AUD         string        `json:"aud"`
	Version     string        `json:"version"`
	RID         string        `json:"rid,omitempty"`
	GrantType   string        `json:"grant_type"`
	AppID       string        `json:"appid,omitempty"`
	Tenant      string        `json:"tenant,omitempty"`
	Permissions *permissions  `json:"permissions,omitempty"`
	Access      []AccessEntry `json:"access,omitempty"`
	Roles       []string      `json:"roles"`
	// Emulator claims: which caller a refresh token stands for, and for the admin user and
	// repository-scoped tokens a mark of the password it came from.
	OID        string `json:"oid,omitempty"`
	Caller     string `json:"caller,omitempty"`
	Credential string `json:"credential,omitempty"`
}

// signer mints and verifies ACR tokens with one RSA key per emulator.
type signer struct {
	key *rsa.PrivateKey
	now func() time.Time
}

func newSigner(now func() time.Time, key *rsa.PrivateKey) (*signer, error) {
	if key == nil {
		var err error
		if key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
	}
	return &signer{key: key, now: now}, nil
}

// credentialMark names the password a refresh token came from (an admin password, a token's
// password) without revealing it: an HMAC keyed by a secret only this signer holds, over the
// credential's owner (the registry's id, a token's id) and the password, so the readable token
// gives nothing to guess against and a regenerated password no longer matches.
func (s *signer) credentialMark(kind, owner, password string) string {
	key := sha256.Sum256(s.key.D.Bytes())
	m := hmac.New(sha256.New, key[:])
	m.Write([]byte(strings.ToLower(owner)))
	m.Write([]byte{0})
	m.Write([]byte(password))
	return kind + ":" + base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

func marshal(c *claims) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	b = bytes.ReplaceAll(b, []byte("?"), []byte(`\u003f`))
	b = bytes.ReplaceAll(b, []byte("~"), []byte(`\u007e`))
	return bytes.ReplaceAll(b, []byte("\x7f"), []byte(`\u007f`)), nil
}

// mint fills the standard claims and signs.
func (s *signer) mint(c claims, ttl time.Duration) (string, time.Time, error) {
	now := s.now()
	exp := now.Add(ttl)
	c.JTI = ids.NewGUID()
	c.NBF, c.IAT, c.EXP = now.Unix(), now.Unix(), exp.Unix()
	c.ISS, c.Version = issuer, "1.0"
	if c.Roles == nil {
		c.Roles = []string{}
	}
	payload, err := marshal(&c)
	if err != nil {
		return "", time.Time{}, err
	}
	tok, err := jws.Sign(payload, jws.WithKey(jwa.RS256, s.key))
	if err != nil {
		return "", time.Time{}, err
	}
	return string(tok), exp, nil
}

var (
	errTokenInvalid = errors.New("token is not valid")
	errTokenExpired = errors.New("token has expired")
)

// verify checks the signature (RS256 with this signer's key only: alg none or another key
// fail), lifetime, audience and grant type, and returns the claims.
func (s *signer) verify(raw, audience, grantType string) (*claims, error) {
	payload, err := jws.Verify([]byte(raw), jws.WithKey(jwa.RS256, &s.key.PublicKey))
	if err != nil {
		return nil, errTokenInvalid
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return nil, errTokenInvalid
	}
	now := s.now().Unix()
	switch {
	case c.ISS != issuer:
		return nil, fmt.Errorf("%w: issuer", errTokenInvalid)
	case c.EXP <= now:
		return nil, errTokenExpired
	case c.NBF > now+60:
		return nil, fmt.Errorf("%w: not yet valid", errTokenInvalid)
	case !equalFold(c.AUD, audience):
		return nil, fmt.Errorf("%w: issued for another registry", errTokenInvalid)
	case c.GrantType != grantType:
		return nil, fmt.Errorf("%w: a %s token was presented as an %s token", errTokenInvalid, c.GrantType, grantType)
	}
	return &c, nil
}
