package world

import (
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/rbac"
)

// Registry names follow ARM's rule: 5-50 alphanumerics (ACR lowercases login servers; the
// emulator requires lowercase so names and login servers agree).
var registryNameRE = regexp.MustCompile(`^[a-z0-9]{5,50}$`)

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

var ipv4RuleRE = regexp.MustCompile(`^((25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(25[0-5]|2[0-4]\d|1?\d?\d)(/([0-9]|[12]\d|3[0-2]))?$`)

// ACR task names: 5-50 alphanumerics, hyphens and underscores.
var taskNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{5,50}$`)

var skus = map[string]bool{"Basic": true, "Standard": true, "Premium": true}

// The well-known ids of the default world, for a world file that leaves them out.
const (
	defaultTenant       = "11111111-1111-1111-1111-111111111111"
	defaultSubscription = "22222222-2222-2222-2222-222222222222"
)

// Bounds on what a world may declare, so a world file cannot exhaust memory.
const (
	MaxTasksPerRegistry = 100
	maxResourceTags     = 50
)

// validate checks the world and fills in defaults. checkFiles looks for the image layouts and
// archives the world names (a snapshot's world does not need them any more).
func (w *World) validate(checkFiles bool) error {
	var p problems
	w.defaults(&p)
	names := w.validateRegistries(&p, checkFiles)
	principals := w.validateIdentities(&p)
	w.validateOrigins(&p, names)
	w.validateSecrets(&p)
	for i, ra := range w.RoleAssignments {
		f := fmt.Sprintf("roleAssignments[%d]", i)
		if ra.Principal == "" || ra.Role == "" || ra.Scope == "" {
			p.add(f, "principal, role and scope are required")
		}
		if ra.Name != "" && !guidRE.MatchString(ra.Name) {
			p.add(f+".name", "%q is not a GUID", ra.Name)
		}
		if ra.Principal != "" && !principals[strings.ToLower(ra.Principal)] {
			p.add(f+".principal", "%q is not a service principal, managed identity, compute resource or task of this world", ra.Principal)
		}
		if _, ok := rbac.RoleByName(ra.Role); !ok && ra.Role != "" {
			if _, ok := rbac.RoleByID(ra.Role); !ok {
				p.add(f+".role", "%q is not a built-in role (by name or GUID)", ra.Role)
			}
		}
	}
	if len(p) == 0 {
		return nil
	}
	errs := make([]error, len(p))
	for i, e := range p {
		errs[i] = w.src.locate(e)
	}
	return errors.Join(errs...)
}

func (w *World) defaults(p *problems) {
	if w.TenantID == "" {
		w.TenantID = defaultTenant
	}
	if w.SubscriptionID == "" {
		w.SubscriptionID = defaultSubscription
	}
	if w.ResourceGroup == "" {
		w.ResourceGroup = "demo-rg"
	}
	if w.Location == "" {
		w.Location = "eastus"
	}
	w.Location = NormalizeLocation(w.Location)
	for _, f := range []struct{ name, v string }{{"tenantId", w.TenantID}, {"subscriptionId", w.SubscriptionID}} {
		if !guidRE.MatchString(f.v) {
			p.add(f.name, "%q is not a GUID", f.v)
		}
	}
	switch w.Profile {
	case "":
		w.Profile = "seed"
	case "seed", "current":
	default:
		p.add("profile", "%q must be seed or current", w.Profile)
	}
	if w.LocalClientIP != "" && (!ipv4RuleRE.MatchString(w.LocalClientIP) || strings.Contains(w.LocalClientIP, "/")) {
		p.add("localClientIP", "%q must be an IPv4 address", w.LocalClientIP)
	}
	if w.BlobDir != "" {
		// Absolute from here on, so a snapshot of this world names the same directory wherever
		// it is started from.
		if abs, err := filepath.Abs(w.Path(w.BlobDir)); err != nil {
			p.add("blobDir", "%v", err)
		} else {
			w.BlobDir = abs
		}
	}
}

// NormalizeLocation spells a location as ARM answers it: "West Europe" is westeurope.
func NormalizeLocation(l string) string { return strings.ToLower(strings.ReplaceAll(l, " ", "")) }

// validateRegistries checks the registries and returns their names.
func (w *World) validateRegistries(p *problems, checkFiles bool) map[string]*Registry {
	if len(w.Registries) == 0 {
		p.add("registries", "at least one registry is required")
	}
	names := map[string]*Registry{}
	ports := map[int]bool{}
	onMain := 0
	generated, tooMuch := int64(0), false
	for i := range w.Registries {
		r := &w.Registries[i]
		f := fmt.Sprintf("registries[%d]", i)
		switch {
		case !registryNameRE.MatchString(r.Name):
			p.add(f+".name", "%q must be 5-50 lowercase letters and digits", r.Name)
		case names[r.Name] != nil:
			p.add(f+".name", "%q is defined twice", r.Name)
		}
		names[r.Name] = r
		if r.SKU == "" {
			r.SKU = "Premium"
		}
		if !skus[r.SKU] {
			p.add(f+".sku", "%q must be Basic, Standard or Premium", r.SKU)
		}
		switch {
		case r.Port < 0 || r.Port > 65535:
			p.add(f+".port", "%d is out of range", r.Port)
		case r.Port == 0:
			onMain++
		case ports[r.Port]:
			p.add(f+".port", "%d is used twice", r.Port)
		}
		ports[r.Port] = true
		if r.Location == "" {
			r.Location = w.Location
		}
		r.Location = NormalizeLocation(r.Location)
		validateTags(p, f+".tags", r.Tags)
		validateNetwork(p, f, r)
		validatePolicies(p, f+".policies", r)
		validateTokens(p, f, r)
		validateCache(p, f, r)
		if len(r.Images) > MaxImagesPerRegistry {
			p.add(f+".images", "at most %d images per registry", MaxImagesPerRegistry)
		}
		for j := range r.Images {
			generated += w.validateImage(p, fmt.Sprintf("%s.images[%d]", f, j), &r.Images[j], checkFiles)
		}
		if generated > MaxGeneratedBytes && !tooMuch {
			p.add(f+".images", "the generated images of this world would hold %s; at most %s", ByteSize(generated), ByteSize(MaxGeneratedBytes))
			tooMuch = true
		}
	}
	if onMain > 1 && w.LoginServerSuffix == "" {
		p.add("registries", "%d registries have no port; only one can use the main HTTPS listener (give the others a port, or set loginServerSuffix)", onMain)
	}
	return names
}

func validateNetwork(p *problems, f string, r *Registry) {
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
		defaultEnum(p, f+"."+e.field, e.v, e.enum)
	}
	restricted := r.PublicNetworkAccess == "Disabled" || r.NetworkRuleSet.DefaultAction == "Deny" || len(r.NetworkRuleSet.IPRules) > 0
	if restricted && r.SKU != "Premium" {
		p.add(f, "network rules and disabling public network access need the Premium SKU")
	}
	if len(r.NetworkRuleSet.IPRules) > 200 {
		p.add(f+".networkRuleSet.ipRules", "at most 200 rules")
	}
	for k, ip := range r.NetworkRuleSet.IPRules {
		if !ipv4RuleRE.MatchString(ip) {
			p.add(fmt.Sprintf("%s.networkRuleSet.ipRules[%d]", f, k), "%q is not an IPv4 address or CIDR range", ip)
		}
	}
	if r.AnonymousPullEnabled && r.SKU == "Basic" {
		p.add(f+".anonymousPullEnabled", "anonymous pull needs the Standard or Premium SKU")
	}
	if r.DataEndpointEnabled && r.SKU != "Premium" {
		p.add(f+".dataEndpointEnabled", "dedicated data endpoints need the Premium SKU")
	}
}

// validatePolicies applies ARM's rules for properties.policies.
func validatePolicies(p *problems, f string, r *Registry) {
	pol := r.Policies
	if pol == nil {
		return
	}
	for _, e := range []struct {
		field string
		st    *PolicyStatus
	}{{"exportPolicy", pol.ExportPolicy}, {"quarantinePolicy", pol.QuarantinePolicy}, {"trustPolicy", pol.TrustPolicy}} {
		if e.st != nil && e.st.Status != "enabled" && e.st.Status != "disabled" {
			p.add(f+"."+e.field+".status", "%q must be enabled or disabled", e.st.Status)
		}
	}
	if rp := pol.RetentionPolicy; rp != nil {
		if rp.Status != "enabled" && rp.Status != "disabled" {
			p.add(f+".retentionPolicy.status", "%q must be enabled or disabled", rp.Status)
		}
		if rp.Days != nil && (*rp.Days < 0 || *rp.Days > 365) {
			p.add(f+".retentionPolicy.days", "%d must be 0 to 365", *rp.Days)
		}
	}
	// https://aka.ms/acr/export-policy, as the management plane checks it.
	if pol.ExportPolicy != nil && pol.ExportPolicy.Status == "disabled" && (r.SKU != "Premium" || r.PublicNetworkAccess != "Disabled") {
		p.add(f+".exportPolicy", "disabling export needs the Premium SKU and publicNetworkAccess Disabled")
	}
}

func validateTags(p *problems, f string, tags map[string]string) {
	if len(tags) > maxResourceTags {
		p.add(f, "at most %d tags", maxResourceTags)
	}
	for k, v := range tags {
		if k == "" || len(k) > 512 || strings.ContainsAny(k, `<>%&\?/`) {
			p.add(f, "tag name %.40q must be 1-512 characters without <>%%&\\?/", k)
		}
		if len(v) > 256 {
			p.add(f, "the value of tag %.40q is longer than 256 characters", k)
		}
	}
}

// validateIdentities checks service principals, managed identities, compute resources and
// tasks' identities, and returns every name a role assignment may use for a principal.
func (w *World) validateIdentities(p *problems) map[string]bool {
	principals := map[string]bool{}
	for i, sp := range w.ServicePrincipals {
		f := fmt.Sprintf("servicePrincipals[%d]", i)
		if sp.Name == "" || !guidRE.MatchString(sp.ClientID) || (sp.ObjectID != "" && !guidRE.MatchString(sp.ObjectID)) || sp.Secret == "" {
			p.add(f, "name, a GUID clientId and a secret are required (objectId, if given, is a GUID)")
		}
		for _, k := range []string{sp.Name, strings.ToLower(sp.ClientID), strings.ToLower(sp.ObjectID)} {
			if k != "" && principals[strings.ToLower(k)] {
				p.add(f, "%q is used twice", k)
			}
			principals[strings.ToLower(k)] = true
		}
	}
	identities := map[string]bool{}
	for i, mi := range w.ManagedIdentities {
		f := fmt.Sprintf("managedIdentities[%d]", i)
		if mi.Name == "" || (mi.ClientID != "" && !guidRE.MatchString(mi.ClientID)) || (mi.PrincipalID != "" && !guidRE.MatchString(mi.PrincipalID)) {
			p.add(f, "a name is required; clientId and principalId, if given, are GUIDs")
		}
		if identities[mi.Name] || principals[strings.ToLower(mi.Name)] {
			p.add(f+".name", "%q is used twice", mi.Name)
		}
		identities[mi.Name] = true
		for _, k := range []string{mi.Name, mi.ClientID, mi.PrincipalID} {
			principals[strings.ToLower(k)] = true
		}
	}
	headers, imds := map[string]bool{}, 0
	for i := range w.ComputeResources {
		c := &w.ComputeResources[i]
		f := fmt.Sprintf("computeResources[%d]", i)
		if c.Name == "" || c.IdentityHeader == "" || headers[c.IdentityHeader] {
			p.add(f, "a name and a unique identityHeader are required")
		}
		headers[c.IdentityHeader] = true
		if c.Type == "" {
			c.Type = "Microsoft.Compute/virtualMachines"
		}
		for k, u := range c.UserAssignedIdentities {
			if !identities[u] {
				p.add(fmt.Sprintf("%s.userAssignedIdentities[%d]", f, k), "unknown user-assigned identity %q", u)
			}
		}
		if c.IMDS {
			imds++
		}
		if c.SystemAssignedIdentity {
			principals[strings.ToLower(c.Name)] = true
			principals[strings.ToLower(c.SystemPrincipalID)] = true
		}
	}
	if imds > 1 {
		p.add("computeResources", "only one resource can answer the IMDS endpoint")
	}
	for i := range w.Registries {
		r := &w.Registries[i]
		if len(r.Tasks) > MaxTasksPerRegistry {
			p.add(fmt.Sprintf("registries[%d].tasks", i), "at most %d tasks per registry", MaxTasksPerRegistry)
		}
		seen := map[string]bool{}
		for j := range r.Tasks {
			t := &r.Tasks[j]
			f := fmt.Sprintf("registries[%d].tasks[%d]", i, j)
			validateTask(p, f, t, identities)
			if seen[strings.ToLower(t.Name)] {
				p.add(f+".name", "%q is defined twice", t.Name)
			}
			seen[strings.ToLower(t.Name)] = true
			if t.Identity.System() {
				principals[strings.ToLower(r.Name+"/tasks/"+t.Name)] = true
				principals[strings.ToLower(t.Identity.PrincipalID)] = true
			}
		}
	}
	delete(principals, "")
	return principals
}

func validateTask(p *problems, f string, t *Task, identities map[string]bool) {
	if !taskNameRE.MatchString(t.Name) {
		p.add(f+".name", "%q must be 5-50 letters, digits, hyphens and underscores", t.Name)
	}
	validateTags(p, f+".tags", t.Tags)
	step, _ := t.Properties["step"].(map[string]any)
	switch typ, _ := step["type"].(string); {
	case step == nil:
		p.add(f+".properties.step", "a step is required (type Docker, FileTask or EncodedTask)")
	case typ != "Docker" && typ != "FileTask" && typ != "EncodedTask":
		p.add(f+".properties.step.type", "%q must be Docker, FileTask or EncodedTask", typ)
	case step["taskYaml"] != nil && step["encodedTaskContent"] != nil:
		p.add(f+".properties.step.taskYaml", "give taskYaml or encodedTaskContent, not both")
	case step["taskYaml"] != nil:
		y, ok := step["taskYaml"].(string)
		if !ok || typ != "EncodedTask" {
			p.add(f+".properties.step.taskYaml", "the task YAML as text, in an EncodedTask step")
			break
		}
		// The world's shorthand for what ARM keeps base64-encoded.
		delete(step, "taskYaml")
		step["encodedTaskContent"] = base64.StdEncoding.EncodeToString([]byte(y))
	}
	id := t.Identity
	if id == nil {
		return
	}
	switch id.Type {
	case "SystemAssigned", "UserAssigned", "SystemAssigned, UserAssigned", "None":
	default:
		p.add(f+".identity.type", "%q must be SystemAssigned, UserAssigned, \"SystemAssigned, UserAssigned\" or None", id.Type)
	}
	if id.PrincipalID != "" && (!guidRE.MatchString(id.PrincipalID) || !id.System()) {
		p.add(f+".identity.principalId", "a GUID, for a system-assigned identity only")
	}
	if strings.Contains(id.Type, "UserAssigned") != (len(id.UserAssignedIdentities) > 0) {
		p.add(f+".identity.userAssignedIdentities", "identities are needed with type UserAssigned, and only then")
	}
	for k, u := range id.UserAssignedIdentities {
		if !identities[u] && !strings.HasPrefix(u, "/") {
			p.add(fmt.Sprintf("%s.identity.userAssignedIdentities[%d]", f, k), "%q is not a managed identity of this world nor an ARM id", u)
		}
	}
}

// System tells whether the identity block asks for a system-assigned identity.
func (id *TaskIdentity) System() bool {
	return id != nil && strings.HasPrefix(id.Type, "SystemAssigned")
}

var endpointStatuses = []string{"Approved", "Pending", "Rejected", "Disconnected"}

func (w *World) validateOrigins(p *problems, registries map[string]*Registry) {
	originNames := map[string]bool{}
	endpointNames := map[string]bool{}
	for i := range w.Origins {
		o := &w.Origins[i]
		f := fmt.Sprintf("origins[%d]", i)
		if o.Name == "" || originNames[o.Name] {
			p.add(f+".name", "a unique name is required")
		}
		if o.IP != "" && (!ipv4RuleRE.MatchString(o.IP) || strings.Contains(o.IP, "/")) {
			p.add(f+".ip", "%q must be an IPv4 address", o.IP)
		}
		if o.Port < 0 || o.Port > 65535 {
			p.add(f+".port", "%d is out of range", o.Port)
		}
		if o.PrivateIP != "" && (!ipv4RuleRE.MatchString(o.PrivateIP) || strings.Contains(o.PrivateIP, "/")) {
			p.add(f+".privateIp", "%q must be an IPv4 address", o.PrivateIP)
		}
		for k, rec := range o.PrivateDNSRecords {
			if !strings.HasSuffix(strings.ToLower(strings.TrimSuffix(rec, ".")), ".azurecr.io") {
				p.add(fmt.Sprintf("%s.privateDnsRecords[%d]", f, k), "%q is not a registry's name (<registry>.azurecr.io or <registry>.<region>.data.azurecr.io)", rec)
			}
		}
		originNames[o.Name] = true
		check := func(field, reg, name string) {
			r := registries[reg]
			switch {
			case r == nil:
				p.add(field, "unknown registry %q", reg)
			case r.SKU != "Premium":
				p.add(field, "private endpoints need the Premium SKU; registry %q is %s", reg, r.SKU)
			}
			if endpointNames[strings.ToLower(name)] {
				p.add(field, "private endpoint %q is defined twice", name)
			}
			endpointNames[strings.ToLower(name)] = true
		}
		for k, reg := range o.PrivateEndpoints {
			check(fmt.Sprintf("%s.privateEndpoints[%d]", f, k), reg, o.Name+"-"+reg)
		}
		for k := range o.Endpoints {
			pe := &o.Endpoints[k]
			ef := fmt.Sprintf("%s.endpoints[%d]", f, k)
			if pe.Name == "" {
				pe.Name = o.Name + "-" + pe.Registry
			}
			check(ef+".registry", pe.Registry, pe.Name)
			defaultEnum(p, ef+".status", &pe.Status, endpointStatuses)
		}
	}
}

// defaultEnum sets an empty *v to enum[0] and checks a set one is one of enum.
func defaultEnum(p *problems, field string, v *string, enum []string) {
	if *v == "" {
		*v = enum[0]
		return
	}
	for _, e := range enum {
		if *v == e {
			return
		}
	}
	p.add(field, "%q must be %s", *v, strings.Join(enum, " or "))
}
