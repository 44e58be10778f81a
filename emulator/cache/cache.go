// Package cache is ACR's artifact cache on the data plane
// (https://learn.microsoft.com/azure/container-registry/artifact-cache-overview): a pull that
// misses in a repository a cache rule covers is read from the rule's upstream, stored in the
// repository, and served; later pulls are served from the stored copy, never refreshed (ACR
// does not pull new versions of a cached tag).
//
// The registry handler asks through registry.Upstream; this package decides whether the
// cache may fill the registry (the network rules let it in only as a trusted service),
// resolves the rule's credential set, and reads the upstream with go-containerregistry's
// remote package, bounded in bytes and time, into memory: nothing is stored unless every
// manifest and blob arrived and matched its digest.
package cache

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Defaults for the bounds of a fill: what one reads (in memory until it is stored), how long
// it may take, and how many run at once (so the cache holds at most 2 GiB of fills).
const (
	DefaultMaxBytes = 512 << 20
	DefaultTimeout  = 2 * time.Minute
	maxConcurrent   = 4
	maxChildren     = 64 // manifests of an index read in one fill
)

// Config is what a cache works with.
type Config struct {
	Store *store.Store
	// NetworkRules reads a registry's network rules.
	NetworkRules func(registry string) (network.Rules, error)
	// Transport returns the transport reaching an upstream host from the cache's public side:
	// in-process for the emulator's own registries; nil means this machine's network.
	Transport func(host string) http.RoundTripper
	// Secrets holds Key Vault secret values by SecretKey.
	Secrets map[string]string
	// MaxBytes bounds what one fill reads from the upstream (default DefaultMaxBytes);
	// Timeout bounds its time (default DefaultTimeout).
	MaxBytes int64
	Timeout  time.Duration
	Log      *slog.Logger
	// Audit, when set, records the cache's decisions on the registries it fills.
	Audit *network.Audit
}

// Cache fills registries from their cache rules' upstreams.
type Cache struct {
	cfg    Config
	direct http.RoundTripper
	slots  chan struct{} // fills in progress, at most maxConcurrent

	mu      sync.Mutex
	flights map[string]*flight
}

// fillChain is the context value of an upstream read: the fills it serves, outermost first
// (in-process upstream requests carry their context).
type fillChain struct{}

// flight is a fill in progress, which concurrent pulls of the same miss wait for.
type flight struct {
	done   chan struct{}
	filled bool
	err    error
}

// New returns a cache.
func New(cfg Config) *Cache {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	direct := &http.Transport{
		Proxy:                 nil, // upstreams are reached directly, never through a user's proxy settings
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       30 * time.Second,
	}
	return &Cache{cfg: cfg, direct: direct, slots: make(chan struct{}, maxConcurrent), flights: map[string]*flight{}}
}

// For returns the upstream of one registry, for registry.WithUpstream.
func (c *Cache) For(registryName string) registry.Upstream { return upstream{c, registryName} }

// Close drops idle upstream connections.
func (c *Cache) Close() {
	if t, ok := c.direct.(*http.Transport); ok {
		t.CloseIdleConnections()
	}
}

type upstream struct {
	c        *Cache
	registry string
}

// Fill implements registry.Upstream.
func (u upstream) Fill(ctx context.Context, repo, ref string, save func(*registry.Artifact) error) (bool, error) {
	return u.c.fill(ctx, u.registry, repo, ref, save)
}

func (c *Cache) fill(ctx context.Context, registryName, repo, ref string, save func(*registry.Artifact) error) (bool, error) {
	rules, err := c.cfg.Store.ListCacheRules(registryName)
	if err != nil || len(rules) == 0 {
		return false, err
	}
	rule, source, ok := Match(rules, repo)
	if !ok {
		return false, nil
	}
	reg, err := c.cfg.Store.GetRegistry(registryName)
	if err != nil || reg == nil {
		return false, err
	}
	nr, err := c.cfg.NetworkRules(registryName)
	if err != nil {
		return false, err
	}
	// The cache writes into the registry from inside ACR: past network rules only as a
	// trusted service. The client's own access was checked before the request got here.
	o := network.Origin{Kind: network.AzureService, Name: network.ServiceArtifactCache, Service: network.ServiceArtifactCache}
	d := network.Decide(o, reg.ID, nr)
	audit := func(status int) {
		if c.cfg.Audit == nil {
			return
		}
		decision := "denied"
		if d.Allowed {
			decision = "allowed"
		}
		c.cfg.Audit.Record(network.Entry{Time: time.Now().UTC(), Registry: registryName, Origin: network.ServiceArtifactCache, Kind: network.AzureService,
			Method: http.MethodGet, Path: "/v2/" + repo + "/manifests/" + ref, Decision: decision, Rule: d.Rule, Status: status})
	}
	if !d.Allowed {
		c.cfg.Log.Info("artifact cache denied", "registry", registryName, "rule", rule.Name, "decision", d.Rule)
		audit(http.StatusForbidden)
		return false, errTrustedAccess(rule.Name)
	}
	auth, err := c.credentials(registryName, rule)
	if err != nil {
		return false, err
	}
	key := registryName + "/" + repo + "/" + ref
	// A rule that reads, through the emulator's registries, the very miss it fills (directly or
	// through other rules) finds nothing there instead of waiting for itself.
	chain, _ := ctx.Value(fillChain{}).([]string)
	if slices.Contains(chain, key) {
		return false, nil
	}
	c.mu.Lock()
	if f, ok := c.flights[key]; ok {
		c.mu.Unlock()
		select {
		case <-f.done:
			return f.filled, f.err
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	c.flights[key] = f
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.flights, key)
		c.mu.Unlock()
		close(f.done)
	}()
	// The fill outlives a client that gives up, up to its own deadline, so the next pull
	// finds it done; the waiting pulls share its outcome, stored before they look.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.Timeout)
	defer cancel()
	fctx = context.WithValue(fctx, fillChain{}, append(slices.Clone(chain), key))
	var a *registry.Artifact
	switch {
	case len(chain) > 0:
		// A fill an outer fill waits for (a rule reading another registry's rule) takes no
		// slot: the outer one holds it.
		a, err = c.read(fctx, rule, source, ref, auth)
	default:
		select {
		case c.slots <- struct{}{}:
			a, err = c.read(fctx, rule, source, ref, auth)
			<-c.slots
		case <-fctx.Done():
			err = errUpstream("manifest", source, rule.Name, "timed out waiting for other fills")
		}
	}
	if err == nil && a != nil {
		err = save(a)
		f.filled = err == nil
	}
	f.err = err
	audit(status(f.filled, err))
	if f.filled {
		c.cfg.Log.Info("artifact cache filled", "registry", registryName, "repository", repo, "reference", ref, "rule", rule.Name,
			"source", source, "manifests", len(a.Manifests), "blobs", len(a.Blobs))
	}
	return f.filled, f.err
}

// status is the HTTP status a fill's outcome stands for, for the audit.
func status(filled bool, err error) int {
	var re *httpx.RegistryError
	switch {
	case errors.As(err, &re):
		return re.Status
	case err != nil:
		return http.StatusInternalServerError
	case filled:
		return http.StatusOK
	}
	return http.StatusNotFound
}
