// Package portal serves a web page per registry that mirrors the Azure portal's Networking
// blade: the "Allow public network access" choice, the firewall's address ranges and the
// "Allow trusted Microsoft services to access this container registry" exception, with Save;
// the Private access tab's private endpoint connections; and the registry's recent access
// decisions. Save sends the registry PATCH the Azure portal sends, validated as ARM validates
// it, and the connection buttons set states through ARM's code too.
package portal

import (
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/arm"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Prefix is where the portal is served, beside the other control endpoints.
const Prefix = "/_emulator/portal/"

// Access choices of the "Allow public network access" radio group.
const (
	AccessAll      = "all"
	AccessSelected = "selected"
	AccessDisabled = "disabled"
)

// recentDecisions is how many audit entries the page shows.
const recentDecisions = 25

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.ParseFS(templateFS, "templates/*.html"))

// Config is what the portal needs of the emulator.
type Config struct {
	Store  *store.Store
	Audit  *network.Audit
	Logger *slog.Logger
	// Location is the world's, for registries without one of their own.
	Location string
}

// Handler serves the portal under Prefix.
func Handler(cfg Config) http.Handler {
	p := &portal{cfg: cfg}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"{$}", p.index)
	mux.HandleFunc("GET "+Prefix+"registries/{name}/networking", p.networking)
	mux.HandleFunc("POST "+Prefix+"registries/{name}/networking", p.save)
	mux.HandleFunc("POST "+Prefix+"registries/{name}/privateEndpointConnections/{conn}", p.connectionAction)
	// A page any website could post to from the user's browser must refuse cross-site forms.
	return http.NewCrossOriginProtection().Handler(mux)
}

type portal struct{ cfg Config }

// Networking is the form's state: what the page shows and what Save submits.
type Networking struct {
	Access  string
	IPRules []string
	Trusted bool
	// DataEndpoint is "Enable dedicated data endpoint" (dataEndpointEnabled).
	DataEndpoint bool
}

// NetworkingOf reads the form's state from a registry, as the portal shows it.
func NetworkingOf(reg *store.Registry) Networking {
	n := Networking{Access: AccessSelected, IPRules: slices.Clone(reg.IPRules), Trusted: reg.BypassAzureServices, DataEndpoint: reg.DataEndpointEnabled}
	switch {
	case !reg.PublicNetworkAccess:
		n.Access = AccessDisabled
	case reg.DefaultActionAllow:
		n.Access = AccessAll
	}
	return n
}

// PatchBody is the registry PATCH the portal's Save sends for a form state. Disabled keeps the
// firewall's default action: the firewall applies again when public access comes back.
func PatchBody(n Networking) ([]byte, error) {
	rules := []map[string]string{}
	for _, v := range n.IPRules {
		rules = append(rules, map[string]string{"action": "Allow", "value": v})
	}
	ruleSet := map[string]any{"ipRules": rules}
	props := map[string]any{"networkRuleSet": ruleSet, "networkRuleBypassOptions": "None", "dataEndpointEnabled": n.DataEndpoint}
	if n.Trusted {
		props["networkRuleBypassOptions"] = "AzureServices"
	}
	switch n.Access {
	case AccessAll:
		props["publicNetworkAccess"], ruleSet["defaultAction"] = "Enabled", "Allow"
	case AccessSelected:
		props["publicNetworkAccess"], ruleSet["defaultAction"] = "Enabled", "Deny"
	case AccessDisabled:
		props["publicNetworkAccess"] = "Disabled"
	default:
		return nil, errors.New("choose All networks, Selected networks or Disabled")
	}
	return json.Marshal(map[string]any{"properties": props})
}

func (p *portal) index(w http.ResponseWriter, r *http.Request) {
	regs, err := p.cfg.Store.ListRegistries()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	type row struct {
		Name, LoginServer, SKU string
		Networking             Networking
	}
	var rows []row
	for _, reg := range regs {
		rows = append(rows, row{Name: reg.Name, LoginServer: reg.LoginServer, SKU: reg.SKU, Networking: NetworkingOf(reg)})
	}
	render(w, http.StatusOK, "index.html", map[string]any{"Registries": rows})
}

// page is what networking.html renders.
type page struct {
	Registry  *store.Registry
	Form      Networking
	Premium   bool
	ClientIP  string // the caller's IPv4 address as the registry sees it, offered as a rule
	Saved     bool
	Error     string
	Decisions []network.Entry
	// LockedOut is the caller's address when public access is enabled but the firewall lets
	// nothing of it in (defaultAction Deny, no matching range): what `az acr update
	// --public-network-enabled false` then `true` leaves, as on Azure.
	LockedOut string
	// DataEndpoints are the registry's dedicated data endpoints while they are on (the
	// checkbox, or a private endpoint); ByPrivateEndpoint says a private endpoint keeps them on.
	DataEndpoints     []string
	ByPrivateEndpoint bool
	// Connections are the Private access tab: the registry's private endpoint connections.
	Connections []*store.PrivateEndpoint
	Connection  *store.PrivateEndpoint // the one just approved, rejected or removed
}

func (p *portal) load(w http.ResponseWriter, r *http.Request) *store.Registry {
	reg, err := p.cfg.Store.GetRegistry(strings.ToLower(r.PathValue("name")))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return nil
	}
	if reg == nil {
		render(w, http.StatusNotFound, "notfound.html", map[string]string{"Name": r.PathValue("name")})
	}
	return reg
}

func (p *portal) networking(w http.ResponseWriter, r *http.Request) {
	reg := p.load(w, r)
	if reg == nil {
		return
	}
	p.render(w, r, http.StatusOK, reg, NetworkingOf(reg), r.URL.Query().Get("saved") == "1", "")
}

// connectionActions are the Private access tab's buttons and the state each sets, with the
// description the portal gives it.
var connectionActions = map[string][2]string{
	"approve": {"Approved", "Approved from the portal"},
	"reject":  {"Rejected", "Rejected from the portal"},
	"remove":  {"Disconnected", "Removed by the registry owner"},
}

func (p *portal) connectionAction(w http.ResponseWriter, r *http.Request) {
	reg := p.load(w, r)
	if reg == nil {
		return
	}
	pes, err := arm.Connections(p.cfg.Store, reg)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	i := slices.IndexFunc(pes, func(pe *store.PrivateEndpoint) bool { return strings.EqualFold(pe.ConnectionName, r.PathValue("conn")) })
	action, ok := connectionActions[r.FormValue("action")]
	switch {
	case i < 0:
		p.render(w, r, http.StatusNotFound, reg, NetworkingOf(reg), false, "The private endpoint connection '"+r.PathValue("conn")+"' was not found.")
		return
	case !ok:
		p.render(w, r, http.StatusBadRequest, reg, NetworkingOf(reg), false, "Choose Approve, Reject or Remove.")
		return
	}
	if _, err := arm.SetConnectionState(p.cfg.Store, pes[i], action[0], action[1]); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	p.cfg.Logger.Info("private endpoint connection updated from the portal", "registry", reg.Name, "connection", pes[i].ConnectionName, "status", action[0])
	http.Redirect(w, r, Prefix+"registries/"+reg.Name+"/networking?connection="+pes[i].ConnectionName+"#private-access", http.StatusSeeOther)
}

func (p *portal) save(w http.ResponseWriter, r *http.Request) {
	reg := p.load(w, r)
	if reg == nil {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.render(w, r, http.StatusBadRequest, reg, NetworkingOf(reg), false, "The form could not be read: "+err.Error())
		return
	}
	form := Networking{Access: r.PostForm.Get("access"), Trusted: r.PostForm.Get("trusted") == "on", DataEndpoint: r.PostForm.Get("dataEndpoint") == "on"}
	for _, line := range strings.FieldsFunc(r.PostForm.Get("ipRules"), func(c rune) bool { return c == '\n' || c == '\r' || c == ',' }) {
		if v := strings.TrimSpace(line); v != "" && !slices.Contains(form.IPRules, v) {
			form.IPRules = append(form.IPRules, v)
		}
	}
	if ip := clientIPv4(r); ip != "" && r.PostForm.Get("addClientIP") == "on" && !slices.Contains(form.IPRules, ip) {
		form.IPRules = append(form.IPRules, ip)
	}
	next, err := p.update(reg, form)
	if err != nil {
		// Nothing was stored: show the submitted form again with the reason.
		p.render(w, r, http.StatusBadRequest, reg, form, false, "Failed to update the registry '"+reg.Name+"'. "+message(err))
		return
	}
	n := NetworkingOf(next)
	p.cfg.Logger.Info("registry updated from the portal", "registry", next.Name, "publicNetworkAccess", n.Access, "ipRules", n.IPRules,
		"trustedServices", n.Trusted, "dataEndpointEnabled", n.DataEndpoint)
	http.Redirect(w, r, Prefix+"registries/"+next.Name+"/networking?saved=1", http.StatusSeeOther)
}

// update stores the form's state as ARM would after the portal's PATCH.
func (p *portal) update(reg *store.Registry, form Networking) (*store.Registry, error) {
	body, err := PatchBody(form)
	if err != nil {
		return nil, err
	}
	next, err := arm.Patch(reg, body)
	if err != nil {
		return nil, err
	}
	return next, p.cfg.Store.PutRegistry(next)
}

func (p *portal) render(w http.ResponseWriter, r *http.Request, status int, reg *store.Registry, form Networking, saved bool, errMsg string) {
	decisions := p.cfg.Audit.List(reg.Name, "")
	slices.Reverse(decisions) // newest first
	if len(decisions) > recentDecisions {
		decisions = decisions[:recentDecisions]
	}
	pes, err := arm.Connections(p.cfg.Store, reg)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	pg := page{Registry: reg, Form: form, Premium: reg.SKU == "Premium", ClientIP: clientIPv4(r), Saved: saved, Error: errMsg,
		Decisions: decisions, Connections: pes}
	if arm.DataEndpointsOn(p.cfg.Store, reg) {
		pg.ByPrivateEndpoint = !reg.DataEndpointEnabled
		locs, err := arm.RegistryLocations(p.cfg.Store, reg, p.cfg.Location)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		for _, l := range locs {
			pg.DataEndpoints = append(pg.DataEndpoints, arm.DataEndpointHost(reg.Name, l))
		}
	}
	if o, ok := network.OriginFrom(r.Context()); ok && LockedOut(reg, o) {
		pg.LockedOut = o.IP.String()
	}
	if name := r.URL.Query().Get("connection"); name != "" {
		if i := slices.IndexFunc(pes, func(pe *store.PrivateEndpoint) bool { return pe.ConnectionName == name }); i >= 0 {
			pg.Connection = pes[i]
		}
	}
	render(w, status, "networking.html", pg)
}

// LockedOut reports whether an internet client at o, the one viewing the page, is refused by
// the firewall although public network access is enabled: the state in which users lose their
// own registry without a clear sign on the page.
func LockedOut(reg *store.Registry, o network.Origin) bool {
	if !reg.PublicNetworkAccess || reg.DefaultActionAllow || o.Kind != network.Internet || !o.IP.IsValid() {
		return false
	}
	return !network.Decide(o, reg.ID, network.Rules{PublicNetworkAccess: true, IPRules: reg.IPRules}).Allowed
}

// message is an error's text as the portal shows it: ARM's message without its code.
func message(err error) string {
	if ae, ok := errors.AsType[*arm.Error](err); ok {
		return ae.Message
	}
	return err.Error()
}

// clientIPv4 is the caller's address as the registry's network rules see it (the listener's
// origin, localClientIP applied), when it is IPv4: IP rules take IPv4 only.
func clientIPv4(r *http.Request) string {
	o, ok := network.OriginFrom(r.Context())
	if !ok || o.Kind != network.Internet || !o.IP.Is4() {
		return ""
	}
	return o.IP.String()
}

func render(w http.ResponseWriter, status int, name string, data any) {
	var b strings.Builder
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}
