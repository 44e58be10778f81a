package emulator_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
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

// /_emulator/state names the listeners, so a client elsewhere can configure itself from it.
func TestStateEndpoints(t *testing.T) {
	emu := emulatortest.New(t)
	res, err := http.Get(emu.HTTPURL() + "/_emulator/state")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var st struct {
		Endpoints struct{ HTTPS, HTTP, Proxy, CAFile string }
	}
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	port := func(u string) string { return u[strings.LastIndex(u, ":")+1:] }
	if st.Endpoints.HTTPS != emu.HTTPSURL() || st.Endpoints.Proxy != emu.ProxyURL() ||
		st.Endpoints.HTTP != "http://localhost:"+port(emu.HTTPURL()) {
		t.Fatalf("endpoints = %+v; emulator %s %s %s", st.Endpoints, emu.HTTPSURL(), emu.HTTPURL(), emu.ProxyURL())
	}
}
