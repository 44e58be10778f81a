package arm

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/go-chi/chi/v5"
)

// Registry resource shapes (api-version 2025-11-01, spec acr-mgmt-trusted.md section 1).

type sku struct {
	Name string `json:"name"`
	Tier string `json:"tier,omitempty"`
}

type ipRule struct {
	Action string `json:"action,omitempty"`
	Value  string `json:"value"`
}

type networkRuleSet struct {
	DefaultAction *string   `json:"defaultAction,omitempty"`
	IPRules       *[]ipRule `json:"ipRules,omitempty"`
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
}

type registryBody struct {
	Location   string              `json:"location,omitempty"`
	Tags       map[string]string   `json:"tags,omitempty"`
	SKU        *sku                `json:"sku,omitempty"`
	Properties *registryProperties `json:"properties,omitempty"`
}

func (a *api) registryID(name string) string {
	return "/subscriptions/" + a.cfg.SubscriptionID + "/resourceGroups/" + a.cfg.ResourceGroup +
		"/providers/Microsoft.ContainerRegistry/registries/" + name
}

func acrTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

func status(b bool, on, off string) string {
	if b {
		return on
	}
	return off
}

// location is where a registry is; one the world made without a location is in the world's.
func (a *api) location(reg *store.Registry) string {
	if reg.Location == "" {
		return a.cfg.Location
	}
	return reg.Location
}

// normalizeLocation spells a location as ARM answers it: "West Europe" is westeurope.
func normalizeLocation(l string) string {
	return strings.ToLower(strings.ReplaceAll(l, " ", ""))
}

func tagsJSON(tags map[string]string) map[string]string {
	if tags == nil {
		return map[string]string{}
	}
	return tags
}

// registryJSON renders a registry as ARM returns it.
func (a *api) registryJSON(reg *store.Registry) map[string]any {
	rules := []map[string]string{}
	for _, v := range reg.IPRules {
		rules = append(rules, map[string]string{"action": "Allow", "value": v})
	}
	return map[string]any{
		"id": reg.ID, "name": reg.Name, "type": "Microsoft.ContainerRegistry/registries", "location": a.location(reg),
		"tags": tagsJSON(reg.Tags), "sku": map[string]string{"name": reg.SKU, "tier": reg.SKU},
		"properties": map[string]any{
			"loginServer": reg.LoginServer, "creationDate": acrTime(reg.CreatedAt), "provisioningState": "Succeeded",
			"adminUserEnabled": reg.AdminUserEnabled,
			"networkRuleSet":   map[string]any{"defaultAction": status(reg.DefaultActionAllow, "Allow", "Deny"), "ipRules": rules},
			"policies": map[string]any{
				"quarantinePolicy":                 map[string]string{"status": status(reg.QuarantineEnabled, "enabled", "disabled")},
				"trustPolicy":                      map[string]string{"type": "Notary", "status": status(reg.TrustEnabled, "enabled", "disabled")},
				"retentionPolicy":                  map[string]any{"days": reg.RetentionDays, "status": status(reg.RetentionEnabled, "enabled", "disabled")},
				"exportPolicy":                     map[string]string{"status": status(!reg.ExportDisabled, "enabled", "disabled")},
				"azureADAuthenticationAsArmPolicy": map[string]string{"status": status(reg.AuthAsARM, "enabled", "disabled")},
			},
			"encryption": map[string]string{"status": "disabled"}, "dataEndpointEnabled": false, "dataEndpointHostNames": []string{},
			"privateEndpointConnections": a.connectionsJSON(reg), "publicNetworkAccess": status(reg.PublicNetworkAccess, "Enabled", "Disabled"),
			"networkRuleBypassOptions":         status(reg.BypassAzureServices, "AzureServices", "None"),
			"networkRuleBypassAllowedForTasks": reg.BypassForTasks, "zoneRedundancy": "Disabled",
			"anonymousPullEnabled": reg.AnonymousPullEnabled, "roleAssignmentMode": reg.RoleAssignmentMode,
		},
	}
}

func (a *api) loadRegistry(r *http.Request) (*store.Registry, error) {
	if err := a.subscription(r); err != nil {
		return nil, err
	}
	name, rg := chi.URLParam(r, "name"), chi.URLParam(r, "rg")
	if !strings.EqualFold(rg, a.cfg.ResourceGroup) {
		return nil, armError(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '"+rg+"' could not be found.")
	}
	reg, err := a.cfg.Store.GetRegistry(strings.ToLower(name))
	if err != nil {
		return nil, err
	}
	if reg == nil {
		return nil, armError(http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.ContainerRegistry/registries/"+name+
			"' under resource group '"+rg+"' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")
	}
	return reg, nil
}

func (a *api) getRegistry(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	reg, err := a.loadRegistry(r)
	if err != nil {
		return err
	}
	if err := a.authorize(caller, reg.ID, "Microsoft.ContainerRegistry/registries/read"); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.registryJSON(reg))
}

func (a *api) listRegistries(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	if err := a.subscription(r); err != nil {
		return err
	}
	if rg := chi.URLParam(r, "rg"); rg != "" && !strings.EqualFold(rg, a.cfg.ResourceGroup) {
		return armError(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '"+rg+"' could not be found.")
	}
	regs, err := a.cfg.Store.ListRegistries()
	if err != nil {
		return err
	}
	out := []any{}
	for _, reg := range regs {
		if a.authorize(caller, reg.ID, "Microsoft.ContainerRegistry/registries/read") == nil {
			out = append(out, a.registryJSON(reg))
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

// decode reads a JSON body strictly: unknown fields are tolerated (clients send read-only
// ones back) but malformed JSON and wrong types are 400 naming the problem.
func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return armError(http.StatusBadRequest, "InvalidRequestContent", "The request content could not be read.")
	}
	return unmarshalBody(b, v)
}

// unmarshalBody reads a request body's JSON into v, or returns ARM's 400 InvalidRequestContent.
func unmarshalBody(b []byte, v any) error {
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(v); err != nil {
		return armError(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "+err.Error())
	}
	return nil
}

// Patch applies a registry PATCH body to a copy of reg, validated as ARM validates it; the
// portal page's Save sends the body the Azure portal sends.
func Patch(reg *store.Registry, body []byte) (*store.Registry, error) {
	var b registryBody
	if err := unmarshalBody(body, &b); err != nil {
		return nil, err
	}
	return apply(reg.Copy(), b)
}

func (a *api) patchRegistry(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	reg, err := a.loadRegistry(r)
	if err != nil {
		return err
	}
	if err := a.authorize(caller, reg.ID, "Microsoft.ContainerRegistry/registries/write"); err != nil {
		return err
	}
	var body registryBody
	if err := decode(r, &body); err != nil {
		return err
	}
	next, err := apply(reg.Copy(), body)
	if err != nil {
		return err
	}
	if err := a.cfg.Store.PutRegistry(next); err != nil {
		return err
	}
	a.asyncOperation(w, r, next)
	a.cfg.Logger.Info("registry updated", "registry", next.Name, "publicNetworkAccess", status(next.PublicNetworkAccess, "Enabled", "Disabled"),
		"defaultAction", status(next.DefaultActionAllow, "Allow", "Deny"), "ipRules", next.IPRules,
		"networkRuleBypassOptions", status(next.BypassAzureServices, "AzureServices", "None"))
	return writeJSON(w, http.StatusOK, a.registryJSON(next))
}

func (a *api) putRegistry(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	if err := a.subscription(r); err != nil {
		return err
	}
	name := strings.ToLower(chi.URLParam(r, "name"))
	if !registryNameOK(chi.URLParam(r, "name")) {
		return armError(http.StatusBadRequest, "InvalidResourceName", "Resource name "+chi.URLParam(r, "name")+
			" is invalid. The name can contain only alphanumeric characters and must be between 5 and 50 characters.")
	}
	existing, err := a.cfg.Store.GetRegistry(name)
	if err != nil {
		return err
	}
	id := a.registryID(name)
	if err := a.authorize(caller, id, "Microsoft.ContainerRegistry/registries/write"); err != nil {
		return err
	}
	var body registryBody
	if err := decode(r, &body); err != nil {
		return err
	}
	if existing == nil && (body.SKU == nil || body.SKU.Name == "") {
		return armError(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid: 'sku' is required.")
	}
	loc := normalizeLocation(body.Location)
	base := existing
	created := base == nil
	switch {
	case created && loc == "":
		return armError(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition.")
	case created:
		base = &store.Registry{Name: name, ID: id, LoginServer: name + ".azurecr.io", AdminUsername: name, AuthAsARM: true, Location: loc, RetentionDays: 7,
			RoleAssignmentMode: "LegacyRegistryPermissions", PublicNetworkAccess: true, DefaultActionAllow: true, BypassAzureServices: true}
	case loc != "" && loc != a.location(existing):
		// ARM's text for moving a resource by PUT; its status here is UNCONFIRMED.
		return armError(http.StatusBadRequest, "InvalidResourceLocation", fmt.Sprintf("The resource '%s' already exists in location '%s' in resource group '%s'. "+
			"A resource with the same name cannot be created in location '%s'. Please select a new resource name.", existing.Name, a.location(existing), a.cfg.ResourceGroup, loc))
	}
	base = base.Copy()
	base.Tags = nil // a PUT replaces the resource: tags it does not send are gone
	next, err := apply(base, body)
	if err != nil {
		return err
	}
	if created {
		if err := a.cfg.Create(next); err != nil {
			return err
		}
	} else if err := a.cfg.Store.PutRegistry(next); err != nil {
		return err
	}
	code := http.StatusOK
	if created {
		code = http.StatusCreated
	}
	a.asyncOperation(w, r, next)
	return writeJSON(w, code, a.registryJSON(next))
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

// apply merges a PUT/PATCH body into a registry (absent = unchanged) and validates the result.
func apply(reg *store.Registry, b registryBody) (*store.Registry, error) {
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
	enum := func(field string, v *string, allowed ...string) (string, error) {
		return enumValue(field, *v, allowed...)
	}
	if p.AdminUserEnabled != nil {
		reg.AdminUserEnabled = *p.AdminUserEnabled
	}
	if p.AnonymousPullEnabled != nil {
		reg.AnonymousPullEnabled = *p.AnonymousPullEnabled
	}
	if p.NetworkRuleBypassAllowedForTasks != nil {
		reg.BypassForTasks = *p.NetworkRuleBypassAllowedForTasks
	}
	if p.PublicNetworkAccess != nil {
		v, err := enum("properties.publicNetworkAccess", p.PublicNetworkAccess, "Enabled", "Disabled")
		if err != nil {
			return nil, err
		}
		reg.PublicNetworkAccess = v == "Enabled"
	}
	if p.NetworkRuleBypassOptions != nil {
		v, err := enum("properties.networkRuleBypassOptions", p.NetworkRuleBypassOptions, "AzureServices", "None")
		if err != nil {
			return nil, err
		}
		reg.BypassAzureServices = v == "AzureServices"
	}
	if p.RoleAssignmentMode != nil {
		v, err := enum("properties.roleAssignmentMode", p.RoleAssignmentMode, "LegacyRegistryPermissions", "AbacRepositoryPermissions")
		if err != nil {
			return nil, err
		}
		reg.RoleAssignmentMode = v
	}
	if err := applyPolicies(reg, p.Policies); err != nil {
		return nil, err
	}
	if rs := p.NetworkRuleSet; rs != nil {
		if rs.DefaultAction != nil {
			v, err := enum("properties.networkRuleSet.defaultAction", rs.DefaultAction, "Allow", "Deny")
			if err != nil {
				return nil, err
			}
			reg.DefaultActionAllow = v == "Allow"
		}
		// ipRules absent keeps the rules (az sends only defaultAction); [] clears them.
		if rs.IPRules != nil {
			if len(*rs.IPRules) > 200 {
				return nil, armError(http.StatusBadRequest, "TooManyIpRules", "A registry supports at most 200 IP rules.")
			}
			var rules []string
			for _, r := range *rs.IPRules {
				if _, err := network.ParseIPRule(r.Value); err != nil {
					return nil, armError(http.StatusBadRequest, "InvalidIpAddressOrRange", "The IP address or range '"+r.Value+"' is invalid. Only IPv4 addresses and CIDR ranges are allowed.")
				}
				rules = append(rules, r.Value)
			}
			reg.IPRules = rules
		}
	}
	if reg.SKU != "Premium" {
		if !reg.PublicNetworkAccess {
			return nil, armError(http.StatusBadRequest, "DisablingPublicNetworkAccessNotSupported",
				"Disabling public network access is not supported for the SKU "+reg.SKU+". For more information, please visit https://aka.ms/acr/private-link.")
		}
		// The code and text ARM uses here are not recorded; this mirrors the one above.
		if !reg.DefaultActionAllow || len(reg.IPRules) > 0 {
			return nil, armError(http.StatusBadRequest, "NetworkRuleSetNotSupported",
				"Network rule set is not supported for the SKU "+reg.SKU+". For more information, please visit https://aka.ms/acr/firewall.")
		}
	}
	if reg.AnonymousPullEnabled && reg.SKU == "Basic" {
		return nil, armError(http.StatusBadRequest, "AnonymousPullNotSupported", "Anonymous pull is not supported for the SKU Basic.")
	}
	// Export can be disabled on Premium registries whose public access is disabled
	// (https://aka.ms/acr/export-policy); ARM's codes and texts for these are UNCONFIRMED.
	if reg.ExportDisabled && reg.SKU != "Premium" {
		return nil, armError(http.StatusBadRequest, "ExportPolicyNotSupported",
			"Export policy is not supported for the SKU "+reg.SKU+". For more information, please visit https://aka.ms/acr/export-policy.")
	}
	if reg.ExportDisabled && reg.PublicNetworkAccess {
		return nil, armError(http.StatusBadRequest, "ExportPolicyRequiresPublicNetworkAccessDisabled",
			"Disabling export requires public network access to be disabled. For more information, please visit https://aka.ms/acr/export-policy.")
	}
	return reg, nil
}

// applyPolicies merges properties.policies.
func applyPolicies(reg *store.Registry, p *policies) error {
	if p == nil {
		return nil
	}
	onOff := func(field string, st *policyStatus, set *bool) error {
		if st == nil {
			return nil
		}
		v, err := enumValue("properties.policies."+field+".status", st.Status, "enabled", "disabled")
		if err == nil {
			*set = v == "enabled"
		}
		return err
	}
	exportEnabled := !reg.ExportDisabled
	for _, f := range []struct {
		field string
		st    *policyStatus
		set   *bool
	}{{"azureADAuthenticationAsArmPolicy", p.AuthAsArm, &reg.AuthAsARM}, {"exportPolicy", p.Export, &exportEnabled},
		{"quarantinePolicy", p.Quarantine, &reg.QuarantineEnabled}, {"trustPolicy", p.Trust, &reg.TrustEnabled}} {
		if err := onOff(f.field, f.st, f.set); err != nil {
			return err
		}
	}
	reg.ExportDisabled = !exportEnabled
	if rp := p.Retention; rp != nil {
		if rp.Status != "" {
			if err := onOff("retentionPolicy", &policyStatus{Status: rp.Status}, &reg.RetentionEnabled); err != nil {
				return err
			}
		}
		if rp.Days != nil {
			if *rp.Days < 0 || *rp.Days > 365 {
				return armError(http.StatusBadRequest, "InvalidRequestContent", fmt.Sprintf("The value '%d' of properties.policies.retentionPolicy.days is not valid: use 0 to 365.", *rp.Days))
			}
			reg.RetentionDays = *rp.Days
		}
	}
	return nil
}

func (a *api) deleteRegistry(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	if err := a.subscription(r); err != nil {
		return err
	}
	reg, err := a.cfg.Store.GetRegistry(strings.ToLower(chi.URLParam(r, "name")))
	if err != nil {
		return err
	}
	if reg == nil {
		w.WriteHeader(http.StatusNoContent) // ARM deletes are idempotent
		return nil
	}
	if err := a.authorize(caller, reg.ID, "Microsoft.ContainerRegistry/registries/delete"); err != nil {
		return err
	}
	if err := a.cfg.Delete(reg.Name); err != nil {
		return err
	}
	a.cfg.Logger.Info("registry deleted", "registry", reg.Name)
	w.WriteHeader(http.StatusOK)
	return nil
}

// checkName serves checkNameAvailability (registry names are global on Azure; here, per emulator).
func (a *api) checkName(w http.ResponseWriter, r *http.Request, _ *Identity) error {
	if err := a.subscription(r); err != nil {
		return err
	}
	var b struct{ Name, Type string }
	if err := decode(r, &b); err != nil {
		return err
	}
	if !strings.EqualFold(b.Type, "Microsoft.ContainerRegistry/registries") {
		return armError(http.StatusBadRequest, "InvalidRequestContent", "The type '"+b.Type+"' is not valid; use Microsoft.ContainerRegistry/registries.")
	}
	if !registryNameOK(b.Name) {
		return writeJSON(w, http.StatusOK, map[string]any{"nameAvailable": false, "reason": "Invalid",
			"message": "The specified resource name is invalid. It can contain only alphanumeric characters and must be between 5 and 50 characters."})
	}
	reg, err := a.cfg.Store.GetRegistry(strings.ToLower(b.Name))
	if err != nil {
		return err
	}
	if reg != nil {
		return writeJSON(w, http.StatusOK, map[string]any{"nameAvailable": false, "reason": "AlreadyExists",
			"message": "The registry " + b.Name + " is already in use."})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"nameAvailable": true})
}

func (a *api) operations(w http.ResponseWriter, r *http.Request) error {
	ops := []any{}
	for _, op := range []string{"registries/read", "registries/write", "registries/delete", "registries/listCredentials/action",
		"registries/regenerateCredential/action", "registries/listUsages/read", "checkNameAvailability/read", "registries/pull/read", "registries/push/write"} {
		ops = append(ops, map[string]any{"name": "Microsoft.ContainerRegistry/" + op, "isDataAction": false,
			"display": map[string]string{"provider": "Microsoft Container Registry", "resource": "Container Registry", "operation": op, "description": op}})
	}
	return writeJSON(w, http.StatusOK, map[string]any{"value": ops})
}

func (a *api) regenerateCredential(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	reg, err := a.loadRegistry(r)
	if err != nil {
		return err
	}
	if err := a.authorize(caller, reg.ID, "Microsoft.ContainerRegistry/registries/regenerateCredential/action"); err != nil {
		return err
	}
	var b struct{ Name string }
	if err := decode(r, &b); err != nil {
		return err
	}
	next := reg.Copy()
	switch b.Name {
	case "password":
		next.AdminPasswords[0] = newPassword()
	case "password2":
		next.AdminPasswords[1] = newPassword()
	default:
		return armError(http.StatusBadRequest, "InvalidRequestContent", "The value '"+b.Name+"' of name is not valid. Allowed values: password, password2.")
	}
	if err := a.cfg.Store.PutRegistry(next); err != nil {
		return err
	}
	return a.writeCredentials(w, next)
}

func (a *api) listUsages(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	reg, err := a.loadRegistry(r)
	if err != nil {
		return err
	}
	if err := a.authorize(caller, reg.ID, "Microsoft.ContainerRegistry/registries/listUsages/read"); err != nil {
		return err
	}
	size, err := a.cfg.Store.RegistryBytes(reg.Name)
	if err != nil {
		return err
	}
	limits := map[string]int64{"Basic": 10 << 30, "Standard": 100 << 30, "Premium": 500 << 30}
	return writeJSON(w, http.StatusOK, map[string]any{"value": []any{
		map[string]any{"name": "Size", "limit": limits[reg.SKU], "currentValue": size, "unit": "Bytes"},
		map[string]any{"name": "Webhooks", "limit": 500, "currentValue": 0, "unit": "Count"},
		map[string]any{"name": "ScopeMaps", "limit": 50000, "currentValue": 0, "unit": "Count"},
		map[string]any{"name": "Tokens", "limit": 50000, "currentValue": 0, "unit": "Count"},
	}})
}

func (a *api) writeCredentials(w http.ResponseWriter, reg *store.Registry) error {
	return writeJSON(w, http.StatusOK, map[string]any{"username": reg.AdminUsername, "passwords": []map[string]string{
		{"name": "password", "value": reg.AdminPasswords[0]}, {"name": "password2", "value": reg.AdminPasswords[1]}}})
}

func newPassword() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (a *api) listCredentials(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	reg, err := a.loadRegistry(r)
	if err != nil {
		return err
	}
	if err := a.authorize(caller, reg.ID, "Microsoft.ContainerRegistry/registries/listCredentials/action"); err != nil {
		return err
	}
	if !reg.AdminUserEnabled {
		return armError(http.StatusBadRequest, "AdminUserDisabled", "The admin user is disabled.")
	}
	return a.writeCredentials(w, reg)
}

func (a *api) connectionsJSON(reg *store.Registry) []any {
	out := []any{}
	pes, _ := a.connections(reg)
	for _, pe := range pes {
		out = append(out, a.connectionJSON(reg, pe))
	}
	return out
}

// asyncOperation adds the Azure-AsyncOperation header ACR sends on registry writes; the
// operation is already complete, and its status URL says so.
func (a *api) asyncOperation(w http.ResponseWriter, r *http.Request, reg *store.Registry) {
	w.Header().Set("Azure-AsyncOperation", "https://"+r.Host+reg.ID+"/operationStatuses/registries-"+ids.NewGUID()+
		"?api-version="+r.URL.Query().Get("api-version"))
}

// operationStatus answers every registry operation status: Succeeded.
func (a *api) operationStatus(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	reg, err := a.loadRegistry(r)
	if err != nil {
		return err
	}
	if err := a.authorize(caller, reg.ID, "Microsoft.ContainerRegistry/registries/read"); err != nil {
		return err
	}
	now := time.Now().UTC().Format(time.RFC3339Nano)
	return writeJSON(w, http.StatusOK, map[string]any{"id": r.URL.Path, "name": chi.URLParam(r, "op"), "status": "Succeeded",
		"startTime": now, "endTime": now})
}
