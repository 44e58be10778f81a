package emulator

// Registries as served: their handler chains, Host-based dispatch and network rules.

import (
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/arm"
	"github.com/acr-emulator/acr-emulator/emulator/internal/hostguard"
	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/acr-emulator/acr-emulator/emulator/storage"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/emulator/token"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/acr-emulator/acr-emulator/fakes/entra"
	"github.com/acr-emulator/acr-emulator/fakes/imds"
)

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

// worldRegistryInfo is how a world's registry served on port is reached.
func (e *Emulator) worldRegistryInfo(name string, port int) RegistryInfo {
	login := "localhost:" + strconv.Itoa(port)
	if e.world.LoginServerSuffix != "" {
		login = name + e.world.LoginServerSuffix
	}
	return RegistryInfo{Name: name, LoginServer: login, URL: "https://localhost:" + strconv.Itoa(port)}
}

// registryRecord is a world registry's record as the world declares it.
func (e *Emulator) registryRecord(wr world.Registry, login string) *store.Registry {
	name := wr.Name
	rec := &store.Registry{
		Name: name, LoginServer: login, ID: e.world.RegistryID(name), SKU: wr.SKU, Location: wr.Location, RetentionDays: 7, Tags: maps.Clone(wr.Tags),
		AdminUserEnabled: wr.AdminUserEnabled, AdminUsername: name,
		AdminPasswords:       [2]string{orRandom(wr.AdminPassword), orRandom(wr.AdminPassword2)},
		AnonymousPullEnabled: wr.AnonymousPullEnabled, AuthAsARM: wr.AuthenticationAsArm == nil || *wr.AuthenticationAsArm,
		RoleAssignmentMode:  wr.RoleAssignmentMode,
		PublicNetworkAccess: wr.PublicNetworkAccess != "Disabled",
		DefaultActionAllow:  wr.NetworkRuleSet == nil || wr.NetworkRuleSet.DefaultAction != "Deny",
		BypassAzureServices: wr.NetworkRuleBypassOptions != "None",
		BypassForTasks:      wr.NetworkRuleBypassAllowedForTasks,
		DataEndpointEnabled: wr.DataEndpointEnabled,
	}
	if wr.NetworkRuleSet != nil {
		rec.IPRules = append([]string(nil), wr.NetworkRuleSet.IPRules...)
	}
	if p := wr.Policies; p != nil {
		on := func(st *world.PolicyStatus, set *bool) {
			if st != nil {
				*set = st.Status == "enabled"
			}
		}
		exportEnabled := true
		on(p.ExportPolicy, &exportEnabled)
		rec.ExportDisabled = !exportEnabled
		on(p.QuarantinePolicy, &rec.QuarantineEnabled)
		on(p.TrustPolicy, &rec.TrustEnabled)
		if rp := p.RetentionPolicy; rp != nil {
			on(&world.PolicyStatus{Status: rp.Status}, &rec.RetentionEnabled)
			if rp.Days != nil {
				rec.RetentionDays = *rp.Days
			}
		}
	}
	return rec
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
	e.serveCreated(rec)
	return nil
}

// serveCreated serves a registry that is not one of the world's (created through ARM).
func (e *Emulator) serveCreated(rec *store.Registry) {
	sr := &servedRegistry{info: RegistryInfo{Name: rec.Name, LoginServer: rec.LoginServer, URL: "https://" + rec.LoginServer}, port: -1}
	e.serveRegistry(sr, rec)
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
		registry.WithMaxUploadBytes(e.maxUploadBytes()),
		registry.WithEventHook(func(ev registry.Event) {
			svc := e.services()
			if ev.Action == registry.EventPush {
				svc.defender.OnPush(rec.ID, rec.LoginServer, ev.Repo, ev.Digest.String(), ev.MediaType)
			}
			svc.webhooks.Notify(name, ev)
		}),
		registry.WithBlobRedirect(e.blobRedirect(name)),
		registry.WithUpstream(e.cache.For(name)),
	)
	gated := e.tokens.Protect(name, requiredScope, content.Handler())
	tokens := e.tokens.Handler(name)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token.IsTokenPath(r.URL.Path) {
			tokens.ServeHTTP(w, r)
			return
		}
		gated.ServeHTTP(w, r)
	})
	gate := func(member func(r *http.Request) string, next http.Handler) http.Handler {
		return network.Gate(network.GateConfig{Registry: name, RegistryID: rec.ID, Rules: func() (network.Rules, error) { return e.rules(name) },
			Route: e.privateRoute(name, member), Audit: e.audit, Log: e.log}, next)
	}
	// Injected faults come first: a failing registry fails before its network checks.
	sr.handler = e.faults.Middleware(name, writeFault, gate(func(*http.Request) string { return arm.RegistryGroup }, inner))
	// Data endpoints answer under the same network rules, each region as its own member of a
	// private endpoint.
	sr.data = e.faults.Middleware(name, writeFault, gate(func(r *http.Request) string {
		region, _ := r.Context().Value(dataRegionKey{}).(string)
		return arm.DataMember(region)
	}, e.dataEndpoint(name, content)))
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

// dispatch routes a request to the control endpoints or to a registry by Host header, falling
// back to the listener's own registry (own != nil) or the main registry.
func (e *Emulator) dispatch(own *servedRegistry) http.Handler {
	control := http.NewServeMux()
	e.controlRoutes(control)
	// No ServeMux in front of the registry: it would answer unclean paths (.., //) with
	// redirects, where the registry must answer NAME_INVALID itself.
	// Every state-changing control endpoint refuses cross-site requests, as the portal's forms
	// do: a page elsewhere must not reset or reshape the emulator.
	controlled := http.NewCrossOriginProtection().Handler(control)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !e.hosts.Allowed(r.Host, e.servesHost) {
			writeHostRefused(w, r)
			return
		}
		if strings.HasPrefix(r.URL.Path, "/_emulator/") {
			controlled.ServeHTTP(w, r)
			return
		}
		if sr, dr, named := e.dataEndpointFor(r); named {
			if sr == nil {
				httpx.WriteRegistryError(w, r, httpx.NewRegistryError(http.StatusNotFound, "NAME_UNKNOWN", "no data endpoint is served at that name"))
				return
			}
			sr.data.ServeHTTP(w, dr)
			return
		}
		switch {
		case e.services().storage.Serves(r):
			// Not behind the registry's network rules: storage links are guarded by their SAS.
			if redirectedDownload(r) {
				// A path-style download link on the emulator's own name shares the registry's
				// host, so clients treat it as the registry: they send its Authorization along,
				// and its scheme when they reached it over plain HTTP (go-containerregistry does
				// for localhost). On Azure the link leaves the registry's host and they do
				// neither, so neither counts here. Storage refuses a forwarded token, or plain
				// HTTP, on the account's own name (through the proxies) and on every other link.
				r.Header.Del("Authorization")
				if r.TLS == nil {
					r.TLS = &tls.ConnectionState{HandshakeComplete: true}
				}
			}
			e.services().storage.ServeHTTP(w, r)
			return
		case entra.IsEntraPath(r.URL.Path):
			e.entra.ServeHTTP(w, r)
			return
		case imds.IsIdentityPath(r.URL.Path):
			e.imds.ServeHTTP(w, r)
			return
		case arm.IsARMPath(r.URL.Path):
			e.services().arm.ServeHTTP(w, r)
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

// accountURL is where the client that made r reaches a storage account (storage.AccountURL):
// a client that came through one of the emulator's proxies for an Azure name gets the
// account's real name; others get the path-style form on the host they used.
func (e *Emulator) accountURL(r *http.Request, account string) string {
	o, _ := network.OriginFrom(r.Context())
	return storage.AccountURL(account, r.Host, r.TLS != nil, o.Name != "", e.HTTPSURL())
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

// servesHost reports whether a host is a served registry's login server (registries come and
// go through ARM).
func (e *Emulator) servesHost(host string) bool {
	e.mu.RLock()
	defer e.mu.RUnlock()
	_, ok := e.byHost[host]
	return ok
}

// ownHosts are the dotted names the emulator answers: the Azure names it emulates, its
// registries', the configured ones and this machine's name.
func ownHosts(cfg Config) *hostguard.Names {
	n := hostguard.New("*.azurecr.io", "*.blob.core.windows.net", "login.microsoftonline.com", "login.windows.net",
		"login.microsoft.com", "sts.windows.net", "management.azure.com", "management.core.windows.net")
	if cfg.World != nil {
		if s := cfg.World.LoginServerSuffix; s != "" {
			n.Add("*." + strings.TrimPrefix(s, "."))
		}
		n.Add(cfg.World.AllowedHosts...)
	}
	if h, _, err := net.SplitHostPort(cfg.HTTPSAddr); err == nil {
		n.Add(h)
	}
	if h, err := os.Hostname(); err == nil {
		n.Add(h)
	}
	n.Add(cfg.AllowedHosts...)
	return n
}

// writeHostRefused answers a request for a name the emulator does not own (a DNS rebinding
// page, or a name the operator has not allowed yet), saying how to allow it.
func writeHostRefused(w http.ResponseWriter, r *http.Request) {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	msg := fmt.Sprintf("acr-emulator does not serve the host name %q (DNS rebinding protection). To allow it, "+
		"start the emulator with --allowed-hosts %s (or ACR_EMULATOR_ALLOWED_HOSTS, or allowedHosts in the world file).", host, host)
	if strings.HasPrefix(r.URL.Path, "/v2/") || strings.HasPrefix(r.URL.Path, "/acr/") || strings.HasPrefix(r.URL.Path, "/oauth2/") {
		httpx.WriteRegistryError(w, r, httpx.NewRegistryError(http.StatusMisdirectedRequest, "DENIED", msg))
		return
	}
	http.Error(w, msg, http.StatusMisdirectedRequest)
}
