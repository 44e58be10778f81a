package arm

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Microsoft.ContainerRegistry/registries (https://learn.microsoft.com/rest/api/containerregistry/registries):
// the registry resource, its credentials and usages, and checkNameAvailability. Shapes are in
// registry_json.go, the PUT/PATCH validation in registry_apply.go, the registry's own
// identity in registry_identity.go, importImage in importimage.go.

// registryDataActions are the registry actions the management plane checks that no route
// declares: import reads its source through ARM with pull/read.
var registryDataActions = []string{registryType + "/pull/read", registryType + "/push/write"}

func (a *api) registries() *Kind[store.Registry] {
	acts := crud(registryType, "listCredentials", "regenerateCredential", "importImage", "generateCredentials")
	acts.Do["listUsages"] = registryType + "/listUsages/read"
	return &Kind[store.Registry]{Type: registryType, Actions: acts,
		LROFor: func(c *Call) LRO {
			if registryVersionOf(c.APIVersion()).createdSync {
				return Done
			}
			return AsyncPut
		},
		// At 2021-08-01-preview a PATCH, or a PUT of an existing registry (az acr identity
		// remove), that changes the registry's identities or rotates its encryption key is
		// answered 201 (provisioningState Updating in Azure's answer) with an operation to poll
		// (recordings test_acr_identity and test_acr_encryption_with_cmk); other PATCHes, and
		// every PATCH of the later versions recorded, 200 (whether those versions answer such a
		// write so too is UNCONFIRMED).
		WriteLRO: func(c *Call, old, next *store.Registry) LRO {
			v := registryVersionOf(c.APIVersion())
			if old != nil && v.asyncIdentityPatch && (identitiesChanged(old, next) ||
				old.Encryption.KeyIdentifier != "" && next.Encryption.KeyIdentifier != "" && next.Encryption.KeyIdentifier != old.Encryption.KeyIdentifier) {
				return AsyncUpdate
			}
			if v.createdSync {
				return Done
			}
			return AsyncPut
		},
		ID:       func(reg *store.Registry) string { return reg.ID },
		Get:      a.getRegistry,
		List:     a.listRegistries,
		Decode:   a.decodeRegistry,
		Validate: a.validateRegistry,
		Save:     a.saveRegistry,
		Delete:   a.deleteRegistry,
		JSON:     func(c *Call, reg *store.Registry) any { return a.registryJSON(reg, c.APIVersion()) },
		Do: map[string]func(*Call, *store.Registry) error{
			"listCredentials": a.listCredentials, "regenerateCredential": a.regenerateCredential,
			"listUsages": a.listUsages, "importImage": a.importImage, "generateCredentials": a.generateCredentials,
		}}
}

// groupOf is the resource group in an ARM id.
func groupOf(id string) string {
	p, _ := armid.Parse(id)
	return p.ResourceGroup
}

// getRegistry finds a registry by name; registry names are global (DNS), so one in another
// resource group is not this path's.
func (a *api) getRegistry(c *Call) (*store.Registry, error) {
	reg, err := a.cfg.Store.GetRegistry(strings.ToLower(c.ID.Name()))
	if err != nil || reg == nil || !strings.EqualFold(groupOf(reg.ID), c.ID.ResourceGroup) {
		return nil, err
	}
	return reg, nil
}

func (a *api) listRegistries(c *Call) ([]*store.Registry, error) {
	regs, err := a.cfg.Store.ListRegistries()
	var out []*store.Registry
	for _, reg := range regs {
		if c.ID.ResourceGroup == "" || strings.EqualFold(groupOf(reg.ID), c.ID.ResourceGroup) {
			out = append(out, reg)
		}
	}
	return out, err
}

// validateRegistry checks what the registry's body cannot: a name no other registry has, no
// replications left on a registry leaving Premium (UNCONFIRMED text), its identities.
func (a *api) validateRegistry(c *Call, old, next *store.Registry) error {
	if old == nil {
		taken, err := a.cfg.Store.GetRegistry(next.Name)
		if err != nil {
			return err
		}
		if taken != nil {
			return armError(http.StatusConflict, "AlreadyInUse", "The registry name '"+next.Name+"' is already in use.")
		}
	}
	if old != nil && old.SKU == "Premium" && next.SKU != "Premium" {
		reps, err := a.cfg.Store.ListReplications(next.Name)
		if err != nil {
			return err
		}
		for _, rep := range reps {
			if rep.Location != a.location(next) {
				return armError(http.StatusBadRequest, "RegistrySkuDowngradeNotAllowed", "The registry has replications: delete them before changing the SKU to "+next.SKU+".")
			}
		}
	}
	return a.validateIdentities(c, old, next)
}

func (a *api) saveRegistry(c *Call, old, next *store.Registry) error {
	if err := a.saveIdentity(old, next); err != nil {
		return err
	}
	if old == nil {
		a.cfg.Logger.Info("registry created", "registry", next.Name, "sku", next.SKU, "location", next.Location)
		return a.cfg.Create(next)
	}
	a.cfg.Logger.Info("registry updated", "registry", next.Name, "publicNetworkAccess", status(next.PublicNetworkAccess, "Enabled", "Disabled"),
		"defaultAction", status(next.DefaultActionAllow, "Allow", "Deny"), "ipRules", next.IPRules,
		"networkRuleBypassOptions", status(next.BypassAzureServices, "AzureServices", "None"))
	return a.cfg.Store.PutRegistry(next)
}

// deleteRegistry removes a registry; from 2026-01-01-preview, and in every api-version for a
// registry that was geo-replicated, ACR answers 202 with a Location under the registry's
// location (locations/{location}/operationResults), as recorded; the geo-replicated one's 202
// carries the registry, provisioningState Deleting.
func (a *api) deleteRegistry(c *Call, reg *store.Registry) error {
	var body map[string]any
	if reg.GeoReplicated {
		body = a.registryJSON(reg, c.APIVersion())
		if props, ok := body["properties"].(map[string]any); ok {
			props["provisioningState"] = "Deleting"
		}
	}
	if err := a.removeRegistry(reg); err != nil {
		return err
	}
	if !registryVersionOf(c.APIVersion()).deleteAsync && body == nil {
		return nil
	}
	op := a.ops.newOp("/subscriptions/"+c.ID.Subscription+"/providers/Microsoft.ContainerRegistry/locations/"+a.location(reg)+"/operationResults",
		"registries", headerLocation, nil, nil)
	a.ops.accept(c, op)
	c.replied = true
	if body != nil {
		return writeJSON(c.W, http.StatusAccepted, body)
	}
	c.W.WriteHeader(http.StatusAccepted)
	return nil
}

// removeRegistry deletes a registry with its content, replications, children, identities (its
// own and its credential sets') and the role assignments on it (also when its resource group
// is deleted).
func (a *api) removeRegistry(reg *store.Registry) error {
	st := a.cfg.Store
	sets, err := st.ListCredentialSets(reg.Name)
	if err != nil {
		return err
	}
	for _, set := range sets {
		if err := st.DeletePrincipal(set.PrincipalID); err != nil {
			return err
		}
	}
	if err := a.cfg.Delete(reg.Name); err != nil {
		return err
	}
	if err := st.DeleteResource(reg.ID); err != nil {
		return err
	}
	if reg.SystemIdentity != "" {
		if err := st.DeletePrincipal(reg.SystemIdentity); err != nil {
			return err
		}
	}
	a.cfg.Logger.Info("registry deleted", "registry", reg.Name)
	return st.DeleteRoleAssignmentsUnder(reg.ID)
}

// checkNameAvailability (registry names are global on Azure; here, per emulator).
func (a *api) checkNameAvailability() *Endpoint {
	return &Endpoint{Type: "Microsoft.ContainerRegistry/checkNameAvailability", Method: http.MethodPost,
		Action: "Microsoft.ContainerRegistry/checkNameAvailability/read",
		Serve: func(c *Call) error {
			var b struct{ Name, Type string }
			if err := c.Decode(&b); err != nil {
				return err
			}
			if !strings.EqualFold(b.Type, registryType) {
				return armError(http.StatusBadRequest, "InvalidRequestContent", "The type '"+b.Type+"' is not valid; use Microsoft.ContainerRegistry/registries.")
			}
			if !registryNameOK(b.Name) {
				return c.Reply(http.StatusOK, map[string]any{"nameAvailable": false, "reason": "Invalid",
					"message": "The specified resource name is invalid. It can contain only alphanumeric characters and must be between 5 and 50 characters."})
			}
			reg, err := a.cfg.Store.GetRegistry(strings.ToLower(b.Name))
			if err != nil {
				return err
			}
			if reg != nil {
				return c.Reply(http.StatusOK, map[string]any{"nameAvailable": false, "reason": "AlreadyExists",
					"message": "The registry " + b.Name + " is already in use."})
			}
			return c.Reply(http.StatusOK, map[string]any{"nameAvailable": true})
		}}
}

func (a *api) regenerateCredential(c *Call, reg *store.Registry) error {
	var b struct{ Name string }
	if err := c.Decode(&b); err != nil {
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
	return writeCredentials(c, next)
}

func (a *api) listUsages(c *Call, reg *store.Registry) error {
	size, err := a.cfg.Store.RegistryBytes(reg.Name)
	if err != nil {
		return err
	}
	webhooks, err := a.webhookUsage(reg)
	if err != nil {
		return err
	}
	limits := map[string]int64{"Basic": 10 << 30, "Standard": 100 << 30, "Premium": 500 << 30}
	return c.Reply(http.StatusOK, map[string]any{"value": append([]any{
		map[string]any{"name": "Size", "limit": limits[reg.SKU], "currentValue": size, "unit": "Bytes"},
		webhooks,
	}, a.tokenUsages(reg)...)})
}

func writeCredentials(c *Call, reg *store.Registry) error {
	return c.Reply(http.StatusOK, map[string]any{"username": reg.AdminUsername, "passwords": []map[string]string{
		{"name": "password", "value": reg.AdminPasswords[0]}, {"name": "password2", "value": reg.AdminPasswords[1]}}})
}

func newPassword() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (a *api) listCredentials(c *Call, reg *store.Registry) error {
	if !reg.AdminUserEnabled {
		return armError(http.StatusBadRequest, "AdminUserDisabled", "The admin user is disabled.")
	}
	return writeCredentials(c, reg)
}

// identitiesChanged reports whether a write gave or took a registry's system-assigned identity
// or changed its user-assigned ones.
func identitiesChanged(old, next *store.Registry) bool {
	return (old.SystemIdentity == "") != (next.SystemIdentity == "") || !slices.EqualFunc(old.UserIdentities, next.UserIdentities, strings.EqualFold)
}
