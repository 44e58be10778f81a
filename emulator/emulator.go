// Package emulator composes a whole acr-emulator: state, registries, listeners and control
// endpoints, in one value. Nothing here is package-level state, so a test binary can run many
// emulators at once (see emulator/emulatortest).
package emulator

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/arm"
	"github.com/acr-emulator/acr-emulator/emulator/internal/certs"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/emulator/token"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/acr-emulator/acr-emulator/fakes/aci"
	"github.com/acr-emulator/acr-emulator/fakes/appservice"
	"github.com/acr-emulator/acr-emulator/fakes/defender"
	"github.com/acr-emulator/acr-emulator/fakes/entra"
	"github.com/acr-emulator/acr-emulator/fakes/imds"
	"github.com/acr-emulator/acr-emulator/fakes/ml"
	"github.com/acr-emulator/acr-emulator/fakes/tasks"
)

// Config configures an emulator. The zero value of each field means its default.
type Config struct {
	// HTTPSAddr is the main HTTPS listener (default 127.0.0.1:8443). Port 0 picks a free port.
	HTTPSAddr string
	// HTTPAddr is the plain HTTP listener (default 127.0.0.1:8080); "-" disables it.
	HTTPAddr string
	// ProxyAddr is an HTTP(S) proxy that tunnels every host it is asked for (Entra's
	// login.microsoftonline.com, ARM's management.azure.com, <name>.azurecr.io) into the
	// emulator, as this machine: for tools that insist on real Azure names, like the az CLI.
	// Default 127.0.0.1:8081; "-" disables it.
	ProxyAddr string
	// DataDir holds ca.pem and ca-key.pem, and the token signing keys. Empty: an in-memory CA
	// and fresh keys, nothing written.
	DataDir string
	// EntraSigningKey, when set, signs Entra tokens instead of the data directory's key or a
	// fresh one. Emulators of one process that share it accept each other's Entra tokens, as
	// registries do with one Azure tenant (emulatortest does this: see there why).
	EntraSigningKey *rsa.PrivateKey
	// World is the initial state (default world.Default()).
	World *world.World
	// Logger receives the emulator's logs (default slog.Default()).
	Logger *slog.Logger
	// MaxManifestBytes and MaxUploadBytes bound request bodies (defaults: the registry package's).
	MaxManifestBytes int64
	MaxUploadBytes   int64
	// UploadTTL is how long an idle upload session is kept (default 1h).
	UploadTTL time.Duration
	// RefreshTokenTTL and AccessTokenTTL are ACR token lifetimes (defaults: 3h and 75m, as ACR).
	RefreshTokenTTL time.Duration
	AccessTokenTTL  time.Duration
}

// RegistryInfo describes a served registry.
type RegistryInfo struct {
	Name        string `json:"name"`
	LoginServer string `json:"loginServer"`
	URL         string `json:"url"`
}

// Emulator is one running emulator. Create it with New, then Start; Close stops it.
type Emulator struct {
	cfg    Config
	log    *slog.Logger
	st     *store.Store
	ca     *certs.CA
	world  *world.World
	tokens *token.Service
	entra  http.Handler
	imds   http.Handler
	audit  *network.Audit
	arm    http.Handler
	// acrService is ACR's internal identity (import runs as it).
	acrService serviceIdentity
	defender   *defender.Service
	tasks      *tasks.Service
	// proxied receives the tunnels of named origins' proxies; it is served like the main
	// listener, with the origin of each connection attached.
	proxied *network.ConnListener
	origins []OriginInfo

	mu         sync.RWMutex
	registries map[string]*servedRegistry // by name
	byHost     map[string]*servedRegistry // by login server host[:port], lowercase
	mainReg    *servedRegistry            // served on the main listener when no Host matches

	servers  []server
	httpsURL string
	httpURL  string
	proxyURL string
	stop     chan struct{}
	wg       sync.WaitGroup
}

type servedRegistry struct {
	info    RegistryInfo
	port    int          // own listener port, 0 for the main listener
	handler http.Handler // network gate → token endpoints, or token gate → registry
}

// OriginInfo describes a named origin's proxy.
type OriginInfo struct {
	Name     string `json:"name"`
	ProxyURL string `json:"proxyUrl"`
}

// New builds an emulator without binding any port.
func New(cfg Config) (*Emulator, error) {
	if cfg.HTTPSAddr == "" {
		cfg.HTTPSAddr = "127.0.0.1:8443"
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:8080"
	}
	if cfg.ProxyAddr == "" {
		cfg.ProxyAddr = "127.0.0.1:8081"
	}
	if cfg.World == nil {
		cfg.World = world.Default()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.UploadTTL == 0 {
		cfg.UploadTTL = time.Hour
	}
	var ca *certs.CA
	var err error
	if cfg.DataDir != "" {
		ca, err = certs.LoadOrCreateCA(cfg.DataDir)
	} else {
		ca, err = certs.NewEphemeralCA()
	}
	if err != nil {
		return nil, fmt.Errorf("certificate authority: %w", err)
	}
	e := &Emulator{
		cfg: cfg, log: cfg.Logger, st: store.New(), ca: ca, world: cfg.World,
		registries: map[string]*servedRegistry{}, byHost: map[string]*servedRegistry{},
		stop: make(chan struct{}), audit: network.NewAudit(10000),
	}
	// Token signing keys live beside the CA when there is a data directory, so the tokens
	// clients hold survive a restart.
	entraKey, acrKey := cfg.EntraSigningKey, (*rsa.PrivateKey)(nil)
	if cfg.DataDir != "" {
		if entraKey == nil {
			if entraKey, err = certs.LoadOrCreateSigningKey(cfg.DataDir, "entra-signing-key.pem"); err != nil {
				return nil, err
			}
		}
		if acrKey, err = certs.LoadOrCreateSigningKey(cfg.DataDir, "acr-token-signing-key.pem"); err != nil {
			return nil, err
		}
	}
	iss, err := entra.NewIssuer(entra.WithKey(entraKey))
	if err != nil {
		return nil, err
	}
	e.entra = entra.NewHandler(directory{st: e.st, tenant: cfg.World.TenantID}, iss, func(r *http.Request) string {
		return "https://" + r.Host
	}, entra.WithLocalResources(armEndpoints))
	e.imds = imds.NewHandler(computeDirectory{st: e.st}, iss)
	if e.tokens, err = token.New(token.Config{Store: e.st, Entra: entraVerifier{iss}, TenantID: cfg.World.TenantID, Logger: cfg.Logger,
		RefreshTTL: cfg.RefreshTokenTTL, AccessTTL: cfg.AccessTokenTTL, SigningKey: acrKey}); err != nil {
		return nil, err
	}
	if err := e.seedIdentities(); err != nil {
		return nil, err
	}
	if e.acrService, err = e.createServiceIdentity("Azure Container Registry (emulator internal: import)", "AcrPush", "Container Registry Repository Writer"); err != nil {
		return nil, err
	}
	scanner, err := e.createServiceIdentity("Microsoft Defender for Cloud (emulator internal: image scans)", "AcrPull", "Container Registry Repository Reader")
	if err != nil {
		return nil, err
	}
	e.defender = defender.New(servicePlatform{e}, scanner.auth())
	runner, err := e.createServiceIdentity("ACR Tasks (emulator internal: run credential)", "AcrPush", "Container Registry Repository Writer")
	if err != nil {
		return nil, err
	}
	e.tasks = tasks.New(servicePlatform{e}, servicePlatform{e}, runner.auth())
	e.tasks.LogHost = func() string {
		return tasks.LogAccount + ".blob." + strings.TrimPrefix(e.HTTPSURL(), "https://")
	}
	w := cfg.World
	e.arm = arm.New(arm.Config{Store: e.st, Entra: armVerifier{iss}, TenantID: w.TenantID, SubscriptionID: w.SubscriptionID,
		ResourceGroup: w.ResourceGroup, Location: w.Location, Logger: cfg.Logger, Create: e.createRegistry, Delete: e.deleteRegistry,
		Import: e.importImage, Tasks: e.tasks.Handler(),
		Providers: map[string]http.Handler{
			"Microsoft.ContainerInstance":       aci.New(servicePlatform{e}).Handler(),
			"Microsoft.Web":                     appservice.New(servicePlatform{e}).Handler(),
			"Microsoft.Security":                e.defender.Handler(),
			"Microsoft.MachineLearningServices": ml.New(servicePlatform{e}).Handler(),
		}})
	return e, nil
}

// Origins lists the named origins' proxies.
func (e *Emulator) Origins() []OriginInfo { return e.origins }

// Close shuts the listeners down gracefully, waiting for in-flight requests until ctx ends.
func (e *Emulator) Close(ctx context.Context) error {
	select {
	case <-e.stop:
		return nil
	default:
		close(e.stop)
	}
	var errs []error
	e.defender.Wait()
	e.tasks.Close()
	for _, s := range e.servers {
		// Shutdown waits 5s for connections that never sent a request (clients dial ahead);
		// nothing is in flight on them, so close them first.
		s.tracker.closeNew()
		if err := s.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	e.wg.Wait()
	return errors.Join(errs...)
}

// HTTPSURL is the main HTTPS listener's base URL, e.g. https://127.0.0.1:8443.
func (e *Emulator) HTTPSURL() string { return e.httpsURL }

// ProxyURL is the local proxy's URL, for HTTPS_PROXY ("" when disabled).
func (e *Emulator) ProxyURL() string { return e.proxyURL }

// HTTPURL is the plain HTTP listener's base URL ("" when disabled).
func (e *Emulator) HTTPURL() string { return e.httpURL }

// CA is the certificate authority of the HTTPS listeners.
func (e *Emulator) CA() *certs.CA { return e.ca }

// Store gives in-process access to the state (fixtures and seeding helpers).
func (e *Emulator) Store() *store.Store { return e.st }

// World is the world the emulator started with.
func (e *Emulator) World() *world.World { return e.world }

// AdminCredentials returns a registry's admin user and first password ("" when disabled).
func (e *Emulator) AdminCredentials(registry string) (username, password string) {
	reg, err := e.st.GetRegistry(registry)
	if err != nil || reg == nil || !reg.AdminUserEnabled {
		return "", ""
	}
	return reg.AdminUsername, reg.AdminPasswords[0]
}
