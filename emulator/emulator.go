// Package emulator composes a whole acr-emulator: state, registries, listeners and control
// endpoints, in one value. Nothing here is package-level state, so a test binary can run many
// emulators at once (see emulator/emulatortest).
package emulator

import (
	"context"
	"crypto/rsa"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/arm"
	"github.com/acr-emulator/acr-emulator/emulator/internal/certs"
	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/internal/sniff"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/registry"
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
	"github.com/opencontainers/go-digest"
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
	})
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

// Start binds the listeners, seeds the world and serves until Close.
func (e *Emulator) Start() error {
	mainLn, err := net.Listen("tcp", e.cfg.HTTPSAddr)
	if err != nil {
		return fmt.Errorf("https listener: %w", err)
	}
	listeners := []net.Listener{mainLn}
	closeAll := func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}
	host, _, _ := net.SplitHostPort(e.cfg.HTTPSAddr)
	mainPort := mainLn.Addr().(*net.TCPAddr).Port
	e.httpsURL = "https://" + net.JoinHostPort(urlHost(host), strconv.Itoa(mainPort))

	ownListeners := map[*servedRegistry]net.Listener{}
	for _, wr := range e.world.Registries {
		sr := &servedRegistry{port: wr.Port}
		port := mainPort
		if wr.Port != 0 {
			ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(wr.Port)))
			if err != nil {
				closeAll()
				return fmt.Errorf("registry %s listener: %w", wr.Name, err)
			}
			listeners = append(listeners, ln)
			ownListeners[sr] = ln
			port = ln.Addr().(*net.TCPAddr).Port
		}
		if err := e.addRegistry(sr, wr, port); err != nil {
			closeAll()
			return err
		}
	}

	cert, err := e.ca.Issue(e.certHosts()...)
	if err != nil {
		closeAll()
		return fmt.Errorf("issue certificate: %w", err)
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}

	e.serve(mainLn, e.dispatch(nil), tlsCfg)
	for sr, ln := range ownListeners {
		e.serve(ln, e.dispatch(sr), tlsCfg)
	}
	if e.cfg.HTTPAddr != "-" {
		ln, err := net.Listen("tcp", e.cfg.HTTPAddr)
		if err != nil {
			_ = e.Close(context.Background())
			return fmt.Errorf("http listener: %w", err)
		}
		h, p, _ := net.SplitHostPort(ln.Addr().String())
		e.httpURL = "http://" + net.JoinHostPort(h, p)
		e.serve(ln, e.dispatch(nil), nil)
	}
	if err := e.startOrigins(tlsCfg); err != nil {
		_ = e.Close(context.Background())
		return err
	}
	e.wg.Add(1)
	go e.purgeUploads()
	return nil
}

// startOrigins opens a proxy listener per named origin of the world; their tunnels end in one
// internal listener served like the main one.
func (e *Emulator) startOrigins(tlsCfg *tls.Config) error {
	if len(e.world.Origins) == 0 && e.cfg.ProxyAddr == "-" {
		return nil
	}
	host, _, _ := net.SplitHostPort(e.cfg.HTTPSAddr)
	e.proxied = network.NewConnListener(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	e.serve(e.proxied, e.dispatch(nil), tlsCfg)
	if e.cfg.ProxyAddr != "-" {
		ln, err := net.Listen("tcp", e.cfg.ProxyAddr)
		if err != nil {
			return fmt.Errorf("proxy listener: %w", err)
		}
		local := network.Origin{Kind: network.Internet, Name: "local-proxy", IP: netip.MustParseAddr("127.0.0.1")}
		if e.world.LocalClientIP != "" {
			local.IP, _ = netip.ParseAddr(e.world.LocalClientIP)
		}
		e.serve(ln, network.Proxy(local, e.proxied, e.dispatch(nil)), nil)
		h, p, _ := net.SplitHostPort(ln.Addr().String())
		e.proxyURL = "http://" + net.JoinHostPort(urlHost(h), p)
	}
	for _, wo := range e.world.Origins {
		o := network.Origin{Kind: network.Internet, Name: wo.Name}
		if wo.IP != "" {
			o.IP, _ = netip.ParseAddr(wo.IP)
		}
		if wo.VNet || len(wo.PrivateEndpoints) > 0 {
			o.Kind, o.VNet = network.PrivateEndpoint, wo.Name
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(wo.Port)))
		if err != nil {
			return fmt.Errorf("origin %s proxy: %w", wo.Name, err)
		}
		e.serve(ln, network.Proxy(o, e.proxied, e.dispatch(nil)), nil)
		e.origins = append(e.origins, OriginInfo{Name: wo.Name, ProxyURL: "http://" + net.JoinHostPort(urlHost(host), strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))})
	}
	return nil
}

// approvedEndpoints lists the registries a VNet reaches through approved private endpoints.
func (e *Emulator) approvedEndpoints(vnet string) []string {
	ids, err := e.st.ApprovedEndpoints(vnet)
	if err != nil {
		e.log.Error("private endpoints", "err", err)
	}
	return ids
}

// rules reads a registry's network rules afresh (the management plane may change them).
func (e *Emulator) rules(name string) (network.Rules, error) {
	reg, err := e.st.GetRegistry(name)
	if err != nil || reg == nil {
		return network.Rules{}, fmt.Errorf("registry %s: %v", name, err)
	}
	return network.Rules{
		PublicNetworkAccess: reg.PublicNetworkAccess, DefaultAllow: reg.DefaultActionAllow, IPRules: reg.IPRules,
		BypassAzureServices: reg.BypassAzureServices, BypassForTasks: reg.BypassForTasks, CurrentAzure: e.world.Profile == "current",
	}, nil
}

// Origins lists the named origins' proxies.
func (e *Emulator) Origins() []OriginInfo { return e.origins }

// urlHost names the listener the way users reach it: localhost for loopback and wildcard binds
// (the certificate covers it, and the default world's authority is https://localhost:8443/).
func urlHost(h string) string {
	switch h {
	case "", "0.0.0.0", "::", "127.0.0.1", "::1":
		return "localhost"
	}
	return h
}

func (e *Emulator) addRegistry(sr *servedRegistry, wr world.Registry, port int) error {
	name := wr.Name
	login := "localhost:" + strconv.Itoa(port)
	if e.world.LoginServerSuffix != "" {
		login = name + e.world.LoginServerSuffix
	}
	sr.info = RegistryInfo{Name: name, LoginServer: login, URL: "https://localhost:" + strconv.Itoa(port)}
	rec := &store.Registry{
		Name: name, LoginServer: login, ID: e.world.RegistryID(name), SKU: wr.SKU, Location: e.world.Location, RetentionDays: 7,
		AdminUserEnabled: wr.AdminUserEnabled, AdminUsername: name,
		AdminPasswords:       [2]string{orRandom(wr.AdminPassword), orRandom(wr.AdminPassword2)},
		AnonymousPullEnabled: wr.AnonymousPullEnabled, AuthAsARM: wr.AuthenticationAsArm == nil || *wr.AuthenticationAsArm,
		RoleAssignmentMode:  wr.RoleAssignmentMode,
		PublicNetworkAccess: wr.PublicNetworkAccess != "Disabled",
		DefaultActionAllow:  wr.NetworkRuleSet == nil || wr.NetworkRuleSet.DefaultAction != "Deny",
		BypassAzureServices: wr.NetworkRuleBypassOptions != "None",
		BypassForTasks:      wr.NetworkRuleBypassAllowedForTasks,
	}
	if wr.NetworkRuleSet != nil {
		rec.IPRules = append([]string(nil), wr.NetworkRuleSet.IPRules...)
	}
	if err := e.st.PutRegistry(rec); err != nil {
		return err
	}
	e.serveRegistry(sr, rec)
	return nil
}

// createRegistry serves a registry the management plane created: on the main listener, by its
// <name>.azurecr.io login server (reached through an origin proxy or a loginServerSuffix world).
func (e *Emulator) createRegistry(rec *store.Registry) error {
	rec.CreatedAt = time.Now().UTC()
	if e.world.LoginServerSuffix != "" {
		rec.LoginServer = rec.Name + e.world.LoginServerSuffix
	}
	if rec.AdminPasswords[0] == "" {
		rec.AdminPasswords = [2]string{orRandom(""), orRandom("")}
	}
	if err := e.st.PutRegistry(rec); err != nil {
		return err
	}
	sr := &servedRegistry{info: RegistryInfo{Name: rec.Name, LoginServer: rec.LoginServer, URL: "https://" + rec.LoginServer}, port: -1}
	e.serveRegistry(sr, rec)
	return nil
}

// deleteRegistry stops serving a registry and drops its content.
func (e *Emulator) deleteRegistry(name string) error {
	e.mu.Lock()
	sr := e.registries[name]
	delete(e.registries, name)
	for host, r := range e.byHost {
		if r == sr {
			delete(e.byHost, host)
		}
	}
	if e.mainReg == sr {
		e.mainReg = nil
	}
	e.mu.Unlock()
	return e.st.DeleteRegistry(name)
}

// serveRegistry builds a registry's handler chain (network gate, token endpoints or token gate,
// content) and routes its login server to it.
func (e *Emulator) serveRegistry(sr *servedRegistry, rec *store.Registry) {
	name := rec.Name
	content := registry.New(e.st, name,
		registry.WithLogger(e.log.With("registry", name)),
		registry.WithMaxManifestBytes(orDefault(e.cfg.MaxManifestBytes, registry.DefaultMaxManifestBytes)),
		registry.WithMaxUploadBytes(orDefault(e.cfg.MaxUploadBytes, registry.DefaultMaxUploadBytes)),
		registry.WithPushHook(func(repo string, d digest.Digest, mediaType string) {
			e.defender.OnPush(rec.ID, rec.LoginServer, repo, d.String(), mediaType)
		}),
	).Handler()
	gated := e.tokens.Protect(name, requiredScope, content)
	tokens := e.tokens.Handler(name)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token.IsTokenPath(r.URL.Path) {
			tokens.ServeHTTP(w, r)
			return
		}
		gated.ServeHTTP(w, r)
	})
	sr.handler = network.Gate(name, rec.ID, func() (network.Rules, error) { return e.rules(name) }, e.approvedEndpoints, e.audit, e.log, inner)
	login := rec.LoginServer
	e.mu.Lock()
	defer e.mu.Unlock()
	e.registries[name] = sr
	e.byHost[strings.ToLower(login)] = sr
	// Real-looking names reach the registry through an origin proxy (the az CLI insists on
	// <name>.azurecr.io:443).
	e.byHost[name+".azurecr.io"] = sr
	e.byHost[name+".azurecr.io:443"] = sr
	if sr.port == 0 {
		port := strings.TrimPrefix(sr.info.URL, "https://localhost:")
		e.byHost["localhost:"+port] = sr
		e.byHost["127.0.0.1:"+port] = sr
		e.byHost["[::1]:"+port] = sr
		if e.mainReg == nil {
			e.mainReg = sr
		}
	}
}

// requiredScope adapts the registry's declaration of what a request needs to the token gate.
func requiredScope(r *http.Request) token.Scope {
	a := registry.RequiredAccess(r)
	return token.Scope{Type: a.Type, Name: a.Name, Actions: a.Actions}
}

// orRandom keeps a configured secret or makes one up (Azure generates admin passwords).
func orRandom(s string) string {
	if s != "" {
		return s
	}
	return strings.ReplaceAll(ids.NewGUID(), "-", "")
}

func orDefault(v, d int64) int64 {
	if v > 0 {
		return v
	}
	return d
}

// certHosts are the names the HTTPS certificate covers.
func (e *Emulator) certHosts() []string {
	// Real Azure names too, for clients reaching the emulator through its proxies.
	hosts := []string{"localhost", "127.0.0.1", "::1", "*.azurecr.io", "login.microsoftonline.com", "management.azure.com", "management.core.windows.net",
		tasks.LogAccount + ".blob.localhost"}
	if h, _, _ := net.SplitHostPort(e.cfg.HTTPSAddr); h != "" && h != "0.0.0.0" && h != "::" && h != "localhost" && h != "127.0.0.1" {
		hosts = append(hosts, h)
	}
	for _, r := range e.world.Registries {
		hosts = append(hosts, r.Name+".azurecr.io")
	}
	if s := e.world.LoginServerSuffix; s != "" && s != ".azurecr.io" {
		hosts = append(hosts, "*"+s)
		for _, r := range e.world.Registries {
			hosts = append(hosts, r.Name+s)
		}
	}
	return hosts
}

func (e *Emulator) serve(ln net.Listener, h http.Handler, tlsCfg *tls.Config) {
	tracker := &connTracker{conns: map[net.Conn]http.ConnState{}}
	srv := &http.Server{
		Handler:           h,
		ConnState:         tracker.set,
		ConnContext:       network.ConnContext(e.world.LocalClientIP),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(e.log.Handler(), slog.LevelDebug),
	}
	if tlsCfg != nil {
		ln = sniff.New(ln, tlsCfg)
	}
	e.servers = append(e.servers, server{srv, tracker})
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			e.log.Error("listener stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
}

// dispatch routes a request to the control endpoints or to a registry by Host header, falling
// back to the listener's own registry (own != nil) or the main registry.
func (e *Emulator) dispatch(own *servedRegistry) http.Handler {
	control := http.NewServeMux()
	e.controlRoutes(control)
	// No ServeMux in front of the registry: it would answer unclean paths (.., //) with
	// redirects, where the registry must answer NAME_INVALID itself.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/_emulator/"):
			control.ServeHTTP(w, r)
			return
		case entra.IsEntraPath(r.URL.Path):
			e.entra.ServeHTTP(w, r)
			return
		case imds.IsIdentityPath(r.URL.Path):
			e.imds.ServeHTTP(w, r)
			return
		case arm.IsARMPath(r.URL.Path):
			e.arm.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(strings.ToLower(r.Host), tasks.LogAccount+".blob.") {
			e.tasks.Storage().ServeHTTP(w, r)
			return
		}
		sr := e.registryFor(r.Host, own)
		if sr == nil {
			httpx.WriteRegistryError(w, r, httpx.NewRegistryError(http.StatusNotFound, "NAME_UNKNOWN",
				fmt.Sprintf("no registry is served at %q", r.Host)))
			return
		}
		sr.handler.ServeHTTP(w, r)
	})
	return httpx.Observe(e.log, func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteRegistryError(w, r, errors.New("panic"))
	})(h)
}

func (e *Emulator) registryFor(host string, own *servedRegistry) *servedRegistry {
	e.mu.RLock()
	defer e.mu.RUnlock()
	host = strings.ToLower(host)
	if sr, ok := e.byHost[host]; ok {
		return sr
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		if sr, ok := e.byHost[h]; ok {
			return sr
		}
	}
	if own != nil {
		return own
	}
	return e.mainReg
}

// purgeUploads bounds memory held by abandoned upload sessions.
func (e *Emulator) purgeUploads() {
	defer e.wg.Done()
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case now := <-t.C:
			if n, err := e.st.PurgeUploads(now.Add(-e.cfg.UploadTTL)); err == nil && n > 0 {
				e.log.Info("dropped idle upload sessions", "count", n)
			}
		}
	}
}

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

// Registries lists the served registries: the world's in order, then those created through ARM.
func (e *Emulator) Registries() []RegistryInfo {
	e.mu.RLock()
	defer e.mu.RUnlock()
	var out []RegistryInfo
	seen := map[string]bool{}
	for _, r := range e.world.Registries {
		if sr, ok := e.registries[r.Name]; ok {
			out = append(out, sr.info)
			seen[r.Name] = true
		}
	}
	var extra []string
	for name := range e.registries {
		if !seen[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		out = append(out, e.registries[name].info)
	}
	return out
}

type server struct {
	*http.Server
	tracker *connTracker
}

// connTracker follows connection states so shutdown can drop never-used connections at once.
type connTracker struct {
	mu    sync.Mutex
	conns map[net.Conn]http.ConnState
}

func (t *connTracker) set(c net.Conn, st http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if st == http.StateClosed || st == http.StateHijacked {
		delete(t.conns, c)
		return
	}
	t.conns[c] = st
}

func (t *connTracker) closeNew() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for c, st := range t.conns {
		if st == http.StateNew {
			_ = c.Close()
		}
	}
}
