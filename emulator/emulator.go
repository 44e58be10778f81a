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
	"sync"
	"sync/atomic"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/arm"
	"github.com/acr-emulator/acr-emulator/emulator/cache"
	"github.com/acr-emulator/acr-emulator/emulator/dataendpoint"
	"github.com/acr-emulator/acr-emulator/emulator/faults"
	"github.com/acr-emulator/acr-emulator/emulator/internal/certs"
	"github.com/acr-emulator/acr-emulator/emulator/internal/hostguard"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/snapshot"
	"github.com/acr-emulator/acr-emulator/emulator/storage"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/emulator/token"
	"github.com/acr-emulator/acr-emulator/emulator/webhook"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/acr-emulator/acr-emulator/fakes/aci"
	"github.com/acr-emulator/acr-emulator/fakes/aks"
	"github.com/acr-emulator/acr-emulator/fakes/appservice"
	"github.com/acr-emulator/acr-emulator/fakes/containerapps"
	"github.com/acr-emulator/acr-emulator/fakes/defender"
	"github.com/acr-emulator/acr-emulator/fakes/entra"
	"github.com/acr-emulator/acr-emulator/fakes/imds"
	"github.com/acr-emulator/acr-emulator/fakes/ml"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
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
	// DataDir holds ca.pem and ca-key.pem, the token signing keys and the fake storage's key.
	// Empty: an in-memory CA and fresh keys, nothing written.
	DataDir string
	// EntraSigningKey, when set, signs Entra tokens instead of the data directory's key or a
	// fresh one. Emulators of one process that share it accept each other's Entra tokens, as
	// registries do with one Azure tenant (emulatortest does this: see there why).
	EntraSigningKey *rsa.PrivateKey
	// World is the initial state (default world.Default()).
	World *world.World
	// Snapshot, when set, is the state to start from instead (its world replaces World):
	// what snapshot.Read loaded from a directory POST /_emulator/snapshot wrote.
	Snapshot *snapshot.Snapshot
	// Logger receives the emulator's logs (default slog.Default()).
	Logger *slog.Logger
	// BlobDir, when set, keeps blob content as files in this directory instead of memory, for
	// images larger than memory (default: the world's blobDir; empty: in memory). It is emptied
	// at start (a snapshot's blobs are linked back into it, not copied) and refused when it
	// holds anything but an earlier run's blobs.
	BlobDir string
	// MaxManifestBytes and MaxUploadBytes bound request bodies (defaults: the registry
	// package's; an upload may be as large as MaxDiskUploadBytes with a BlobDir).
	MaxManifestBytes int64
	MaxUploadBytes   int64
	// MaxPendingUploadBytes bounds the bytes all unfinished upload sessions hold together; a
	// chunk beyond it is refused with 429 TOOMANYREQUESTS (default DefaultMaxPendingUploadBytes
	// in memory, DefaultMaxDiskPendingBytes with a BlobDir; negative: no bound).
	MaxPendingUploadBytes int64
	// UploadTTL is how long an upload session is kept after its last chunk or request
	// (default 15m).
	UploadTTL time.Duration
	// BodyReadTimeout is how long a request body may go without delivering MinBodyBytes (or
	// its end) before the request is cut, against bodies that trickle forever (default 30s;
	// negative: no deadline).
	BodyReadTimeout time.Duration
	// AllowedHosts are host names served besides the emulator's own ("*.suffix" patterns; "*"
	// for any): against DNS rebinding, requests for other dotted names are refused. The
	// emulator's own are its addresses, localhost and single-label names, its registries' login
	// servers, *.azurecr.io and the other Azure names it emulates, the world's allowedHosts and
	// this machine's host name.
	AllowedHosts []string
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
	entraV armVerifier
	hosts  *hostguard.Names // dotted host names served besides IP literals and single labels
	faults faults.Set       // injected failures, per registry
	// storageKey signs the fake storage's links; the storage itself is one of the services.
	storageKey []byte
	// links signs and checks the data endpoints' download links.
	links *dataendpoint.Signer
	// cache fills registries through their cache rules (artifactcache.go).
	cache *cache.Cache
	// acrService is ACR's internal identity (import runs as it); scanner and runner are
	// Defender's and ACR Tasks'. internal holds their object ids (snapshots leave them out).
	acrService, scanner, runner serviceIdentity
	internal                    map[string]bool
	// svc are the management plane and the simulated services, replaced by a reset.
	svc atomic.Pointer[services]
	// start is what Start loaded (the world or a snapshot), what a reset returns to.
	start   baseline
	resetMu sync.Mutex
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
	data    http.Handler // network gate → its data endpoints' downloads
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
	if cfg.Snapshot != nil {
		cfg.World = cfg.Snapshot.World
	}
	if cfg.World == nil {
		cfg.World = world.Default()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.UploadTTL == 0 {
		cfg.UploadTTL = DefaultUploadTTL
	}
	if cfg.BodyReadTimeout == 0 {
		cfg.BodyReadTimeout = DefaultBodyReadTimeout
	}
	if cfg.BlobDir == "" {
		cfg.BlobDir = cfg.World.BlobDir
	}
	blobs, err := newBlobStore(&cfg)
	if err != nil {
		return nil, err
	}
	var ca *certs.CA
	if cfg.DataDir != "" {
		ca, err = certs.LoadOrCreateCA(cfg.DataDir)
	} else {
		ca, err = certs.NewEphemeralCA()
	}
	if err != nil {
		return nil, fmt.Errorf("certificate authority: %w", err)
	}
	e := &Emulator{hosts: ownHosts(cfg),
		cfg: cfg, log: cfg.Logger, st: store.NewWithBlobs(blobs), ca: ca, world: cfg.World,
		registries: map[string]*servedRegistry{}, byHost: map[string]*servedRegistry{}, internal: map[string]bool{},
		stop: make(chan struct{}), audit: network.NewAudit(10000),
	}
	// Token signing keys and the storage's account key live beside the CA when there is a data
	// directory, so the tokens clients hold, and the signatures of their links, survive a restart.
	entraKey, acrKey, storageKey := cfg.EntraSigningKey, (*rsa.PrivateKey)(nil), []byte(nil)
	if cfg.DataDir != "" {
		if storageKey, err = certs.LoadOrCreateSecret(cfg.DataDir, "storage-account-key", 64); err != nil {
			return nil, err
		}
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
	if cfg.Snapshot == nil {
		if err := e.seedIdentities(); err != nil {
			return nil, err
		}
	}
	if err := e.addWorldFaults(); err != nil {
		return nil, err
	}
	// The world's resource group exists from the start; ARM may create and delete others.
	if w := cfg.World; w.ResourceGroup != "" {
		if err := e.st.PutResourceGroup(&store.ResourceGroup{Name: w.ResourceGroup, Location: w.Location}); err != nil {
			return nil, err
		}
	}
	if e.acrService, err = e.createServiceIdentity("Azure Container Registry (emulator internal: import)", "AcrPush", "Container Registry Repository Writer"); err != nil {
		return nil, err
	}
	if e.scanner, err = e.createServiceIdentity("Microsoft Defender for Cloud (emulator internal: image scans)", "AcrPull", "Container Registry Repository Reader"); err != nil {
		return nil, err
	}
	if e.runner, err = e.createServiceIdentity("ACR Tasks (emulator internal: run credential)", "AcrPush", "Container Registry Repository Writer"); err != nil {
		return nil, err
	}
	e.entraV, e.storageKey, e.links = armVerifier{iss}, storageKey, dataendpoint.NewSigner(dataLinkKey(storageKey), nil)
	e.cache = e.newCache()
	e.svc.Store(e.newServices())
	return e, nil
}

// services are the management plane and the simulated services: what keeps state outside the
// store (tasks and their runs, container groups, scan results, operation results). A reset
// replaces them with fresh ones, as moto's reset does its backends.
type services struct {
	arm      http.Handler
	tasks    *tasks.Service
	tasksAPI http.Handler // tasks.Handler(), built once
	// storage is the fake Azure Storage behind the links ACR hands out (run logs, uploads,
	// blob downloads); mounts are the registries' containers mounted on it.
	storage  *storage.Store
	mounts   sync.Map
	defender *defender.Service
	// webhooks delivers the registries' webhooks and keeps their deliveries.
	webhooks *webhook.Service
}

func (e *Emulator) newServices() *services {
	w := e.world
	s := &services{defender: defender.New(servicePlatform{e}, e.scanner.auth()), storage: storage.New(storage.WithSecret(e.storageKey)),
		webhooks: webhook.New(e.st, webhook.WithLogger(e.log))}
	s.tasks = tasks.New(servicePlatform{e}, servicePlatform{e}, e.runner.auth(), s.storage)
	s.tasks.AccountURL = func(r *http.Request) string { return e.accountURL(r, tasks.LogAccount) }
	s.tasksAPI = s.tasks.Handler()
	s.arm = arm.New(arm.Config{Store: e.st, Entra: e.entraV, TenantID: w.TenantID, SubscriptionID: w.SubscriptionID,
		Location: w.Location, Logger: e.log, Create: e.createRegistry, Delete: e.deleteRegistry,
		Import: e.importImage, Tasks: s.tasksAPI, Webhooks: s.webhooks,
		Providers: map[string]http.Handler{
			"Microsoft.ContainerInstance":       platform.Serve(servicePlatform{e}, aci.ContainerGroups()),
			"Microsoft.Web":                     platform.Serve(servicePlatform{e}, appservice.Sites()),
			"Microsoft.Security":                s.defender.Handler(),
			"Microsoft.MachineLearningServices": platform.Serve(servicePlatform{e}, ml.Workspaces()),
			"Microsoft.App":                     platform.Serve(servicePlatform{e}, containerapps.Environments(), containerapps.Apps()),
			"Microsoft.ContainerService":        aks.New(servicePlatform{e}).Handler(),
		}})
	return s
}

// close waits for the scans in flight and stops the runs and the webhook deliveries.
func (s *services) close() {
	s.defender.Wait()
	s.tasks.Close()
	s.webhooks.Close()
}

func (e *Emulator) services() *services { return e.svc.Load() }

// Origins lists the named origins' proxies.
func (e *Emulator) Origins() []OriginInfo { return e.origins }

// Close shuts the listeners down gracefully: all stop accepting at once and drain in
// parallel, so a request in flight on one listener does not hold up another. Requests still in
// flight when ctx ends have their connections closed, and Close reports that; a clean drain
// returns nil.
func (e *Emulator) Close(ctx context.Context) error {
	select {
	case <-e.stop:
		return nil
	default:
		close(e.stop)
	}
	e.services().close()
	e.cache.Close()
	errs := make([]error, len(e.servers))
	var drain sync.WaitGroup
	for i, s := range e.servers {
		drain.Go(func() {
			// Shutdown waits 5s for connections that never sent a request (clients dial ahead);
			// nothing is in flight on them, so close them first.
			s.tracker.closeNew()
			if err := s.Shutdown(ctx); err != nil {
				_ = s.Server.Close()
				errs[i] = fmt.Errorf("listener %s: requests still in flight at the deadline were cut: %w", s.addr, err)
			}
		})
	}
	drain.Wait()
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
