package arm

import (
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"net/http"
	"slices"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// A token's credentials.certificates: certificate1 and certificate2, each given as
// encodedPemCertificate (the base64 of a PEM certificate, as the REST example TokenCreate.json
// shows) and shown as its name, SHA-1 thumbprint and expiry. They are recorded, not used to
// authenticate: the emulator's data plane takes a token's passwords only.

// maxCertificateBytes bounds one encoded certificate (input bound).
const maxCertificateBytes = 64 << 10

// decodeCertificates applies a list of certificates to a token's: an entry with a certificate
// sets it, an entry with a name only keeps the one of that name; others are removed.
func decodeCertificates(in []certificateBody, old []store.TokenCertificate) ([]store.TokenCertificate, error) {
	var out []store.TokenCertificate
	for _, cb := range in {
		name, err := enumValue("properties.credentials.certificates.name", cb.Name, "certificate1", "certificate2")
		if err != nil {
			return nil, err
		}
		if slices.ContainsFunc(out, func(c store.TokenCertificate) bool { return c.Name == name }) {
			return nil, armError(http.StatusBadRequest, "InvalidRequestContent", "The certificate '"+name+"' is given twice.")
		}
		if cb.EncodedPemCertificate == "" {
			if i := slices.IndexFunc(old, func(c store.TokenCertificate) bool { return c.Name == name }); i >= 0 {
				out = append(out, old[i])
			}
			continue
		}
		cert, err := parseCertificate(cb.EncodedPemCertificate)
		if err != nil {
			return nil, armError(http.StatusBadRequest, "InvalidRequestContent", "The encodedPemCertificate of '"+name+"' is not a base64-encoded PEM certificate.")
		}
		sum := sha1.Sum(cert.Raw)
		out = append(out, store.TokenCertificate{Name: name, Thumbprint: hex.EncodeToString(sum[:]), Expiry: cert.NotAfter.UTC()})
	}
	slices.SortFunc(out, func(x, y store.TokenCertificate) int { return strings.Compare(x.Name, y.Name) })
	return out, nil
}

func parseCertificate(encoded string) (*x509.Certificate, error) {
	if len(encoded) > maxCertificateBytes {
		return nil, errCertificate
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errCertificate
	}
	return x509.ParseCertificate(block.Bytes)
}

var errCertificate = armError(http.StatusBadRequest, "InvalidRequestContent", "not a certificate")

func certificatesJSON(certs []store.TokenCertificate) []map[string]string {
	out := []map[string]string{}
	for _, c := range certs {
		out = append(out, map[string]string{"name": c.Name, "thumbprint": c.Thumbprint, "expiry": expiryTime(c.Expiry)})
	}
	return out
}
