package network

import (
	"net/netip"
	"testing"
)

const (
	thisRegistry  = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/myregistry"
	otherRegistry = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/other"
)

// TestDecideEveryCombination checks each origin against all 8 combinations of
// publicNetworkAccess x defaultAction x networkRuleBypassOptions, in this order:
//
//	PNA Enabled:  DA Allow (bypass on, off), DA Deny (bypass on, off)
//	PNA Disabled: DA Allow (bypass on, off), DA Deny (bypass on, off)
//
// "A" allowed, "D" denied. The expectations are the spec's decision table, written per origin.
func TestDecideEveryCombination(t *testing.T) {
	listed := netip.MustParseAddr("203.0.113.10")
	other := netip.MustParseAddr("198.51.100.7")
	ipRules := []string{"203.0.113.0/28", "192.0.2.1"}
	svc := func(name string, system bool) Origin {
		return Origin{Kind: AzureService, Service: name, SystemIdentity: system, IP: netip.MustParseAddr("20.0.0.1")}
	}
	tests := []struct {
		origin  string
		o       Origin
		current bool // "current Azure" profile
		tasks   bool // networkRuleBypassAllowedForTasks
		want    string
	}{
		{origin: "internet, IP in ipRules", o: Origin{Kind: Internet, IP: listed}, want: "AAAADDDD"},
		{origin: "internet, IP listed as a single address", o: Origin{Kind: Internet, IP: netip.MustParseAddr("192.0.2.1")}, want: "AAAADDDD"},
		{origin: "internet, other IP", o: Origin{Kind: Internet, IP: other}, want: "AADDDDDD"},
		{origin: "private endpoint of this registry", o: Origin{Kind: PrivateEndpoint, PrivateEndpoints: []string{thisRegistry}, IP: other}, want: "AAAAAAAA"},
		{origin: "private endpoint of another registry", o: Origin{Kind: PrivateEndpoint, PrivateEndpoints: []string{otherRegistry}, IP: other}, want: "AADDDDDD"},
		{origin: "private endpoint, name missing from the VNet's DNS", o: Origin{Kind: PrivateEndpoint, Unresolved: []string{thisRegistry}, IP: other}, want: "AADDDDDD"},
		{origin: "private endpoint, name missing from the VNet's DNS, outbound IP listed", o: Origin{Kind: PrivateEndpoint, Unresolved: []string{thisRegistry}, IP: listed}, want: "AAAADDDD"},
		{origin: "ACI", o: svc(ServiceACI, false), want: "AAADADAD"},
		{origin: "Defender for Cloud", o: svc(ServiceDefender, false), want: "AAADADAD"},
		{origin: "Machine Learning", o: svc(ServiceML, false), want: "AAADADAD"},
		{origin: "ACR import", o: svc(ServiceImport, false), want: "AAADADAD"},
		{origin: "ACR Tasks, system identity (seed profile)", o: svc(ServiceTasks, true), want: "AAADADAD"},
		{origin: "ACR Tasks, system identity (current Azure)", o: svc(ServiceTasks, true), current: true, want: "AADDDDDD"},
		{origin: "ACR Tasks, system identity (current Azure, tasks bypass on)", o: svc(ServiceTasks, true), current: true, tasks: true, want: "AAADADAD"},
		{origin: "ACR Tasks, user identity (current Azure)", o: svc(ServiceTasks, false), current: true, want: "AAADADAD"},
		{origin: "App Service, outbound IP not listed", o: Origin{Kind: AzureService, Service: ServiceAppService, IP: other}, want: "AADDDDDD"},
		{origin: "App Service, outbound IP listed", o: Origin{Kind: AzureService, Service: ServiceAppService, IP: listed}, want: "AAAADDDD"},
		// Not on ACR's trusted-services list: only their outbound IP or a private endpoint helps.
		{origin: "Container Apps, outbound IP not listed", o: Origin{Kind: AzureService, Service: ServiceContainerApps, IP: other}, want: "AADDDDDD"},
		{origin: "AKS, outbound IP listed", o: Origin{Kind: AzureService, Service: ServiceAKS, IP: listed}, want: "AAAADDDD"},
		{origin: "AKS in a VNet with a private endpoint", o: Origin{Kind: PrivateEndpoint, Service: ServiceAKS, PrivateEndpoints: []string{thisRegistry}, IP: other}, want: "AAAAAAAA"},
		{origin: "ACI, public side (username/password)", o: svc(ServiceACIPublic, false), want: "AADDDDDD"},
		{origin: "ACR import, public side (registryUri)", o: svc(ServiceImportPublic, false), want: "AADDDDDD"},
		// The artifact cache fills a restricted registry only by the trusted bypass.
		{origin: "artifact cache filling the registry", o: svc(ServiceArtifactCache, false), want: "AAADADAD"},
		{origin: "artifact cache reading an upstream registry", o: svc(ServiceArtifactCachePublic, false), want: "AADDDDDD"},
	}
	for _, tc := range tests {
		t.Run(tc.origin, func(t *testing.T) {
			got := ""
			for _, pna := range []bool{true, false} {
				for _, allow := range []bool{true, false} {
					for _, byp := range []bool{true, false} {
						d := Decide(tc.o, thisRegistry, Rules{PublicNetworkAccess: pna, DefaultAllow: allow, IPRules: ipRules,
							BypassAzureServices: byp, BypassForTasks: tc.tasks, CurrentAzure: tc.current})
						if d.Rule == "" {
							t.Fatalf("decision without a rule: %+v", d)
						}
						if d.Allowed {
							got += "A"
						} else {
							got += "D"
						}
					}
				}
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestDecisionRules(t *testing.T) {
	ip := netip.MustParseAddr("198.51.100.7")
	tests := []struct {
		o    Origin
		r    Rules
		rule string
	}{
		{Origin{Kind: Internet, IP: ip}, Rules{PublicNetworkAccess: false}, RulePublicAccessDisabled},
		{Origin{Kind: Internet, IP: ip}, Rules{PublicNetworkAccess: true, DefaultAllow: true}, RuleDefaultActionAllow},
		{Origin{Kind: Internet, IP: ip}, Rules{PublicNetworkAccess: true, IPRules: []string{"198.51.100.0/24"}}, RuleIPRule},
		{Origin{Kind: Internet, IP: ip}, Rules{PublicNetworkAccess: true}, RuleDefaultActionDeny},
		{Origin{Kind: PrivateEndpoint, PrivateEndpoints: []string{thisRegistry}}, Rules{}, RulePrivateEndpoint},
		{Origin{Kind: PrivateEndpoint, PrivateEndpoints: []string{otherRegistry}, IP: ip}, Rules{PublicNetworkAccess: true}, RulePrivateEndpointOther},
		{Origin{Kind: PrivateEndpoint, Unresolved: []string{thisRegistry}, IP: ip}, Rules{}, RulePrivateDNSMissing},
		{Origin{Kind: PrivateEndpoint, Unresolved: []string{thisRegistry}, IP: ip}, Rules{PublicNetworkAccess: true}, RulePrivateDNSMissing},
		{Origin{Kind: PrivateEndpoint, Unresolved: []string{thisRegistry}, IP: ip}, Rules{PublicNetworkAccess: true, DefaultAllow: true}, RuleDefaultActionAllow},
		{Origin{Kind: PrivateEndpoint, Unresolved: []string{otherRegistry}, IP: ip}, Rules{}, RulePublicAccessDisabled},
		{Origin{Kind: AzureService, Service: ServiceACI}, Rules{BypassAzureServices: true}, RuleTrustedService},
		{Origin{Kind: AzureService, Service: ServiceTasks, SystemIdentity: true}, Rules{PublicNetworkAccess: true, BypassAzureServices: true, CurrentAzure: true}, RuleTasksBypassNotAllowed},
	}
	for _, tc := range tests {
		if d := Decide(tc.o, thisRegistry, tc.r); d.Rule != tc.rule {
			t.Errorf("%+v under %+v: rule %s, want %s", tc.o, tc.r, d.Rule, tc.rule)
		}
	}
}

func TestParseIPRule(t *testing.T) {
	for v, ok := range map[string]bool{
		"203.0.113.10": true, "203.0.113.0/24": true, "10.0.0.0/8": true,
		"2001:db8::1": false, "2001:db8::/32": false, "300.1.1.1": false, "1.2.3.4/33": false, "": false, "abc": false,
	} {
		if _, err := ParseIPRule(v); (err == nil) != ok {
			t.Errorf("ParseIPRule(%q) err = %v, want ok %v", v, err, ok)
		}
	}
	// CIDRs with host bits set are normalised, as Azure stores them.
	p, _ := ParseIPRule("203.0.113.77/24")
	if p.String() != "203.0.113.0/24" {
		t.Errorf("masked = %s", p)
	}
}
