package arm

import (
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// The registry resource as ARM writes it: every property and policy present, none null where
// Azure writes a value (the azurerm provider dereferences several without a nil check), as in
// the az CLI's recordings (azure-cli acr tests/latest/recordings, api-version
// 2026-09-01-preview) and the REST examples (2025-11-01 RegistryGet.json). Fields newer
// api-versions add are written for every api-version: clients ignore what they do not know.

const (
	registryType    = "Microsoft.ContainerRegistry/registries"
	replicationType = "Microsoft.ContainerRegistry/registries/replications"
)

func acrTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }

// armTime is systemData's and lastUpdatedTime's format (+00:00, as ARM writes them).
func armTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000+00:00") }

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

func tagsJSON(tags map[string]string) map[string]string {
	if tags == nil {
		return map[string]string{}
	}
	return tags
}

// systemDataJSON writes who created and changed a resource; a resource the world made has
// none recorded and reads as created by the emulator's own application.
func systemDataJSON(s store.SystemData) map[string]string {
	if s.CreatedBy == "" {
		s.CreatedBy, s.CreatedByType = "acr-emulator", "Application"
	}
	if s.LastModifiedBy == "" {
		s.LastModifiedBy, s.LastModifiedByType, s.LastModifiedAt = s.CreatedBy, s.CreatedByType, s.CreatedAt
	}
	return map[string]string{"createdBy": s.CreatedBy, "createdByType": s.CreatedByType, "createdAt": armTime(s.CreatedAt),
		"lastModifiedBy": s.LastModifiedBy, "lastModifiedByType": s.LastModifiedByType, "lastModifiedAt": armTime(s.LastModifiedAt)}
}

// nowUTC is the time written into resources' properties (creationDate...).
func nowUTC() time.Time { return time.Now().UTC() }

// touch records a change by the caller in systemData (and the creation, when created).
func touch(s store.SystemData, caller *Identity, created bool) store.SystemData {
	by, byType, now := "", "Application", nowUTC()
	if caller != nil {
		by = caller.AppID
		if by == "" {
			by = caller.ObjectID
		}
	}
	if created {
		s.CreatedBy, s.CreatedByType, s.CreatedAt = by, byType, now
	}
	s.LastModifiedBy, s.LastModifiedByType, s.LastModifiedAt = by, byType, now
	return s
}

// registryJSON renders a registry as ARM returns it at an api-version (registry_versions.go).
func (a *api) registryJSON(reg *store.Registry, apiVersion string) map[string]any {
	rules := []map[string]string{}
	for _, v := range reg.IPRules {
		rules = append(rules, map[string]string{"action": "Allow", "value": v})
	}
	ruleSet := map[string]any{"defaultAction": status(reg.DefaultActionAllow, "Allow", "Deny"), "ipRules": rules}
	if len(reg.VirtualNetworkRules) > 0 { // the recordings' rule sets without any have no key for them
		vnets := []map[string]string{}
		for _, v := range reg.VirtualNetworkRules {
			vnets = append(vnets, map[string]string{"action": "Allow", "id": v})
		}
		ruleSet["virtualNetworkRules"] = vnets
	}
	policies := policiesJSON(reg)
	out := map[string]any{
		"id": reg.ID, "name": reg.ID[strings.LastIndex(reg.ID, "/")+1:], "type": registryType, "location": a.location(reg),
		"tags": tagsJSON(reg.Tags), "sku": map[string]string{"name": reg.SKU, "tier": reg.SKU}, "systemData": systemDataJSON(registrySystem(reg)),
		"properties": map[string]any{
			"loginServer": reg.LoginServer, "creationDate": acrTime(reg.CreatedAt), "provisioningState": "Succeeded",
			"adminUserEnabled": reg.AdminUserEnabled,
			"networkRuleSet":   ruleSet,
			"policies":         policies,
			// The flag is what the registry was set to; a private endpoint serves the data
			// endpoints without turning it on (its host names show), so infrastructure as code
			// that never set it sees no drift. UNCONFIRMED against a recording.
			"encryption": encryptionJSON(reg.Encryption), "dataEndpointEnabled": reg.DataEndpointEnabled,
			"dataEndpointHostNames": a.dataEndpoints(reg), "regionalEndpoints": "Disabled", "regionalEndpointHostNames": []string{},
			"endpointProtocol": "IPv4", "privateEndpointConnections": a.connectionsJSON(reg),
			"publicNetworkAccess":              status(reg.PublicNetworkAccess, "Enabled", "Disabled"),
			"networkRuleBypassOptions":         status(reg.BypassAzureServices, "AzureServices", "None"),
			"networkRuleBypassAllowedForTasks": reg.BypassForTasks, "zoneRedundancy": status(reg.ZoneRedundancy, "Enabled", "Disabled"),
			"anonymousPullEnabled": reg.AnonymousPullEnabled, "metadataSearch": status(reg.MetadataSearch, "Enabled", "Disabled"),
			"roleAssignmentMode": reg.RoleAssignmentMode, "autoGeneratedDomainNameLabelScope": "Unsecure", "writableCacheRepos": "Disabled",
		},
	}
	registryVersionOf(apiVersion).shape(out["properties"].(map[string]any), policies, reg.SKU == "Premium")
	if id := a.registryIdentityJSON(reg); id != nil {
		out["identity"] = id
	}
	return out
}

// registrySystem is a registry's systemData; one the world made was created when it started.
func registrySystem(reg *store.Registry) store.SystemData {
	s := reg.System
	if s.CreatedAt.IsZero() {
		s.CreatedAt = reg.CreatedAt
	}
	return s
}

func policiesJSON(reg *store.Registry) map[string]any {
	at := func(t time.Time) string {
		if t.IsZero() {
			t = reg.CreatedAt
		}
		return armTime(t)
	}
	days := func(d, def int) int {
		if d == 0 {
			return def
		}
		return d
	}
	return map[string]any{
		"quarantinePolicy": map[string]string{"status": status(reg.QuarantineEnabled, "enabled", "disabled")},
		"trustPolicy":      map[string]string{"type": "Notary", "status": status(reg.TrustEnabled, "enabled", "disabled")},
		"retentionPolicy": map[string]any{"days": reg.RetentionDays, "lastUpdatedTime": at(reg.RetentionUpdatedAt),
			"status": status(reg.RetentionEnabled, "enabled", "disabled")},
		"exportPolicy":                     map[string]string{"status": status(!reg.ExportDisabled, "enabled", "disabled")},
		"azureADAuthenticationAsArmPolicy": map[string]string{"status": status(reg.AuthAsARM, "enabled", "disabled")},
		"softDeletePolicy": map[string]any{"retentionDays": days(reg.SoftDeleteDays, 7), "lastUpdatedTime": at(reg.SoftDeleteUpdatedAt),
			"status": status(reg.SoftDeleteEnabled, "enabled", "disabled")},
	}
}

func encryptionJSON(e store.Encryption) map[string]any {
	if e.KeyIdentifier == "" {
		return map[string]any{"status": "disabled"}
	}
	// A key id without a version is rotated automatically (https://aka.ms/acr/cmk).
	versioned, rotation := e.KeyIdentifier, strings.Count(strings.TrimPrefix(e.KeyIdentifier, "https://"), "/") < 3
	kv := map[string]any{"keyIdentifier": e.KeyIdentifier, "versionedKeyIdentifier": versioned, "identity": e.Identity, "keyRotationEnabled": rotation}
	if !e.RotatedAt.IsZero() {
		kv["lastKeyRotationTimestamp"] = armTime(e.RotatedAt)
	}
	return map[string]any{"status": "enabled", "keyVaultProperties": kv}
}

// dataEndpoints are <name>.<location>.data.azurecr.io for the home location and each
// replication, when dedicated data endpoints are on (https://aka.ms/acr/dedicated-data-endpoints;
// a private endpoint turns them on).
func (a *api) dataEndpoints(reg *store.Registry) []string {
	out := []string{}
	if !DataEndpointsOn(a.cfg.Store, reg) {
		return out
	}
	reps, _ := a.replicationsOf(reg)
	for _, rep := range reps {
		out = append(out, reg.Name+"."+rep.Location+".data.azurecr.io")
	}
	return out
}

func (a *api) connectionsJSON(reg *store.Registry) []any {
	out := []any{}
	pes, _ := listedConnections(a.cfg.Store, reg)
	for _, pe := range pes {
		out = append(out, connectionJSON(reg, pe))
	}
	return out
}
