package network

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
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
	Time      time.Time `json:"time"`
	Registry  string    `json:"registry"`
	Origin    string    `json:"origin"`
	Kind      Kind      `json:"originKind"`
	ClientIP  string    `json:"clientIp,omitempty"`
	Principal string    `json:"principal,omitempty"`
	Method    string    `json:"method"`
	Path      string    `json:"path"`
	Decision  string    `json:"decision"` // "allowed" or "denied"
	Rule      string    `json:"rule"`
	Status    int       `json:"status"`
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

// Gate applies the registry's network rules to every request before anything else (the /v2/
// ping and /oauth2/* included), answering 403 DENIED as ACR does, and audits each decision.
//
// endpoints resolves, per request, the registries a VNet origin reaches through approved
// private endpoints (they can be created and approved while the emulator runs).
func Gate(registry, registryID string, rules func() (Rules, error), endpoints func(vnet string) []string, audit *Audit, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o, ok := OriginFrom(r.Context())
		if !ok {
			o = Origin{Kind: Internet} // no known origin: the rules decide on an unknown IP
		}
		if o.Kind == PrivateEndpoint && endpoints != nil {
			o.PrivateEndpoints = endpoints(o.VNet)
		}
		rs, err := rules()
		if err != nil {
			httpx.WriteRegistryError(w, r, err)
			return
		}
		d := Decide(o, registryID, rs)
		ip := ""
		if o.IP.IsValid() {
			ip = o.IP.Unmap().String()
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
		e := Entry{Time: time.Now().UTC(), Registry: registry, Origin: name, Kind: o.Kind, ClientIP: ip, Principal: info.Principal(),
			Method: r.Method, Path: r.URL.Path, Decision: decision, Rule: d.Rule, Status: rec.Status()}
		audit.record(e)
		httpx.LoggerOr(r.Context(), log).Info("access", "registry", registry, "origin", name, "ip", ip, "principal", e.Principal,
			"method", r.Method, "path", r.URL.Path, "decision", decision, "rule", d.Rule, "status", e.Status)
	})
}
