package network

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/internal/reqinfo"
)

type originKey struct{}

// WithOrigin attaches the request's origin; only the emulator's listeners and proxies do.
func WithOrigin(ctx context.Context, o Origin) context.Context {
	return context.WithValue(ctx, originKey{}, o)
}

// OriginFrom returns the origin attached to ctx.
func OriginFrom(ctx context.Context) (Origin, bool) {
	o, ok := ctx.Value(originKey{}).(Origin)
	return o, ok
}

// Entry is one audited data-plane decision.
type Entry struct {
	Time     time.Time `json:"time"`
	Registry string    `json:"registry"`
	Origin   string    `json:"origin"`
	Kind     Kind      `json:"originKind"`
	ClientIP string    `json:"clientIp,omitempty"`
	// Host is the name the request was made to: the login server or a data endpoint.
	Host string `json:"host,omitempty"`
	// PrivateIP is the private endpoint's IP the request reached the registry through.
	PrivateIP string `json:"privateIp,omitempty"`
	Principal string `json:"principal,omitempty"`
	Method    string `json:"method"`
	Path      string `json:"path"`
	Decision  string `json:"decision"` // "allowed" or "denied"
	Rule      string `json:"rule"`
	Status    int    `json:"status"`
}

// Audit keeps the most recent decisions in a bounded ring.
type Audit struct {
	mu      sync.Mutex
	entries []Entry
	next    int
	full    bool
}

// NewAudit keeps up to size entries.
func NewAudit(size int) *Audit { return &Audit{entries: make([]Entry, size)} }

func (a *Audit) record(e Entry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries[a.next] = e
	a.next = (a.next + 1) % len(a.entries)
	a.full = a.full || a.next == 0
}

// Record adds a decision made elsewhere than the gate (the artifact cache's on the registry
// it fills).
func (a *Audit) Record(e Entry) { a.record(e) }

// List returns entries oldest first, keeping those matching the non-empty filters.
func (a *Audit) List(registry, decision string) []Entry {
	a.mu.Lock()
	defer a.mu.Unlock()
	var all []Entry
	if a.full {
		all = append(all, a.entries[a.next:]...)
	}
	all = append(all, a.entries[:a.next]...)
	out := []Entry{}
	for _, e := range all {
		if (registry == "" || strings.EqualFold(e.Registry, registry)) && (decision == "" || e.Decision == decision) {
			out = append(out, e)
		}
	}
	return out
}

// Reset drops every entry.
func (a *Audit) Reset() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = make([]Entry, len(a.entries))
	a.next, a.full = 0, false
}

// DeniedMessage is ACR's text for a request its network rules refuse (spec section 7).
func DeniedMessage(ip string) string {
	return fmt.Sprintf("client with IP '%s' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.", ip)
}

// Route is how a VNet reaches a registry on one request: through the private endpoint its
// DNS resolves the request's host name to, or the public endpoint.
type Route struct {
	// Endpoints are the registries (ARM ids) whose approved private endpoint the name resolves
	// to; Unresolved those with an approved private endpoint whose name the VNet's DNS lacks.
	Endpoints, Unresolved []string
	// IP is the private endpoint's address the name resolves to.
	IP netip.Addr
}

// GateConfig is what a registry's network gate decides with.
type GateConfig struct {
	Registry, RegistryID string
	// Rules reads the registry's network rules afresh (the management plane may change them).
	Rules func() (Rules, error)
	// Route resolves, per request, how a VNet origin reaches the registry (private endpoints
	// are created and approved while the emulator runs); nil: VNets reach only the public
	// endpoint.
	Route func(r *http.Request, vnet string) Route
	Audit *Audit
	Log   *slog.Logger
}

// Gate applies the registry's network rules to every request before anything else (the /v2/
// ping and /oauth2/* included), answering 403 DENIED as ACR does, and audits each decision.
func Gate(cfg GateConfig, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, ok := OriginFrom(r.Context())
		if !ok {
			o = Origin{Kind: Internet} // no known origin: the rules decide on an unknown IP
		}
		var route Route
		if o.Kind == PrivateEndpoint && cfg.Route != nil {
			route = cfg.Route(r, o.VNet)
			o.PrivateEndpoints, o.Unresolved = route.Endpoints, route.Unresolved
		}
		rs, err := cfg.Rules()
		if err != nil {
			httpx.WriteRegistryError(w, r, err)
			return
		}
		d := Decide(o, cfg.RegistryID, rs)
		ip, privateIP := "", ""
		if o.IP.IsValid() {
			ip = o.IP.Unmap().String()
		}
		if d.Rule == RulePrivateEndpoint {
			// Through a private endpoint the registry sees the VNet machine's own address.
			if o.PrivateIP.IsValid() {
				ip = o.PrivateIP.String()
			}
			if route.IP.IsValid() {
				privateIP = route.IP.String()
			}
		}
		name := o.Name
		if name == "" {
			name = string(o.Kind)
			if o.Service != "" {
				name = o.Service
			}
		}
		rec := &httpx.StatusRecorder{ResponseWriter: w}
		ctx, info := reqinfo.With(r.Context())
		if d.Allowed {
			next.ServeHTTP(rec, r.WithContext(ctx))
		} else {
			httpx.ACRHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				httpx.WriteRegistryError(w, r, httpx.NewRegistryError(http.StatusForbidden, "DENIED", DeniedMessage(ip)))
			})).ServeHTTP(rec, r)
		}
		decision := "denied"
		if d.Allowed {
			decision = "allowed"
		}
		e := Entry{Time: time.Now().UTC(), Registry: cfg.Registry, Origin: name, Kind: o.Kind, ClientIP: ip, Host: hostname(r.Host), PrivateIP: privateIP,
			Principal: info.Principal(), Method: r.Method, Path: r.URL.Path, Decision: decision, Rule: d.Rule, Status: rec.Status()}
		cfg.Audit.record(e)
		httpx.LoggerOr(r.Context(), cfg.Log).Info("access", "registry", cfg.Registry, "origin", name, "ip", ip, "host", e.Host, "principal", e.Principal,
			"method", r.Method, "path", r.URL.Path, "decision", decision, "rule", d.Rule, "status", e.Status)
	})
}

// hostname is a Host header without its port.
func hostname(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}
