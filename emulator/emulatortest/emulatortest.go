// Package emulatortest runs a whole acr-emulator inside a Go test: real listeners on free
// 127.0.0.1 ports, an in-memory CA (nothing written to disk), stopped at test cleanup. Many can
// run in one test binary at once.
//
//	emu := emulatortest.New(t)
//	ref := emu.Registry().Host + "/app:v1"             // "localhost:<port>/app:v1"
//	remote.Write(name.MustParseReference(ref), img, remote.WithTransport(emu.Transport()))
package emulatortest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator"
	"github.com/acr-emulator/acr-emulator/emulator/world"
)

// Option adjusts the emulator a fixture starts.
type Option func(*emulator.Config)

// WithWorld starts from w instead of the default world (well-known ids in the README).
func WithWorld(w *world.World) Option { return func(c *emulator.Config) { c.World = w } }

// WithLogger sends the emulator's logs to l (default: discarded, so test output stays readable).
func WithLogger(l *slog.Logger) Option { return func(c *emulator.Config) { c.Logger = l } }

// WithConfig edits the whole emulator.Config (size limits, TTLs...).
func WithConfig(f func(*emulator.Config)) Option { return func(c *emulator.Config) { f(c) } }

// Emulator is a running in-process emulator.
type Emulator struct {
	*emulator.Emulator
	pool *x509.CertPool
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
	cfg := emulator.Config{
		HTTPSAddr:       "127.0.0.1:0",
		HTTPAddr:        "127.0.0.1:0",
		ProxyAddr:       "127.0.0.1:0",
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		EntraSigningKey: key,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.World != nil {
		// Per-registry ports in a shared world file would collide between parallel tests.
		w := *cfg.World
		w.Registries = append([]world.Registry(nil), w.Registries...)
		for i := range w.Registries {
			if w.Registries[i].Port != 0 {
				w.Registries[i].Port = freePort(t)
			}
		}
		cfg.World = &w
	}
	e, err := emulator.New(cfg)
	if err != nil {
		t.Fatal(err)
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
	return &Emulator{Emulator: e, pool: e.CA().Pool()}
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Registry describes one served registry; Host is its login server.
type Registry struct {
	Name string
	Host string
}

// Registry returns the first registry of the world (myregistry in the default world), or the
// one named.
func (e *Emulator) Registry(name ...string) Registry {
	for _, r := range e.Registries() {
		if len(name) == 0 || r.Name == name[0] {
			return Registry{Name: r.Name, Host: r.LoginServer}
		}
	}
	return Registry{}
}

// CertPool holds the emulator's CA: trust it to talk TLS to every listener.
func (e *Emulator) CertPool() *x509.CertPool { return e.pool }

// Transport is an HTTP transport that trusts the emulator's CA and sends requests for any
// registry login server (including <name>.azurecr.io names of a world with a login server
// suffix) to the emulator, without DNS or hosts-file edits.
func (e *Emulator) Transport() *http.Transport {
	mainAddr := strings.TrimPrefix(e.HTTPSURL(), "https://")
	suffix := e.World().LoginServerSuffix
	dialer := &net.Dialer{Timeout: 10 * time.Second}
	return &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: e.pool},
		MaxIdleConnsPerHost: 16,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err == nil && suffix != "" && strings.HasSuffix(host, suffix) {
				addr = mainAddr
			}
			// *.localhost is loopback (RFC 6761), as curl and browsers resolve it; run log
			// links use it.
			if _, port, err := net.SplitHostPort(addr); err == nil && strings.HasSuffix(host, ".localhost") {
				addr = net.JoinHostPort("127.0.0.1", port)
			}
			return dialer.DialContext(ctx, network, addr)
		},
	}
}

// Admin returns the admin user's credentials of a registry (the first one by default), for
// clients that take a username and password (ggcr: remote.WithAuth(&authn.Basic{...})).
// The admin user must be enabled in the world, as it is in the default world.
func (e *Emulator) Admin(registry ...string) (username, password string) {
	return e.AdminCredentials(e.Registry(registry...).Name)
}

// ServicePrincipal returns the default world's service principal (Owner on the subscription):
// tenant, client id and secret, for azidentity.NewClientSecretCredential with the authority
// AuthorityHost().
func (e *Emulator) ServicePrincipal() (tenantID, clientID, secret string) {
	return e.World().TenantID, "33333333-3333-3333-3333-333333333333", "acr-emulator-client-secret"
}

// AuthorityHost is the Entra authority host of the emulator (with a trailing slash, as
// azcore's cloud.Configuration.ActiveDirectoryAuthorityHost wants it).
func (e *Emulator) AuthorityHost() string { return e.HTTPSURL() + "/" }

// Client is an *http.Client using Transport.
func (e *Emulator) Client() *http.Client { return &http.Client{Transport: e.Transport()} }
