package schema1

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	jwxjwk "github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

func signedLinux(t *testing.T) (payload, body []byte, key *Key) {
	t.Helper()
	payload = readTestdata(t, "linux.schema1.json")
	key, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	body, err = key.Sign(payload, time.Date(2024, 5, 6, 7, 8, 9, 123, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return payload, body, key
}

func TestSignIsLibtrustsPrettyJWS(t *testing.T) {
	payload, body, key := signedLinux(t)
	formatLength := len(payload) - len("\n}")
	if !bytes.HasPrefix(body, payload[:formatLength]) || !bytes.HasSuffix(body, []byte("\n   ]\n}")) {
		t.Fatalf("the payload is not spliced as libtrust does:\n%s", body)
	}
	var doc struct {
		Signatures []struct {
			Header struct {
				JWK json.RawMessage `json:"jwk"`
				Alg string          `json:"alg"`
			} `json:"header"`
			Signature string `json:"signature"`
			Protected string `json:"protected"`
		} `json:"signatures"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Signatures) != 1 {
		t.Fatalf("signatures: %v %s", err, body)
	}
	s := doc.Signatures[0]
	prot, _ := base64.RawURLEncoding.DecodeString(s.Protected)
	if want := `{"formatLength":` + itoa(formatLength) + `,"formatTail":"Cn0","time":"2024-05-06T07:08:09Z"}`; string(prot) != want {
		t.Fatalf("protected header %s, want %s", prot, want)
	}
	if !regexp.MustCompile(`^\{"crv":"P-256","kid":"([A-Z2-7]{4}:){11}[A-Z2-7]{4}","kty":"EC","x":"[\w-]{43}","y":"[\w-]{43}"\}$`).Match(compact(t, s.Header.JWK)) {
		t.Fatalf("jwk is not libtrust's: %s", s.Header.JWK)
	}
	if s.Header.Alg != "ES256" {
		t.Fatalf("alg %s", s.Header.Alg)
	}
	if kid, _ := KeyID(&key.priv.PublicKey); !strings.Contains(string(s.Header.JWK), kid) {
		t.Fatalf("jwk does not carry the key's id %s", kid)
	}

	// An independent JOSE implementation accepts the JWK and the ES256 signature over
	// protected "." base64url(payload).
	pub, err := jwxjwk.ParseKey(s.Header.JWK)
	if err != nil {
		t.Fatalf("jwx cannot read the JWK: %v", err)
	}
	v, err := jws.NewVerifier(jwa.ES256)
	if err != nil {
		t.Fatal(err)
	}
	sig, _ := base64.RawURLEncoding.DecodeString(s.Signature)
	input := []byte(s.Protected + "." + base64.RawURLEncoding.EncodeToString(payload))
	if err := v.Verify(input, sig, pub); err != nil {
		t.Fatalf("jwx rejects the signature: %v", err)
	}
	input[len(input)-1] ^= 1
	if err := v.Verify(input, sig, pub); err == nil {
		t.Fatal("jwx accepts the signature over other bytes")
	}
}

func TestParseRecoversTheCanonicalPayload(t *testing.T) {
	canonical := readTestdata(t, "linux.schema1.json")
	_, mine, key := signedLinux(t)
	bodies := map[string][]byte{
		"signed by Key.Sign":                 mine,
		"key named by an x5c certificate":    withCertificate(t, mine, key),
		"signed by libtrust with an EC key":  readTestdata(t, "linux.libtrust-ec.json"),
		"signed by libtrust with an RSA key": readTestdata(t, "linux.libtrust-rsa.json"),
	}
	for desc, body := range bodies {
		t.Run(desc, func(t *testing.T) {
			s, err := Parse(body)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(s.Canonical, canonical) {
				t.Fatalf("canonical payload:\n%s", s.Canonical)
			}
			if s.Digest() != "sha256:88aee23c8ca596ec8450f7e0c9067cd4b7b34fc01cb88d132d8adea363320de9" {
				t.Fatalf("digest %s", s.Digest())
			}
			m := s.Manifest
			if m.Name != "library/app" || m.Tag != "v1" || m.Architecture != "amd64" || len(m.FSLayers) != 3 || m.FSLayers[1].BlobSum != EmptyLayerDigest {
				t.Fatalf("manifest %+v", m)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	payload, body, key := signedLinux(t)
	resign := func(p string) []byte {
		b, err := key.Sign([]byte(p), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	edit := func(old, new string) []byte { return bytes.Replace(body, []byte(old), []byte(new), 1) }
	var sig struct {
		Signatures []signature `json:"signatures"`
	}
	if err := json.Unmarshal(body, &sig); err != nil {
		t.Fatal(err)
	}
	s := sig.Signatures[0]
	otherKey, _ := GenerateKey()
	tests := []struct {
		desc       string
		body       []byte
		unverified bool   // ErrUnverified, else an InvalidError
		want       string // in the InvalidError
	}{
		{desc: "payload changed after signing", body: edit(`"tag": "v1"`, `"tag": "v2"`), unverified: true},
		{desc: "signature changed", body: edit(s.Signature, s.Signature[:10]+flip(s.Signature[10])+s.Signature[11:]), unverified: true},
		{desc: "JWK of another key than the one that signed", body: []byte(strings.NewReplacer(s.Header.JWK.X, otherKey.jwk.X, s.Header.JWK.Y, otherKey.jwk.Y,
			s.Header.JWK.Kid, otherKey.jwk.Kid).Replace(string(body))), unverified: true},
		{desc: "JWK point not on the curve", body: edit(`"x": "`+s.Header.JWK.X, `"x": "`+otherKey.jwk.X), want: "not on curve"},
		{desc: "kid of another key", body: edit(s.Header.JWK.Kid, otherKey.jwk.Kid), want: "does not match"},
		{desc: "alg that is not the curve's", body: edit(`"alg": "ES256"`, `"alg": "ES384"`), unverified: true},
		{desc: "unsigned (v1+json as pushed by hand)", body: payload, want: "missing signature key"},
		{desc: "more signatures than anyone makes", body: withSignatures(t, body, 9), want: "more than 8 signatures"},
		{desc: "empty signatures", body: []byte(`{"schemaVersion":1,"signatures":[]}`), want: "no signatures"},
		{desc: "not JSON", body: []byte(`{"signatures"`), want: "not a JSON object"},
		{desc: "protected header not base64", body: edit(s.Protected, "!!"), want: "protected"},
		{desc: "format length past the end", body: []byte(`{"signatures":[{"header":{"alg":"ES256"},"signature":"","protected":"` +
			base64.RawURLEncoding.EncodeToString([]byte(`{"formatLength":99999,"formatTail":"Cn0"}`)) + `"}]}`), want: "invalid format length"},
		{desc: "no format length", body: []byte(`{"signatures":[{"header":{"alg":"ES256"},"signature":"","protected":"` +
			base64.RawURLEncoding.EncodeToString([]byte(`{"formatTail":"Cn0"}`)) + `"}]}`), want: "missing formatted length"},
		{desc: "no public key", body: []byte(`{"signatures":[{"header":{"alg":"ES256"},"signature":"","protected":"` +
			base64.RawURLEncoding.EncodeToString([]byte(`{"formatLength":1,"formatTail":"fQ"}`)) + `"}]}`), want: "missing public key"},
		{desc: "history and fsLayers differ in number", body: resign(`{"schemaVersion":1,"name":"a","tag":"b","architecture":"amd64",` +
			`"fsLayers":[{"blobSum":"` + string(EmptyLayerDigest) + `"}],"history":[]}`), want: "mismatched history and fslayer cardinality 0 != 1"},
		{desc: "schema version 2", body: resign(`{"schemaVersion":2,"fsLayers":[],"history":[]}`), want: "schemaVersion must be 1"},
		{desc: "bad blobSum", body: resign(`{"schemaVersion":1,"fsLayers":[{"blobSum":"sha256:xyz"}],"history":[{"v1Compatibility":"{}"}]}`), want: "fsLayers[0].blobSum"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := Parse(tc.body)
			if tc.unverified {
				if !errors.Is(err, ErrUnverified) {
					t.Fatalf("err = %v, want ErrUnverified", err)
				}
				return
			}
			var ie *InvalidError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want an InvalidError containing %q", err, tc.want)
			}
		})
	}
}

func TestSignRefusesWhatIsNotAnObject(t *testing.T) {
	key, _ := GenerateKey()
	for _, p := range []string{``, `[]`, `{"a":1,}`, `   `} {
		if _, err := key.Sign([]byte(p), time.Now()); err == nil {
			t.Errorf("Sign(%q) succeeded", p)
		}
	}
	// A compact payload gets a compact signatures member and still round-trips.
	b, err := key.Sign([]byte(`{"schemaVersion":1,"fsLayers":[],"history":[]}`), time.Now())
	if err != nil || !bytes.Contains(b, []byte(`[],"signatures":[{"header"`)) {
		t.Fatalf("compact: %s %v", b, err)
	}
	if s, err := Parse(b); err != nil || string(s.Canonical) != `{"schemaVersion":1,"fsLayers":[],"history":[]}` {
		t.Fatalf("compact round trip: %v", err)
	}
}

// withCertificate names the signing key by a self-signed certificate (x5c) instead of a JWK, as
// libtrust's SignWithChain does; the header is not signed, so the signature stays valid.
func withCertificate(t *testing.T, body []byte, key *Key) []byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.priv.PublicKey, key.priv)
	if err != nil {
		t.Fatal(err)
	}
	at := bytes.Index(body, []byte(",\n   \"signatures\": "))
	var doc struct {
		Signatures []signature `json:"signatures"`
	}
	if at < 0 || json.Unmarshal(body, &doc) != nil {
		t.Fatalf("cannot find the signatures in %s", body)
	}
	doc.Signatures[0].Header.JWK = nil
	doc.Signatures[0].Header.Chain = []string{base64.StdEncoding.EncodeToString(der)}
	list, _ := json.MarshalIndent(doc.Signatures, "   ", "   ")
	out := append(append([]byte{}, body[:at]...), ",\n   \"signatures\": "...)
	return append(append(out, list...), "\n}"...)
}

// withSignatures repeats a body's one signature n times.
func withSignatures(t *testing.T, body []byte, n int) []byte {
	t.Helper()
	at := bytes.Index(body, []byte(",\n   \"signatures\": "))
	var doc struct {
		Signatures []json.RawMessage `json:"signatures"`
	}
	if at < 0 || json.Unmarshal(body, &doc) != nil || len(doc.Signatures) != 1 {
		t.Fatal("cannot find the signature")
	}
	list, _ := json.Marshal(slices.Repeat(doc.Signatures, n))
	out := append(append([]byte{}, body[:at]...), ",\"signatures\":"...)
	return append(append(out, list...), '}')
}

func compact(t *testing.T, raw []byte) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func flip(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// FuzzParse: Parse never panics, and what it accepts has a payload within the body.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"linux.libtrust-ec.json", "linux.libtrust-rsa.json", "linux.schema1.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"signatures":[{"header":{"alg":"ES256"},"signature":"","protected":"eyJmb3JtYXRMZW5ndGgiOjEsImZvcm1hdFRhaWwiOiJmUSJ9"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := Parse(body)
		if err == nil && len(s.Canonical) == 0 {
			t.Fatalf("accepted an empty payload from %q", body)
		}
	})
}
