package arm

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Registry PUT and PATCH bodies (api-version 2025-11-01 and the previews, spec
// acr-mgmt-trusted.md section 1) and the one validation path both take: apply merges a body
// into a copy of the registry (absent = unchanged) and checks the result, SKU rules included.
// The portal's Save goes through it too (Patch).

type sku struct {
	Name string `json:"name"`
	Tier string `json:"tier,omitempty"`
}

type ipRule struct {
	Action string `json:"action,omitempty"`
	Value  string `json:"value"`
}

type vnetRule struct {
	Action string `json:"action,omitempty"`
	ID     string `json:"id"`
	// VirtualNetworkResourceID is how some clients name id.
	VirtualNetworkResourceID string `json:"virtualNetworkResourceId"`
}

type networkRuleSet struct {
	DefaultAction       *string     `json:"defaultAction,omitempty"`
	IPRules             *[]ipRule   `json:"ipRules,omitempty"`
	VirtualNetworkRules *[]vnetRule `json:"virtualNetworkRules,omitempty"`
}

type policyStatus struct {
	Status string `json:"status"`
}

type policies struct {
	AuthAsArm  *policyStatus `json:"azureADAuthenticationAsArmPolicy,omitempty"`
	Export     *policyStatus `json:"exportPolicy,omitempty"`
	Quarantine *policyStatus `json:"quarantinePolicy,omitempty"`
	Trust      *policyStatus `json:"trustPolicy,omitempty"`
	Retention  *struct {
		Status string `json:"status"`
		Days   *int   `json:"days"`
	} `json:"retentionPolicy,omitempty"`
	SoftDelete *struct {
		Status        string `json:"status"`
		RetentionDays *int   `json:"retentionDays"`
	} `json:"softDeletePolicy,omitempty"`
}

type encryptionBody struct {
	Status             string `json:"status"`
	KeyVaultProperties *struct {
		KeyIdentifier string `json:"keyIdentifier"`
		Identity      string `json:"identity"`
	} `json:"keyVaultProperties"`
}

// registryProperties are the writable properties; pointers tell "absent" (unchanged) apart.
type registryProperties struct {
	AdminUserEnabled                 *bool           `json:"adminUserEnabled,omitempty"`
	NetworkRuleSet                   *networkRuleSet `json:"networkRuleSet,omitempty"`
	PublicNetworkAccess              *string         `json:"publicNetworkAccess,omitempty"`
	NetworkRuleBypassOptions         *string         `json:"networkRuleBypassOptions,omitempty"`
	NetworkRuleBypassAllowedForTasks *bool           `json:"networkRuleBypassAllowedForTasks,omitempty"`
	AnonymousPullEnabled             *bool           `json:"anonymousPullEnabled,omitempty"`
	RoleAssignmentMode               *string         `json:"roleAssignmentMode,omitempty"`
	Policies                         *policies       `json:"policies,omitempty"`
	Encryption                       *encryptionBody `json:"encryption,omitempty"`
	DataEndpointEnabled              *bool           `json:"dataEndpointEnabled,omitempty"`
	ZoneRedundancy                   *string         `json:"zoneRedundancy,omitempty"`
	MetadataSearch                   *string         `json:"metadataSearch,omitempty"`
}

type registryBody struct {
	Location   string              `json:"location,omitempty"`
	Tags       map[string]string   `json:"tags,omitempty"`
	SKU        *sku                `json:"sku,omitempty"`
	Identity   *identityBody       `json:"identity,omitempty"`
	Properties *registryProperties `json:"properties,omitempty"`
}

// Patch applies a registry PATCH body to a copy of reg, validated as ARM validates it; the
// portal page's Save sends the body the Azure portal sends.
func Patch(reg *store.Registry, body []byte) (*store.Registry, error) {
	var b registryBody
	if err := unmarshalBody(body, &b); err != nil {
		return nil, err
	}
	return apply(reg.Copy(), b, time.Now().UTC())
}

// decodeRegistry is the registries' Decode: a PUT creates (name, SKU and location required,
// ACR's defaults) or replaces; a PATCH merges. The identity block is resolved here too.
func (a *api) decodeRegistry(c *Call, old *store.Registry, patch bool) (*store.Registry, error) {
	var b registryBody
	if err := c.Decode(&b); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	var base *store.Registry
	switch {
	case patch:
		base = old.Copy()
		// Clients that send the registry back (az acr identity assign) send its zoneRedundancy
		// too: only a change is refused.
		if p := b.Properties; p != nil && p.ZoneRedundancy != nil && strings.EqualFold(*p.ZoneRedundancy, "Enabled") != old.ZoneRedundancy {
			return nil, armError(http.StatusBadRequest, "InvalidRequestContent", "The property 'zoneRedundancy' cannot be updated.")
		}
	case old == nil:
		name := c.ID.Name()
		if !registryNameOK(name) {
			return nil, armError(http.StatusBadRequest, "InvalidResourceName", "Resource name "+name+
				" is invalid. The name can contain only alphanumeric characters and must be between 5 and 50 characters.")
		}
		if b.SKU == nil || b.SKU.Name == "" {
			return nil, armError(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid: 'sku' is required.")
		}
		if b.Location == "" {
			return nil, armError(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition.")
		}
		loc, err := a.checkLocation(b.Location, registryType)
		if err != nil {
			return nil, err
		}
		lower := strings.ToLower(name)
		base = &store.Registry{Name: lower, ID: c.ID.String(), LoginServer: lower + ".azurecr.io", AdminUsername: lower, AuthAsARM: true,
			Location: loc, RetentionDays: 7, SoftDeleteDays: 7, RoleAssignmentMode: "LegacyRegistryPermissions", PublicNetworkAccess: true,
			DefaultActionAllow: true, BypassAzureServices: true, CreatedAt: now, RetentionUpdatedAt: now, SoftDeleteUpdatedAt: now}
	default:
		if loc := normalizeLocation(b.Location); loc != "" && loc != a.location(old) {
			// ARM's text for moving a resource by PUT; its status here is UNCONFIRMED.
			return nil, armError(http.StatusBadRequest, "InvalidResourceLocation", fmt.Sprintf("The resource '%s' already exists in location '%s' in resource group '%s'. "+
				"A resource with the same name cannot be created in location '%s'. Please select a new resource name.", c.ID.Name(), a.location(old), c.ID.ResourceGroup, loc))
		}
		if p := b.Properties; p != nil && p.ZoneRedundancy != nil && strings.EqualFold(*p.ZoneRedundancy, "Enabled") != old.ZoneRedundancy {
			return nil, armError(http.StatusBadRequest, "InvalidRequestContent", "The property 'zoneRedundancy' cannot be updated.")
		}
		base = old.Copy()
		base.Tags = nil // a PUT replaces the resource: tags it does not send are gone
	}
	next, err := apply(base, b, now)
	if err != nil {
		return nil, err
	}
	if err := a.decodeIdentity(next, b.Identity, patch); err != nil {
		return nil, err
	}
	var was store.SystemData
	if old != nil {
		was = registrySystem(old)
	}
	next.System = touch(was, c.Caller, old == nil)
	return next, nil
}

func registryNameOK(n string) bool {
	if len(n) < 5 || len(n) > 50 {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// enumValue matches v against allowed case-insensitively, returning the canonical spelling.
func enumValue(field, v string, allowed ...string) (string, error) {
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return a, nil
		}
	}
	return "", armError(http.StatusBadRequest, "InvalidRequestContent", fmt.Sprintf("The value '%s' of %s is not valid. Allowed values: %s.", v, field, strings.Join(allowed, ", ")))
}

// onOff sets *dst from an enum property that is present.
func onOff(field string, v *string, on string, dst *bool, allowed ...string) error {
	if v == nil {
		return nil
	}
	got, err := enumValue(field, *v, allowed...)
	if err == nil {
		*dst = got == on
	}
	return err
}

// apply merges a PUT/PATCH body into a registry (absent = unchanged) and validates the result.
func apply(reg *store.Registry, b registryBody, now time.Time) (*store.Registry, error) {
	if b.SKU != nil && b.SKU.Name != "" {
		switch b.SKU.Name {
		case "Basic", "Standard", "Premium":
			reg.SKU = b.SKU.Name
		default:
			return nil, armError(http.StatusBadRequest, "InvalidSku", "The SKU '"+b.SKU.Name+"' is not valid. Valid values are Basic, Standard and Premium.")
		}
	}
	if b.Tags != nil { // a PATCH with tags replaces them all, as ARM's does
		reg.Tags = maps.Clone(b.Tags)
	}
	p := b.Properties
	if p == nil {
		p = &registryProperties{}
	}
	for _, f := range []struct {
		v   *bool
		dst *bool
	}{{p.AdminUserEnabled, &reg.AdminUserEnabled}, {p.AnonymousPullEnabled, &reg.AnonymousPullEnabled},
		{p.NetworkRuleBypassAllowedForTasks, &reg.BypassForTasks}, {p.DataEndpointEnabled, &reg.DataEndpointEnabled}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	for _, f := range []struct {
		field, on string
		v         *string
		dst       *bool
		allowed   []string
	}{
		{"properties.publicNetworkAccess", "Enabled", p.PublicNetworkAccess, &reg.PublicNetworkAccess, []string{"Enabled", "Disabled"}},
		{"properties.networkRuleBypassOptions", "AzureServices", p.NetworkRuleBypassOptions, &reg.BypassAzureServices, []string{"AzureServices", "None"}},
		{"properties.zoneRedundancy", "Enabled", p.ZoneRedundancy, &reg.ZoneRedundancy, []string{"Enabled", "Disabled"}},
		{"properties.metadataSearch", "Enabled", p.MetadataSearch, &reg.MetadataSearch, []string{"Enabled", "Disabled"}},
	} {
		if err := onOff(f.field, f.v, f.on, f.dst, f.allowed...); err != nil {
			return nil, err
		}
	}
	if p.RoleAssignmentMode != nil {
		v, err := enumValue("properties.roleAssignmentMode", *p.RoleAssignmentMode, "LegacyRegistryPermissions", "AbacRepositoryPermissions")
		if err != nil {
			return nil, err
		}
		reg.RoleAssignmentMode = v
	}
	if err := applyPolicies(reg, p.Policies, now); err != nil {
		return nil, err
	}
	if err := applyNetworkRules(reg, p.NetworkRuleSet); err != nil {
		return nil, err
	}
	if err := applyEncryption(reg, p.Encryption, now); err != nil {
		return nil, err
	}
	if err := skuRules(reg); err != nil {
		return nil, err
	}
	return reg, nil
}

// applyNetworkRules merges properties.networkRuleSet: ipRules absent keeps the rules (az
// sends only defaultAction), [] clears them; virtualNetworkRules likewise.
func applyNetworkRules(reg *store.Registry, rs *networkRuleSet) error {
	if rs == nil {
		return nil
	}
	if rs.DefaultAction != nil {
		if err := onOff("properties.networkRuleSet.defaultAction", rs.DefaultAction, "Allow", &reg.DefaultActionAllow, "Allow", "Deny"); err != nil {
			return err
		}
	}
	if rs.IPRules != nil {
		if len(*rs.IPRules) > 200 {
			return armError(http.StatusBadRequest, "TooManyIpRules", "A registry supports at most 200 IP rules.")
		}
		var rules []string
		for _, r := range *rs.IPRules {
			if r.Action != "" {
				if _, err := enumValue("properties.networkRuleSet.ipRules.action", r.Action, "Allow"); err != nil {
					return err
				}
			}
			if _, err := network.ParseIPRule(r.Value); err != nil {
				return armError(http.StatusBadRequest, "InvalidIpAddressOrRange", "The IP address or range '"+r.Value+"' is invalid. Only IPv4 addresses and CIDR ranges are allowed.")
			}
			rules = append(rules, r.Value)
		}
		reg.IPRules = rules
	}
	if rs.VirtualNetworkRules != nil {
		if len(*rs.VirtualNetworkRules) > 100 {
			return armError(http.StatusBadRequest, "TooManyVirtualNetworkRules", "A registry supports at most 100 virtual network rules.")
		}
		var subnets []string
		for _, r := range *rs.VirtualNetworkRules {
			id := r.ID
			if id == "" {
				id = r.VirtualNetworkResourceID
			}
			if vnetOfSubnet(id) == "" || !strings.Contains(strings.ToLower(id), "/subnets/") {
				return armError(http.StatusBadRequest, "InvalidVirtualNetworkRule", "The virtual network rule '"+id+"' must name a subnet of a virtual network.")
			}
			subnets = append(subnets, id)
		}
		reg.VirtualNetworkRules = subnets
	}
	return nil
}

// applyEncryption sets the customer-managed key; a change from one key to another is a
// rotation (az acr encryption rotate-key), whose time the registry shows.
func applyEncryption(reg *store.Registry, e *encryptionBody, now time.Time) error {
	if e == nil {
		return nil
	}
	on := reg.Encryption.KeyIdentifier != ""
	if e.Status != "" {
		if err := onOff("properties.encryption.status", &e.Status, "enabled", &on, "enabled", "disabled"); err != nil {
			return err
		}
	}
	kv := e.KeyVaultProperties
	switch {
	case !on:
		reg.Encryption = store.Encryption{}
	case kv != nil && kv.KeyIdentifier != "":
		rotated := reg.Encryption.RotatedAt
		if reg.Encryption.KeyIdentifier != "" && reg.Encryption.KeyIdentifier != kv.KeyIdentifier {
			rotated = now
		}
		reg.Encryption = store.Encryption{KeyIdentifier: kv.KeyIdentifier, Identity: kv.Identity, RotatedAt: rotated}
	case reg.Encryption.KeyIdentifier == "":
		return armError(http.StatusBadRequest, "InvalidRequestContent", "properties.encryption.keyVaultProperties.keyIdentifier is required when encryption is enabled.")
	}
	return nil
}

// skuRules are the checks that depend on the SKU. Only DisablingPublicNetworkAccessNotSupported
// is recorded from Azure; the others mirror it and are UNCONFIRMED.
func skuRules(reg *store.Registry) error {
	if reg.SKU != "Premium" {
		premium := func(code, what, link string) error {
			return armError(http.StatusBadRequest, code, what+" is not supported for the SKU "+reg.SKU+". For more information, please visit "+link+".")
		}
		switch {
		case !reg.PublicNetworkAccess:
			return premium("DisablingPublicNetworkAccessNotSupported", "Disabling public network access", "https://aka.ms/acr/private-link")
		case !reg.DefaultActionAllow || len(reg.IPRules) > 0 || len(reg.VirtualNetworkRules) > 0:
			return premium("NetworkRuleSetNotSupported", "Network rule set", "https://aka.ms/acr/firewall")
		case reg.ExportDisabled:
			return premium("ExportPolicyNotSupported", "Export policy", "https://aka.ms/acr/export-policy")
		case reg.DataEndpointEnabled:
			return premium("DataEndpointNotSupported", "Dedicated data endpoint", "https://aka.ms/acr/dedicated-data-endpoints")
		case reg.ZoneRedundancy:
			return premium("ZoneRedundancyNotSupported", "Zone redundancy", "https://aka.ms/acr/zone-redundancy")
		case reg.Encryption.KeyIdentifier != "":
			return premium("EncryptionNotSupported", "Encryption with a customer-managed key", "https://aka.ms/acr/cmk")
		}
	}
	if reg.AnonymousPullEnabled && reg.SKU == "Basic" {
		return armError(http.StatusBadRequest, "AnonymousPullNotSupported", "Anonymous pull is not supported for the SKU Basic.")
	}
	// Export can be disabled on Premium registries whose public access is disabled
	// (https://aka.ms/acr/export-policy); ARM's code and text are UNCONFIRMED.
	if reg.ExportDisabled && reg.PublicNetworkAccess {
		return armError(http.StatusBadRequest, "ExportPolicyRequiresPublicNetworkAccessDisabled",
			"Disabling export requires public network access to be disabled. For more information, please visit https://aka.ms/acr/export-policy.")
	}
	return nil
}

// applyPolicies merges properties.policies. A policy sent without a status (the azurerm
// provider sends {} for one it does not set) changes nothing.
func applyPolicies(reg *store.Registry, p *policies, now time.Time) error {
	if p == nil {
		return nil
	}
	status := func(st *policyStatus) *string {
		if st == nil || st.Status == "" {
			return nil
		}
		return &st.Status
	}
	exportEnabled := !reg.ExportDisabled
	for _, f := range []struct {
		field string
		st    *policyStatus
		set   *bool
	}{{"azureADAuthenticationAsArmPolicy", p.AuthAsArm, &reg.AuthAsARM}, {"exportPolicy", p.Export, &exportEnabled},
		{"quarantinePolicy", p.Quarantine, &reg.QuarantineEnabled}, {"trustPolicy", p.Trust, &reg.TrustEnabled}} {
		if err := onOff("properties.policies."+f.field+".status", status(f.st), "enabled", f.set, "enabled", "disabled"); err != nil {
			return err
		}
	}
	reg.ExportDisabled = !exportEnabled
	// retention and soft delete: a status and a number of days, and when they last changed.
	timed := func(name, daysField, st string, days *int, min, max int, on *bool, dst *int, changed *time.Time) error {
		if err := onOff("properties.policies."+name+".status", status(&policyStatus{st}), "enabled", on, "enabled", "disabled"); err != nil {
			return err
		}
		if days != nil {
			if *days < min || *days > max {
				return armError(http.StatusBadRequest, "InvalidRequestContent", fmt.Sprintf("The value '%d' of properties.policies.%s.%s is not valid: use %d to %d.",
					*days, name, daysField, min, max))
			}
			*dst = *days
		}
		*changed = now
		return nil
	}
	if rp := p.Retention; rp != nil {
		if err := timed("retentionPolicy", "days", rp.Status, rp.Days, 0, 365, &reg.RetentionEnabled, &reg.RetentionDays, &reg.RetentionUpdatedAt); err != nil {
			return err
		}
	}
	if sp := p.SoftDelete; sp != nil {
		if err := timed("softDeletePolicy", "retentionDays", sp.Status, sp.RetentionDays, 1, 90, &reg.SoftDeleteEnabled, &reg.SoftDeleteDays, &reg.SoftDeleteUpdatedAt); err != nil {
			return err
		}
	}
	return nil
}
