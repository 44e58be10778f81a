// Package world describes what an emulator starts with: tenant, subscription and registries.
// A world is loaded from a YAML or JSON file (--config) or is the embedded default world, whose
// well-known ids and secrets the README documents.
package world

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
)

//go:embed default.yaml
var defaultWorld []byte

// World is the initial state of an emulator.
type World struct {
	TenantID       string `json:"tenantId" yaml:"tenantId"`
	SubscriptionID string `json:"subscriptionId" yaml:"subscriptionId"`
	ResourceGroup  string `json:"resourceGroup" yaml:"resourceGroup"`
	Location       string `json:"location" yaml:"location"`
	// LoginServerSuffix, when set (e.g. ".azurecr.io"), makes each registry's login server
	// <name><suffix>, routed by the Host header: for docker compose networks and clients that
	// bring their own name resolution. Empty: login servers are localhost:<port>.
	LoginServerSuffix string `json:"loginServerSuffix,omitempty" yaml:"loginServerSuffix,omitempty"`
	// AllowedHosts are host names the emulator serves besides its own (see emulator.Config).
	AllowedHosts      []string           `json:"allowedHosts,omitempty" yaml:"allowedHosts,omitempty"`
	Registries        []Registry         `json:"registries" yaml:"registries"`
	ServicePrincipals []ServicePrincipal `json:"servicePrincipals,omitempty" yaml:"servicePrincipals,omitempty"`
	RoleAssignments   []RoleAssignment   `json:"roleAssignments,omitempty" yaml:"roleAssignments,omitempty"`
	ManagedIdentities []ManagedIdentity  `json:"managedIdentities,omitempty" yaml:"managedIdentities,omitempty"`
	ComputeResources  []ComputeResource  `json:"computeResources,omitempty" yaml:"computeResources,omitempty"`
	Origins           []Origin           `json:"origins,omitempty" yaml:"origins,omitempty"`
	// LocalClientIP is the public IP a direct connection from this machine is seen as (default:
	// its real address, 127.0.0.1). Firewall rules are written against it.
	LocalClientIP string `json:"localClientIP,omitempty" yaml:"localClientIP,omitempty"`
	// Profile "current" follows Azure since 2025 (ACR Tasks are no longer trusted unless
	// networkRuleBypassAllowedForTasks; ACI pulls only with user-assigned identities); the
	// default "seed" follows the trusted-services document.
	Profile string `json:"profile,omitempty" yaml:"profile,omitempty"`
}

// ManagedIdentity is a user-assigned managed identity (Microsoft.ManagedIdentity/userAssignedIdentities).
type ManagedIdentity struct {
	Name        string `json:"name" yaml:"name"`
	ClientID    string `json:"clientId,omitempty" yaml:"clientId,omitempty"`       // default: derived from the name
	PrincipalID string `json:"principalId,omitempty" yaml:"principalId,omitempty"` // default: derived from the name
}

// ComputeResource is a local stand-in for an Azure compute resource (a "workstation VM"), so
// code using azidentity's ManagedIdentityCredential works from a developer's shell: its
// managed-identity endpoint is the emulator's, selected by IdentityHeader.
type ComputeResource struct {
	Name string `json:"name" yaml:"name"`
	Type string `json:"type,omitempty" yaml:"type,omitempty"` // default Microsoft.Compute/virtualMachines
	// SystemAssignedIdentity gives the resource its own identity (principal id derived from
	// the name unless SystemPrincipalID is set).
	SystemAssignedIdentity bool     `json:"systemAssignedIdentity,omitempty" yaml:"systemAssignedIdentity,omitempty"`
	SystemPrincipalID      string   `json:"systemPrincipalId,omitempty" yaml:"systemPrincipalId,omitempty"`
	UserAssignedIdentities []string `json:"userAssignedIdentities,omitempty" yaml:"userAssignedIdentities,omitempty"` // names
	// IdentityHeader is the IDENTITY_HEADER value that selects this resource.
	IdentityHeader string `json:"identityHeader" yaml:"identityHeader"`
	// IMDS makes this the resource the plain IMDS endpoint (169.254.169.254) speaks for.
	IMDS bool `json:"imds,omitempty" yaml:"imds,omitempty"`
}

// NetworkRuleSet is the registry firewall.
type NetworkRuleSet struct {
	DefaultAction string   `json:"defaultAction,omitempty" yaml:"defaultAction,omitempty"` // Allow (default) or Deny
	IPRules       []string `json:"ipRules,omitempty" yaml:"ipRules,omitempty"`             // IPv4 addresses or CIDRs
}

// Origin is a named place requests can come from, entered through its own proxy listener
// (HTTPS_PROXY=http://127.0.0.1:<port>): an internet client with a public IP, or a VNet that
// reaches registries through private endpoints.
type Origin struct {
	Name string `json:"name" yaml:"name"`
	// IP is the public IP the registries see (for a VNet: its outbound IP to public endpoints).
	IP string `json:"ip,omitempty" yaml:"ip,omitempty"`
	// VNet makes the origin a virtual network (named after the origin), where private
	// endpoints can be created through ARM; PrivateEndpoints implies it.
	VNet bool `json:"vnet,omitempty" yaml:"vnet,omitempty"`
	// PrivateEndpoints names the registries this VNet has approved private endpoints to.
	PrivateEndpoints []string `json:"privateEndpoints,omitempty" yaml:"privateEndpoints,omitempty"`
	// Port of the proxy listener (0: a free port, printed at start).
	Port int `json:"port,omitempty" yaml:"port,omitempty"`
}

// ServicePrincipal is an Entra application with a client secret.
type ServicePrincipal struct {
	Name     string `json:"name" yaml:"name"`
	ClientID string `json:"clientId" yaml:"clientId"`
	ObjectID string `json:"objectId,omitempty" yaml:"objectId,omitempty"` // default: derived from the client id
	Secret   string `json:"secret" yaml:"secret"`
}

// RoleAssignment grants a built-in role (name or GUID) to a principal (name, client id or
// object id) at a scope: "subscription", "resourceGroup", a registry name, or a full ARM id.
type RoleAssignment struct {
	Principal string `json:"principal" yaml:"principal"`
	Role      string `json:"role" yaml:"role"`
	Scope     string `json:"scope" yaml:"scope"`
}

// Registry is one container registry of the world.
type Registry struct {
	Name             string `json:"name" yaml:"name"`
	SKU              string `json:"sku,omitempty" yaml:"sku,omitempty"`
	AdminUserEnabled bool   `json:"adminUserEnabled,omitempty" yaml:"adminUserEnabled,omitempty"`
	AdminPassword    string `json:"adminPassword,omitempty" yaml:"adminPassword,omitempty"`
	AdminPassword2   string `json:"adminPassword2,omitempty" yaml:"adminPassword2,omitempty"`
	// AnonymousPullEnabled lets anyone pull (Standard and Premium only, as on Azure).
	AnonymousPullEnabled bool `json:"anonymousPullEnabled,omitempty" yaml:"anonymousPullEnabled,omitempty"`
	// AuthenticationAsArm (default true) lets /oauth2/exchange accept ARM-audience Entra tokens.
	AuthenticationAsArm *bool `json:"authenticationAsArm,omitempty" yaml:"authenticationAsArm,omitempty"`
	// RoleAssignmentMode: LegacyRegistryPermissions (default) or AbacRepositoryPermissions.
	RoleAssignmentMode string `json:"roleAssignmentMode,omitempty" yaml:"roleAssignmentMode,omitempty"`
	// Network rules, as ARM names them (Premium only, except the trusted-services switch).
	PublicNetworkAccess              string          `json:"publicNetworkAccess,omitempty" yaml:"publicNetworkAccess,omitempty"` // Enabled (default) or Disabled
	NetworkRuleSet                   *NetworkRuleSet `json:"networkRuleSet,omitempty" yaml:"networkRuleSet,omitempty"`
	NetworkRuleBypassOptions         string          `json:"networkRuleBypassOptions,omitempty" yaml:"networkRuleBypassOptions,omitempty"` // AzureServices (default) or None
	NetworkRuleBypassAllowedForTasks bool            `json:"networkRuleBypassAllowedForTasks,omitempty" yaml:"networkRuleBypassAllowedForTasks,omitempty"`
	// Port gives the registry an HTTPS listener of its own on the emulator's host, so its
	// login server is localhost:<port>. 0: the registry is served on the main HTTPS listener
	// (one registry only may do so).
	Port int `json:"port,omitempty" yaml:"port,omitempty"`
}

// Default returns the embedded default world.
func Default() *World {
	w, err := Parse(defaultWorld, "default.yaml")
	if err != nil {
		panic(fmt.Sprintf("world: embedded default world is invalid: %v", err))
	}
	return w
}

// Load reads a world file; .json files are JSON, anything else YAML.
func Load(path string) (*World, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b, path)
}

// Parse decodes and validates a world. Unknown fields are errors, so typos do not pass silently.
func Parse(b []byte, name string) (*World, error) {
	var w World
	var err error
	if strings.HasSuffix(strings.ToLower(name), ".json") {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err = dec.Decode(&w)
	} else {
		err = yaml.UnmarshalWithOptions(b, &w, yaml.Strict())
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if err := w.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &w, nil
}

// Registry names follow ARM's rule: 5-50 alphanumerics (ACR lowercases login servers; the
// emulator requires lowercase so names and login servers agree).
var registryNameRE = regexp.MustCompile(`^[a-z0-9]{5,50}$`)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

var ipv4RuleRE = regexp.MustCompile(`^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)(/([0-9]|[12]\d|3[0-2]))?$`)

var skus = map[string]bool{"Basic": true, "Standard": true, "Premium": true}

func (w *World) validate() error {
	if len(w.Registries) == 0 {
		return fmt.Errorf("registries: at least one registry is required")
	}
	names := map[string]bool{}
	ports := map[int]bool{}
	onMain := 0
	for i := range w.Registries {
		r := &w.Registries[i]
		if !registryNameRE.MatchString(r.Name) {
			return fmt.Errorf("registries[%d].name %q: must be 5-50 lowercase letters and digits", i, r.Name)
		}
		if names[r.Name] {
			return fmt.Errorf("registries[%d].name %q: defined twice", i, r.Name)
		}
		names[r.Name] = true
		if r.SKU == "" {
			r.SKU = "Premium"
		}
		if !skus[r.SKU] {
			return fmt.Errorf("registries[%d].sku %q: must be Basic, Standard or Premium", i, r.SKU)
		}
		switch {
		case r.Port < 0 || r.Port > 65535:
			return fmt.Errorf("registries[%d].port %d: out of range", i, r.Port)
		case r.Port == 0:
			onMain++
		case ports[r.Port]:
			return fmt.Errorf("registries[%d].port %d: used twice", i, r.Port)
		}
		ports[r.Port] = true
	}
	for i := range w.Registries {
		r := &w.Registries[i]
		if r.NetworkRuleSet == nil {
			r.NetworkRuleSet = &NetworkRuleSet{}
		}
		for _, e := range []struct {
			field string
			v     *string
			enum  []string // the first value is the default
		}{
			{"roleAssignmentMode", &r.RoleAssignmentMode, []string{"LegacyRegistryPermissions", "AbacRepositoryPermissions"}},
			{"publicNetworkAccess", &r.PublicNetworkAccess, []string{"Enabled", "Disabled"}},
			{"networkRuleBypassOptions", &r.NetworkRuleBypassOptions, []string{"AzureServices", "None"}},
			{"networkRuleSet.defaultAction", &r.NetworkRuleSet.DefaultAction, []string{"Allow", "Deny"}},
		} {
			if err := defaultEnum(e.v, e.enum); err != nil {
				return fmt.Errorf("registries[%d].%s %w", i, e.field, err)
			}
		}
		restricted := r.PublicNetworkAccess == "Disabled" || r.NetworkRuleSet.DefaultAction == "Deny" || len(r.NetworkRuleSet.IPRules) > 0
		if restricted && r.SKU != "Premium" {
			return fmt.Errorf("registries[%d]: network rules and disabling public network access need the Premium SKU", i)
		}
		if len(r.NetworkRuleSet.IPRules) > 200 {
			return fmt.Errorf("registries[%d].networkRuleSet.ipRules: at most 200 rules", i)
		}
		for _, ip := range r.NetworkRuleSet.IPRules {
			if !ipv4RuleRE.MatchString(ip) {
				return fmt.Errorf("registries[%d].networkRuleSet.ipRules: %q is not an IPv4 address or CIDR range", i, ip)
			}
		}
		if r.AnonymousPullEnabled && r.SKU == "Basic" {
			return fmt.Errorf("registries[%d]: anonymous pull needs the Standard or Premium SKU", i)
		}
	}
	principals := map[string]bool{}
	for i, sp := range w.ServicePrincipals {
		if sp.Name == "" || !guidRE.MatchString(sp.ClientID) || (sp.ObjectID != "" && !guidRE.MatchString(sp.ObjectID)) || sp.Secret == "" {
			return fmt.Errorf("servicePrincipals[%d]: name, a GUID clientId and a secret are required (objectId, if given, is a GUID)", i)
		}
		for _, k := range []string{sp.Name, strings.ToLower(sp.ClientID), strings.ToLower(sp.ObjectID)} {
			if k != "" && principals[k] {
				return fmt.Errorf("servicePrincipals[%d]: %q is used twice", i, k)
			}
			principals[k] = true
		}
	}
	identities := map[string]bool{}
	for i, mi := range w.ManagedIdentities {
		if mi.Name == "" || (mi.ClientID != "" && !guidRE.MatchString(mi.ClientID)) || (mi.PrincipalID != "" && !guidRE.MatchString(mi.PrincipalID)) {
			return fmt.Errorf("managedIdentities[%d]: a name is required; clientId and principalId, if given, are GUIDs", i)
		}
		if identities[mi.Name] || principals[mi.Name] {
			return fmt.Errorf("managedIdentities[%d]: %q is used twice", i, mi.Name)
		}
		identities[mi.Name] = true
	}
	headers, imds := map[string]bool{}, 0
	for i := range w.ComputeResources {
		c := &w.ComputeResources[i]
		if c.Name == "" || c.IdentityHeader == "" || headers[c.IdentityHeader] {
			return fmt.Errorf("computeResources[%d]: a name and a unique identityHeader are required", i)
		}
		headers[c.IdentityHeader] = true
		if c.Type == "" {
			c.Type = "Microsoft.Compute/virtualMachines"
		}
		for _, u := range c.UserAssignedIdentities {
			if !identities[u] {
				return fmt.Errorf("computeResources[%d]: unknown user-assigned identity %q", i, u)
			}
		}
		if c.IMDS {
			imds++
		}
	}
	if imds > 1 {
		return fmt.Errorf("computeResources: only one resource can answer the IMDS endpoint")
	}
	for i, ra := range w.RoleAssignments {
		if ra.Principal == "" || ra.Role == "" || ra.Scope == "" {
			return fmt.Errorf("roleAssignments[%d]: principal, role and scope are required", i)
		}
	}
	switch w.Profile {
	case "":
		w.Profile = "seed"
	case "seed", "current":
	default:
		return fmt.Errorf("profile %q: must be seed or current", w.Profile)
	}
	originNames := map[string]bool{}
	for i, o := range w.Origins {
		if o.Name == "" || originNames[o.Name] || (o.IP != "" && !ipv4RuleRE.MatchString(o.IP)) || strings.Contains(o.IP, "/") {
			return fmt.Errorf("origins[%d]: a unique name is required, and ip, if given, is an IPv4 address", i)
		}
		originNames[o.Name] = true
		for _, pe := range o.PrivateEndpoints {
			if !names[pe] {
				return fmt.Errorf("origins[%d].privateEndpoints: unknown registry %q", i, pe)
			}
		}
	}
	if w.LocalClientIP != "" && (!ipv4RuleRE.MatchString(w.LocalClientIP) || strings.Contains(w.LocalClientIP, "/")) {
		return fmt.Errorf("localClientIP %q: must be an IPv4 address", w.LocalClientIP)
	}
	if onMain > 1 && w.LoginServerSuffix == "" {
		return fmt.Errorf("registries: %d registries have no port; only one can use the main HTTPS listener (give the others a port, or set loginServerSuffix)", onMain)
	}
	return nil
}

// defaultEnum sets an empty *v to enum[0] and checks a set one is one of enum.
func defaultEnum(v *string, enum []string) error {
	if *v == "" {
		*v = enum[0]
		return nil
	}
	for _, e := range enum {
		if *v == e {
			return nil
		}
	}
	return fmt.Errorf("%q: must be %s", *v, strings.Join(enum, " or "))
}

// RegistryID is the ARM id of a registry of this world.
func (w *World) RegistryID(name string) string {
	return w.ResourceGroupID() + "/providers/Microsoft.ContainerRegistry/registries/" + name
}

// SubscriptionScope is the ARM id of the subscription.
func (w *World) SubscriptionScope() string { return "/subscriptions/" + w.SubscriptionID }

// ResourceGroupID is the ARM id of the world's resource group.
func (w *World) ResourceGroupID() string {
	return w.SubscriptionScope() + "/resourceGroups/" + w.ResourceGroup
}

// ResolveScope turns a role assignment scope of the world file into an ARM id.
func (w *World) ResolveScope(scope string) string {
	switch {
	case strings.HasPrefix(scope, "/"):
		return scope
	case strings.EqualFold(scope, "subscription"):
		return w.SubscriptionScope()
	case strings.EqualFold(scope, "resourceGroup"):
		return w.ResourceGroupID()
	}
	return w.RegistryID(scope)
}

// ManagedIdentityID is the ARM id of a user-assigned identity of this world.
func (w *World) ManagedIdentityID(name string) string {
	return w.ResourceGroupID() + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
}

// ComputeID is the ARM id of a compute resource of this world.
func (w *World) ComputeID(c ComputeResource) string {
	return w.ResourceGroupID() + "/providers/" + c.Type + "/" + c.Name
}
