// Package emulatortest runs a whole acr-emulator inside a Go test: real listeners on free
// 127.0.0.1 ports, an in-memory CA (nothing written to disk), stopped at test cleanup. Many can
// run in one test binary at once.
//
// Options declare what the test needs on top of the default world (registries and their
// network rules, identities, role assignments, preloaded images), and the fixture hands out
// what the Azure SDK for Go needs against it, as fake-gcs-server's Server.Client() does:
// credentials (Credential for service principals, ManagedIdentityCredential for managed
// identities, both azidentity's real ones), ClientOptions (the cloud configuration and the
// transport), and ready clients (RegistryClient, BlobClient, ARMClientFactory).
//
//	emu := emulatortest.New(t,
//		emulatortest.WithRegistry("myregistry", emulatortest.Firewall("203.0.113.0/24")),
//		emulatortest.WithImage("myregistry", "app:v1", img))
//	client := emu.RegistryClient("myregistry", emu.Credential())
//	_, err := client.GetTagProperties(ctx, "app", "v1", nil) // 403 DENIED: 127.0.0.1 is not listed
//
// Clients that are not the Azure SDK use Transport (or Client) and CertPool; go-containerregistry:
//
//	ref := emu.Registry().Host + "/app:v1"             // "localhost:<port>/app:v1"
//	remote.Write(name.MustParseReference(ref), img, remote.WithTransport(emu.Transport()), remote.WithAuth(...))
package emulatortest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/acr-emulator/acr-emulator/emulator"
)

// Emulator is a running in-process emulator.
type Emulator struct {
	*emulator.Emulator
	t    testing.TB
	pool *x509.CertPool

	mu    sync.Mutex
	creds map[string]azcore.TokenCredential // by kind and name, so clients share token caches
	sdk   *http.Client                      // the transport of ClientOptions, one connection pool
}

// entraKey is the Entra signing key of every fixture of a test binary. azidentity's
// ManagedIdentityCredential caches tokens for the whole process (MSAL's managed-identity cache
// is a package variable), so the second fixture of a test binary would be handed a token the
// first one signed; with one key, fixtures of the same world accept each other's tokens, as
// registries of one Azure tenant do. It is made once and never changed.
var entraKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// New starts an emulator and stops it when the test ends.
func New(t testing.TB, opts ...Option) *Emulator {
	t.Helper()
	key, err := entraKey()
	if err != nil {
		t.Fatal(err)
	}
	s := defaultSettings()
	for _, o := range opts {
		o(&s)
	}
	s.cfg.EntraSigningKey = key
	w, err := s.buildWorld()
	if err != nil {
		t.Fatalf("emulatortest: %v", err)
	}
	// Registries with their own port get a free one: fixed ports of a shared world file would
	// collide between parallel tests.
	for i := range w.Registries {
		if w.Registries[i].Port != 0 {
			w.Registries[i].Port = freePort(t)
		}
	}
	s.cfg.World = w
	e, err := emulator.New(s.cfg)
	if err != nil {
		t.Fatalf("emulatortest: %v", err)
	}
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Errorf("emulator shutdown: %v", err)
		}
	})
	emu := &Emulator{Emulator: e, t: t, pool: e.CA().Pool(), creds: map[string]azcore.TokenCredential{}}
	emu.sdk = &http.Client{Transport: emu.Transport()}
	for _, p := range s.images {
		if err := emu.preload(p); err != nil {
			t.Fatalf("emulatortest: WithImage(%q, %q): %v", p.registry, p.ref, err)
		}
	}
	return emu
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Registry describes one served registry.
type Registry struct {
	Name     string
	Host     string // the login server: localhost:<port>, or <name><suffix>
	Endpoint string // https://<Host>, the endpoint azcontainerregistry clients take
}

// Registry returns the first registry of the world (myregistry in the default world), or the
// one named (the zero Registry when there is none).
func (e *Emulator) Registry(name ...string) Registry {
	for _, r := range e.Registries() {
		if len(name) == 0 || r.Name == name[0] {
			return Registry{Name: r.Name, Host: r.LoginServer, Endpoint: "https://" + r.LoginServer}
		}
	}
	return Registry{}
}

// mustRegistry is Registry for the fixture's own constructors: an unknown name fails the test.
func (e *Emulator) mustRegistry(name string) Registry {
	r := e.Registry(name)
	if r.Name == "" {
		e.t.Helper()
		e.t.Fatalf("emulatortest: no registry %q is served", name)
	}
	return r
}

// CertPool holds the emulator's CA: trust it to talk TLS to every listener.
func (e *Emulator) CertPool() *x509.CertPool { return e.pool }

// imdsHost is the address Azure's instance metadata service answers on, compiled into
// azidentity and every other Azure SDK.
const imdsHost = "169.254.169.254:80"

// Transport is an HTTP transport that trusts the emulator's CA and sends to the emulator, without
// DNS or hosts-file edits, requests for any registry login server (including <name>.azurecr.io
// names of a world with a login server suffix) and for the instance metadata service
// (169.254.169.254), which the emulator answers for the world's IMDS machine.
func (e *Emulator) Transport() *http.Transport {
	mainAddr := strings.TrimPrefix(e.HTTPSURL(), "https://")
	httpAddr := strings.TrimPrefix(e.HTTPURL(), "http://")
	suffix := e.World().LoginServerSuffix
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: e.pool},
		MaxIdleConnsPerHost: 16,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			switch {
			case err != nil:
			case suffix != "" && strings.HasSuffix(host, suffix):
				addr = mainAddr
			case addr == imdsHost && httpAddr != "":
				addr = httpAddr
			case strings.HasSuffix(host, ".localhost"):
				// *.localhost is loopback (RFC 6761), as curl and browsers resolve it; run
				// log links use it.
				_, port, _ := net.SplitHostPort(addr)
				addr = net.JoinHostPort("127.0.0.1", port)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
}

// Admin returns the admin user's credentials of a registry (the first one by default), for
// clients that take a username and password (ggcr: remote.WithAuth(&authn.Basic{...})).
// The admin user must be enabled, as it is in the default world ("" otherwise).
func (e *Emulator) Admin(registry ...string) (username, password string) {
	return e.AdminCredentials(e.Registry(registry...).Name)
}

// ServicePrincipal returns the tenant, client id and secret of the world's first service
// principal (the default world's acr-emulator-sp, Owner on the subscription), or of the one
// named (by name or client id). Credential gives a ready-made credential for it.
func (e *Emulator) ServicePrincipal(name ...string) (tenantID, clientID, secret string) {
	for _, sp := range e.World().ServicePrincipals {
		if len(name) == 0 || sp.Name == name[0] || strings.EqualFold(sp.ClientID, name[0]) {
			return e.World().TenantID, sp.ClientID, sp.Secret
		}
	}
	return e.World().TenantID, "", ""
}

// AuthorityHost is the Entra authority host of the emulator (with a trailing slash, as
// azcore's cloud.Configuration.ActiveDirectoryAuthorityHost wants it).
func (e *Emulator) AuthorityHost() string { return e.HTTPSURL() + "/" }
