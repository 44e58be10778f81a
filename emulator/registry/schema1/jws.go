package schema1

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
	"unicode"

	"github.com/opencontainers/go-digest"
)

// The signature format is libtrust's "pretty" JWS (JSON serialization, RFC 7515): the payload
// stays readable in the body and a "signatures" member is spliced in before its closing brace.
// Each protected header records where the payload ends (formatLength) and what followed
// (formatTail), so a reader can cut the signatures out again and recover the exact bytes that
// were signed: protected + "." + base64url(payload). [src: docker/libtrust jsonsign.go]

// Key is a signing key for schema 1 manifests: an ECDSA P-256 key with its libtrust key id.
// distribution signs converted manifests with an ephemeral key made at start-up, as Key is.
type Key struct {
	priv *ecdsa.PrivateKey
	jwk  jwk
}

// GenerateKey makes a new ephemeral P-256 signing key.
func GenerateKey() (*Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	point, err := priv.PublicKey.Bytes()
	if err != nil {
		return nil, err
	}
	kid, err := KeyID(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	half := (len(point) - 1) / 2
	return &Key{priv: priv, jwk: jwk{Crv: "P-256", Kid: kid, Kty: "EC",
		X: b64(point[1 : 1+half]), Y: b64(point[1+half:])}}, nil
}

// KeyID is libtrust's fingerprint of a public key: SHA-256 of its DER (PKIX) form, truncated to
// 240 bits, base32, in twelve groups of four separated by ':'.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	s := base32.StdEncoding.EncodeToString(sum[:30])
	groups := make([]string, 0, len(s)/4)
	for i := 0; i < len(s); i += 4 {
		groups = append(groups, s[i:i+4])
	}
	return strings.Join(groups, ":"), nil
}

// jwk is a public key in the order libtrust writes its members (sorted: it marshals a map).
type jwk struct {
	Crv string `json:"crv,omitempty"`
	E   string `json:"e,omitempty"`
	Kid string `json:"kid,omitempty"`
	Kty string `json:"kty"`
	N   string `json:"n,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

type header struct {
	JWK   *jwk     `json:"jwk,omitempty"`
	Alg   string   `json:"alg"`
	Chain []string `json:"x5c,omitempty"`
}

type signature struct {
	Header    header `json:"header"`
	Signature string `json:"signature"`
	Protected string `json:"protected,omitempty"`
}

type protectedHeader struct {
	FormatLength int    `json:"formatLength"`
	FormatTail   string `json:"formatTail"`
	Time         string `json:"time"`
}

// Sign returns payload, a JSON object such as Convert builds, as a signed schema 1 body. now is
// the signing time written to the protected header.
func (k *Key) Sign(payload []byte, now time.Time) ([]byte, error) {
	isSpace := func(r rune) bool { return unicode.IsSpace(r) }
	closing := bytes.LastIndexFunc(payload, func(r rune) bool { return !isSpace(r) })
	if closing < 0 || payload[closing] != '}' {
		return nil, errors.New("schema1: the payload is not a JSON object")
	}
	end := bytes.LastIndexFunc(payload[:closing], func(r rune) bool { return !isSpace(r) })
	if end < 0 || payload[end] == ',' {
		return nil, errors.New("schema1: the payload is not a JSON object")
	}
	formatLength := end + 1
	prot, err := json.Marshal(protectedHeader{FormatLength: formatLength, FormatTail: b64(payload[formatLength:]),
		Time: now.UTC().Format(time.RFC3339)})
	if err != nil {
		return nil, err
	}
	protected := b64(prot)
	hash := sha256.Sum256([]byte(protected + "." + b64(payload)))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, hash[:])
	if err != nil {
		return nil, err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	jwk := k.jwk
	sigs := []signature{{Header: header{JWK: &jwk, Alg: "ES256"}, Signature: b64(sig), Protected: protected}}

	indent := detectIndent(payload)
	var out bytes.Buffer
	out.Write(payload[:formatLength])
	if indent == "" {
		list, err := json.Marshal(sigs)
		if err != nil {
			return nil, err
		}
		out.WriteString(`,"signatures":`)
		out.Write(list)
	} else {
		list, err := json.MarshalIndent(sigs, indent, indent)
		if err != nil {
			return nil, err
		}
		out.WriteString(",\n" + indent + `"signatures": `)
		out.Write(list)
		out.WriteByte('\n')
	}
	out.WriteByte('}')
	return out.Bytes(), nil
}

// detectIndent is the indentation of the first member of a pretty-printed object ("" if compact).
func detectIndent(b []byte) string {
	if len(b) > 2 && b[0] == '{' && b[1] == '\n' {
		if q := bytes.IndexByte(b[1:], '"'); q > 0 {
			return string(b[2 : q+1])
		}
	}
	return ""
}

// Signed is a verified schema 1 manifest.
type Signed struct {
	Canonical []byte // the signed payload: what the manifest's digest is computed over
	Manifest  Manifest
}

// Digest is the manifest's digest: that of its canonical payload, without signatures.
func (s *Signed) Digest() digest.Digest { return digest.FromBytes(s.Canonical) }

// Bounds on what Parse verifies, so no body costs much CPU: clients sign with one key, and no
// Docker tool makes RSA keys beyond 4096 bits.
const (
	maxSignatures = 8
	maxRSABits    = 8192
)

// ErrUnverified means a signature does not verify (MANIFEST_UNVERIFIED on the wire).
var ErrUnverified = errors.New("manifest failed signature verification")

// InvalidError means the body is not a well-formed signed schema 1 manifest (MANIFEST_INVALID).
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string { return e.Reason }

func invalid(format string, a ...any) error { return &InvalidError{Reason: fmt.Sprintf(format, a...)} }

// Parse reads a signed schema 1 body, recovers its canonical payload from the protected headers
// and verifies every signature over it, as distribution does before storing one.
func Parse(body []byte) (*Signed, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return nil, invalid("the body is not a JSON object: %v", err)
	}
	raw, ok := members["signatures"]
	if !ok {
		return nil, invalid("missing signature key")
	}
	var sigs []signature
	if err := json.Unmarshal(raw, &sigs); err != nil {
		return nil, invalid("error unmarshalling signatures: %v", err)
	}
	if len(sigs) == 0 {
		return nil, invalid("the manifest has no signatures")
	}
	if len(sigs) > maxSignatures {
		return nil, invalid("the manifest has more than %d signatures", maxSignatures)
	}
	formatLength, tail := -1, []byte(nil)
	for i, s := range sigs {
		p, err := unb64(s.Protected)
		if err != nil {
			return nil, invalid("signatures[%d].protected: %v", i, err)
		}
		var ph struct {
			FormatLength *int    `json:"formatLength"`
			FormatTail   *string `json:"formatTail"`
		}
		if err := json.Unmarshal(p, &ph); err != nil {
			return nil, invalid("signatures[%d].protected: %v", i, err)
		}
		if ph.FormatLength == nil {
			return nil, invalid("missing formatted length")
		}
		if ph.FormatTail == nil {
			return nil, invalid("missing formatted tail")
		}
		t, err := unb64(*ph.FormatTail)
		if err != nil {
			return nil, invalid("base64 decode error on tail: %v", err)
		}
		if formatLength >= 0 && (formatLength != *ph.FormatLength || !bytes.Equal(tail, t)) {
			return nil, invalid("conflicting format length or tail")
		}
		formatLength, tail = *ph.FormatLength, t
	}
	if formatLength < 0 || formatLength > len(body) {
		return nil, invalid("invalid format length")
	}
	canonical := append(append([]byte{}, body[:formatLength]...), tail...)
	input := b64(canonical)
	for i, s := range sigs {
		pub, err := s.publicKey()
		if err != nil {
			return nil, invalid("signatures[%d]: %v", i, err)
		}
		sig, err := unb64(s.Signature)
		if err != nil {
			return nil, invalid("signatures[%d].signature: %v", i, err)
		}
		if !verify(pub, s.Header.Alg, []byte(s.Protected+"."+input), sig) {
			return nil, ErrUnverified
		}
	}
	var m Manifest
	if err := json.Unmarshal(canonical, &m); err != nil {
		return nil, invalid("the signed payload is not a manifest: %v", err)
	}
	if m.SchemaVersion != 1 {
		return nil, invalid("schemaVersion must be 1")
	}
	if len(m.History) != len(m.FSLayers) {
		return nil, invalid("mismatched history and fslayer cardinality %d != %d", len(m.History), len(m.FSLayers))
	}
	for i, l := range m.FSLayers {
		if err := l.BlobSum.Validate(); err != nil {
			return nil, invalid("fsLayers[%d].blobSum: %v", i, err)
		}
	}
	return &Signed{Canonical: canonical, Manifest: m}, nil
}

// publicKey is the key a signature names: the first certificate of x5c, else the JWK.
func (s signature) publicKey() (crypto.PublicKey, error) {
	if len(s.Header.Chain) > 0 {
		der, err := base64.StdEncoding.DecodeString(s.Header.Chain[0])
		if err != nil {
			return nil, err
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		return cert.PublicKey, nil
	}
	if s.Header.JWK == nil {
		return nil, errors.New("missing public key")
	}
	pub, err := s.Header.JWK.publicKey()
	if err != nil {
		return nil, err
	}
	if s.Header.JWK.Kid != "" {
		if kid, err := KeyID(pub); err != nil || kid != s.Header.JWK.Kid {
			return nil, fmt.Errorf("JWK key id %q does not match the key", s.Header.JWK.Kid)
		}
	}
	return pub, nil
}

func (k *jwk) publicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "EC":
		curves := map[string]elliptic.Curve{"P-256": elliptic.P256(), "P-384": elliptic.P384(), "P-521": elliptic.P521()}
		curve, ok := curves[k.Crv]
		if !ok {
			return nil, fmt.Errorf("JWK EC curve %q is not supported", k.Crv)
		}
		x, err1 := unb64(k.X)
		y, err2 := unb64(k.Y)
		size := (curve.Params().BitSize + 7) / 8
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, errors.New("JWK EC coordinates are malformed")
		}
		return ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
	case "RSA":
		n, err1 := unb64(k.N)
		e, err2 := unb64(k.E)
		if err1 != nil || err2 != nil || len(n) == 0 || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("JWK RSA parameters are malformed")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	}
	return nil, fmt.Errorf("JWK key type %q is not supported", k.Kty)
}

// verify checks a JWS signature: ES256/384/512 (r||s) for EC keys on the matching curve,
// RS256/384/512 (PKCS #1 v1.5) for RSA keys.
func verify(pub crypto.PublicKey, alg string, input, sig []byte) bool {
	hashes := map[string]crypto.Hash{"256": crypto.SHA256, "384": crypto.SHA384, "512": crypto.SHA512}
	if len(alg) != 5 {
		return false
	}
	h, ok := hashes[alg[2:]]
	if !ok {
		return false
	}
	hasher := h.New()
	hasher.Write(input)
	sum := hasher.Sum(nil)
	switch key := pub.(type) {
	case *ecdsa.PublicKey:
		want := map[int]string{256: "ES256", 384: "ES384", 521: "ES512"}[key.Curve.Params().BitSize]
		size := (key.Curve.Params().BitSize + 7) / 8
		if alg != want || len(sig) != 2*size {
			return false
		}
		return ecdsa.Verify(key, sum, new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:]))
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") && key.N.BitLen() <= maxRSABits && rsa.VerifyPKCS1v15(key, h, sum, sig) == nil
	}
	return false
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// unb64 decodes base64url with or without padding, as libtrust does.
func unb64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
