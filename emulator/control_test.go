package emulator_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"net/url"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/world"
)

// GET /_emulator/ca.pem serves the CA that issued the HTTPS certificate on every listener: the
// plain HTTP one, the main and a registry's own HTTPS listener, and through the proxy.
func TestCAEndpoint(t *testing.T) {
	w := world.Default()
	w.Registries = append(w.Registries, world.Registry{Name: "ownport", SKU: "Premium", Port: 1})
	emu := emulatortest.New(t, emulatortest.WithWorld(w))
	want := emu.CA().CertPEM()
	if len(want) == 0 {
		t.Fatal("the CA has no PEM")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(want) {
		t.Fatal("the CA's PEM does not parse")
	}
	proxy, _ := url.Parse(emu.ProxyURL())
	verified := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	proxied := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, Proxy: http.ProxyURL(proxy)}
	for _, tc := range []struct {
		desc, url string
		tr        http.RoundTripper
	}{
		{"plain HTTP", emu.HTTPURL(), http.DefaultTransport},
		{"main HTTPS", emu.HTTPSURL(), verified},
		{"registry's own HTTPS listener", "https://" + emu.Registry("ownport").Host, verified},
		{"through the proxy, by a real Azure name", "https://myregistry.azurecr.io", proxied},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			res, err := (&http.Client{Transport: tc.tr}).Get(tc.url + "/_emulator/ca.pem")
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			got, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK || !bytes.Equal(got, want) || res.Header.Get("Content-Type") != "application/x-pem-file" {
				t.Fatalf("%s %s: %q", res.Status, res.Header.Get("Content-Type"), got)
			}
		})
	}
}
