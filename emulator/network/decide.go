// Package network decides whether a data-plane request may reach a registry, given where it
// comes from (its origin) and the registry's network rules, as Azure Container Registry does
// (design.md section 3; spec acr-mgmt-trusted.md sections 2, 6 and the decision table).
//
// The decision is a pure function. Origins cannot be forged: a plain connection is an internet
// origin with its TCP peer address; named origins are entered through the emulator's per-origin
// proxies; the Azure-service origin exists only in-process, for the simulated services.
package network

import (
	"net/netip"
	"slices"
	"strings"
)

// Kind of origin.
type Kind string

// Origin kinds.
const (
	Internet        Kind = "internet"
	PrivateEndpoint Kind = "private-endpoint"
	AzureService    Kind = "azure-service"
)

// The simulated Azure services' origins: the trusted services of ACR's list (spec
// acr-mgmt-trusted.md section 2: ACI, Defender for Cloud, Machine Learning, ACR import; ACR
// Tasks as the seed describes), and services users often take for trusted that are not on it
// (App Service, Container Apps, AKS), with the public sides of ACI (username/password pulls)
// and import (registryUri sources), which no bypass covers.
const (
	ServiceACI           = "aci"
	ServiceACIPublic     = "aci-public"
	ServiceDefender      = "defender"
	ServiceTasks         = "tasks"
	ServiceML            = "ml"
	ServiceImport        = "import"
	ServiceImportPublic  = "import-public"
	ServiceAppService    = "appservice"
	ServiceContainerApps = "containerapps"
	ServiceAKS           = "aks"
	// ServiceArtifactCache is ACR's artifact cache filling a registry from an upstream: its
	// trusted access to the registry; ServiceArtifactCachePublic is the cache reading an
	// upstream registry of the emulator over the internet, which no bypass covers.
	ServiceArtifactCache       = "artifactcache"
	ServiceArtifactCachePublic = "artifactcache-public"
)

// Origin is where a request comes from.
type Origin struct {
	Kind Kind
	Name string     // the named origin ("" for a plain connection)
	VNet string     // the VNet a private-endpoint origin lives in
	IP   netip.Addr // the public IP the registry sees (internet, App Service)
	// PrivateEndpoints lists the ARM ids of registries this VNet reaches through an approved
	// private endpoint connection, for the host name of the request: the VNet's DNS resolves
	// that name to the endpoint's private IP.
	PrivateEndpoints []string
	// Unresolved lists the registries this VNet has approved private endpoints to whose name
	// for this request its DNS lacks (a data endpoint's record left out of the private zone):
	// the request goes to the public endpoint, from IP, as on Azure.
	Unresolved []string
	// PrivateIP is the VNet machine's own address, which the registry sees on a request that
	// came through a private endpoint.
	PrivateIP netip.Addr
	Service   string // AzureService: which service
	// SystemIdentity marks an ACR task authenticating with its system-assigned identity: the
	// case Azure stopped trusting in 2025 unless networkRuleBypassAllowedForTasks is set.
	SystemIdentity bool
}

// Rules are a registry's network settings.
type Rules struct {
	PublicNetworkAccess bool     // publicNetworkAccess Enabled
	DefaultAllow        bool     // networkRuleSet.defaultAction Allow
	IPRules             []string // IPv4 addresses or CIDRs
	BypassAzureServices bool     // networkRuleBypassOptions AzureServices
	BypassForTasks      bool     // networkRuleBypassAllowedForTasks
	// CurrentAzure selects the 2025 behaviour: ACR Tasks are no longer a trusted service and
	// pass only with BypassForTasks. The default follows the seed document (Tasks trusted).
	CurrentAzure bool
}

// Decision is the outcome and the rule that decided it, for logs and the audit.
type Decision struct {
	Allowed bool
	Rule    string
}

// Rule names in decisions.
const (
	RulePrivateEndpoint       = "private-endpoint"
	RuleTrustedService        = "trusted-service-bypass"
	RulePublicAccessDisabled  = "public-network-access-disabled"
	RuleDefaultActionAllow    = "default-action-allow"
	RuleIPRule                = "ip-rule"
	RuleDefaultActionDeny     = "default-action-deny"
	RulePrivateEndpointOther  = "private-endpoint-of-another-registry"
	RuleTasksBypassNotAllowed = "tasks-bypass-not-allowed"
	// RulePrivateDNSMissing: the VNet has an approved private endpoint to the registry but
	// resolved this host name publicly, and the public endpoint refused it.
	RulePrivateDNSMissing = "private-dns-record-missing"
)

// trusted reports whether an Azure service may bypass the network rules under r.
func trusted(o Origin, r Rules) (bool, string) {
	switch o.Service {
	case ServiceACI, ServiceDefender, ServiceML, ServiceImport, ServiceArtifactCache:
		return true, RuleTrustedService
	case ServiceTasks:
		if r.CurrentAzure && o.SystemIdentity && !r.BypassForTasks {
			return false, RuleTasksBypassNotAllowed
		}
		return true, RuleTrustedService
	}
	return false, ""
}

// Decide applies design.md section 3 to a request for registry registryID from origin o.
func Decide(o Origin, registryID string, r Rules) Decision {
	if o.Kind == PrivateEndpoint {
		if slices.ContainsFunc(o.PrivateEndpoints, sameID(registryID)) {
			return Decision{true, RulePrivateEndpoint}
		}
		// A VNet without a private endpoint to this registry, or whose DNS resolves the name
		// it asked for publicly, reaches only the public endpoint, through the VNet's outbound
		// IP; the rules below decide.
		if d := public(o, r); !d.Allowed && slices.ContainsFunc(o.Unresolved, sameID(registryID)) {
			return Decision{false, RulePrivateDNSMissing}
		}
	}
	return public(o, r)
}

// public decides a request that reaches the registry's public endpoint.
func public(o Origin, r Rules) Decision {
	restricted := !r.PublicNetworkAccess || !r.DefaultAllow
	if o.Kind == AzureService && restricted && r.BypassAzureServices {
		if ok, rule := trusted(o, r); ok {
			return Decision{true, rule}
		}
	}
	if !r.PublicNetworkAccess {
		return Decision{false, RulePublicAccessDisabled}
	}
	if r.DefaultAllow {
		return Decision{true, RuleDefaultActionAllow}
	}
	if o.IP.IsValid() && inRules(o.IP, r.IPRules) {
		return Decision{true, RuleIPRule}
	}
	if o.Kind == PrivateEndpoint && len(o.PrivateEndpoints) > 0 {
		return Decision{false, RulePrivateEndpointOther}
	}
	if o.Kind == AzureService {
		if _, rule := trusted(o, r); rule == RuleTasksBypassNotAllowed {
			return Decision{false, rule}
		}
	}
	return Decision{false, RuleDefaultActionDeny}
}

func sameID(id string) func(string) bool {
	return func(other string) bool { return strings.EqualFold(other, id) }
}

// inRules reports whether ip matches one of the IPv4 addresses or CIDRs.
func inRules(ip netip.Addr, rules []string) bool {
	ip = ip.Unmap()
	for _, rule := range rules {
		if p, err := ParseIPRule(rule); err == nil && p.Contains(ip) {
			return true
		}
	}
	return false
}

// ParseIPRule parses an ipRules value: an IPv4 address (a /32) or an IPv4 CIDR.
func ParseIPRule(v string) (netip.Prefix, error) {
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil || !p.Addr().Is4() {
			return netip.Prefix{}, errInvalidRule
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(v)
	if err != nil || !a.Is4() {
		return netip.Prefix{}, errInvalidRule
	}
	return netip.PrefixFrom(a, 32), nil
}

type ruleError string

func (e ruleError) Error() string { return string(e) }

const errInvalidRule = ruleError("not an IPv4 address or CIDR range")
