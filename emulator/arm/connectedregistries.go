package arm

import (
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Microsoft.ContainerRegistry/registries/connectedRegistries: on-premises replicas of a
// Premium registry with dedicated data endpoints
// (https://learn.microsoft.com/azure/container-registry/intro-connected-registry), as
// az acr connected-registry creates, lists, shows, updates, deactivates and deletes them. The
// on-premises runtime is not emulated: a connected registry never connects, so it stays
// Offline and Inactive and has no version. The shape follows the SDK models
// (azure-mgmt-containerregistry, 2021-08-01-preview, what az 2.45 uses), the REST examples
// (2025-11-01 ConnectedRegistryGet.json) and the Azure CLI's recording test_acr_connectedregistry
// (2021-08-01-preview): a create is answered 200, done, and a DELETE 200; an inactive connected
// registry's loginServer is {"tls":{"certificate":{}}}; a child's sync properties have no
// gatewayEndpoint; no statusDetails is written while there are none, and no garbageCollection
// at that version. Later versions answer writes as ACR's other children do (recordedDone) and
// write garbageCollection (from 2023-06-01-preview: UNCONFIRMED). The refusals' texts are
// UNCONFIRMED.

const connectedRegistryType = "Microsoft.ContainerRegistry/registries/connectedRegistries"

func (a *api) connectedRegistries() *Kind[store.ConnectedRegistry] {
	st := a.cfg.Store
	return &Kind[store.ConnectedRegistry]{Type: connectedRegistryType, Actions: crud(connectedRegistryType, "deactivate"), Max: 50,
		LROFor: recordedDone,
		SKU:    premiumOnly("ConnectedRegistryNotSupported", "Connected registries", "https://aka.ms/acr/connected-registry"),
		Get: func(c *Call) (*store.ConnectedRegistry, error) {
			return st.GetConnectedRegistry(c.Registry().Name, c.ID.Name())
		},
		List: func(c *Call) ([]*store.ConnectedRegistry, error) {
			return st.ListConnectedRegistries(c.Registry().Name)
		},
		Decode:   a.decodeConnectedRegistry,
		Validate: a.validateConnectedRegistry,
		Save: func(c *Call, old, next *store.ConnectedRegistry) error {
			next.System = touch(next.System, c.Caller, old == nil)
			return st.PutConnectedRegistry(next)
		},
		Delete: func(c *Call, cr *store.ConnectedRegistry) error {
			children, err := st.ListConnectedRegistries(cr.Registry)
			if err != nil {
				return err
			}
			self := c.Registry().ID + "/connectedRegistries/" + cr.Name
			for _, o := range children {
				if strings.EqualFold(o.ParentID, self) {
					return armError(http.StatusConflict, "ConnectedRegistryHasChildren", "The connected registry '"+cr.Name+
						"' is the parent of '"+o.Name+"': delete its children first.")
				}
			}
			return st.DeleteConnectedRegistry(cr.Registry, cr.Name)
		},
		JSON: func(c *Call, cr *store.ConnectedRegistry) any {
			return a.connectedRegistryJSON(c.Registry(), cr, connectedRegistryVersionOf(c.APIVersion()))
		},
		Do: map[string]func(*Call, *store.ConnectedRegistry) error{
			// az acr connected-registry deactivate: the runtime, were it there, would have to
			// be activated again with new credentials.
			"deactivate": func(c *Call, cr *store.ConnectedRegistry) error {
				next := cr.Copy()
				next.Active = false
				next.System = touch(next.System, c.Caller, false)
				if err := st.PutConnectedRegistry(next); err != nil {
					return err
				}
				c.W.WriteHeader(http.StatusOK)
				c.replied = true
				return nil
			},
		}}
}

type connectedRegistryBody struct {
	Properties *struct {
		Mode   *string `json:"mode"`
		Parent *struct {
			ID             *string             `json:"id"`
			SyncProperties *syncPropertiesBody `json:"syncProperties"`
		} `json:"parent"`
		SyncProperties *syncPropertiesBody `json:"syncProperties"` // a PATCH's (ConnectedRegistryUpdateParameters)
		ClientTokenIDs *[]string           `json:"clientTokenIds"`
		Logging        *struct {
			LogLevel       *string `json:"logLevel"`
			AuditLogStatus *string `json:"auditLogStatus"`
		} `json:"logging"`
		NotificationsList *[]string `json:"notificationsList"`
		GarbageCollection *struct {
			Enabled  *bool   `json:"enabled"`
			Schedule *string `json:"schedule"`
		} `json:"garbageCollection"`
	} `json:"properties"`
}

type syncPropertiesBody struct {
	TokenID    *string `json:"tokenId"`
	Schedule   *string `json:"schedule"`
	SyncWindow *string `json:"syncWindow"`
	MessageTTL *string `json:"messageTtl"`
}

var isoDuration = regexp.MustCompile(`^P(\d+D)?(T(\d+H)?(\d+M)?(\d+S)?)?$`)

// decodeConnectedRegistry: a PUT names the mode and the sync token; the mode and the parent
// are set once; a PATCH changes the sync schedule, logging, client tokens and notifications.
func (a *api) decodeConnectedRegistry(c *Call, old *store.ConnectedRegistry, _ bool) (*store.ConnectedRegistry, error) {
	var b connectedRegistryBody
	if err := c.Decode(&b); err != nil {
		return nil, err
	}
	bad := func(msg string) error { return armError(http.StatusBadRequest, "InvalidRequestContent", msg) }
	p := b.Properties
	if p == nil {
		if old == nil {
			return nil, bad("properties is required.")
		}
		return old.Copy(), nil
	}
	next := &store.ConnectedRegistry{Registry: c.Registry().Name, Name: c.ID.Name(), SyncSchedule: "* * * * *", MessageTTL: "P1D",
		LogLevel: "Information", AuditLog: "Disabled", GCEnabled: true, GCSchedule: "0 0 * * *"}
	if old != nil {
		next = old.Copy()
	}
	if old == nil {
		if !registryNameOK(c.ID.Name()) {
			return nil, armError(http.StatusBadRequest, "InvalidResourceName", "Resource name "+c.ID.Name()+
				" is invalid. The name can contain only alphanumeric characters and must be between 5 and 50 characters.")
		}
		if p.Mode == nil || p.Parent == nil || p.Parent.SyncProperties == nil || p.Parent.SyncProperties.TokenID == nil {
			return nil, bad("properties.mode and properties.parent.syncProperties.tokenId are required.")
		}
	}
	if p.Mode != nil {
		mode, err := enumValue("properties.mode", *p.Mode, "ReadWrite", "ReadOnly", "Registry", "Mirror")
		if err != nil {
			return nil, err
		}
		if old != nil && mode != old.Mode {
			return nil, bad("The property 'mode' of a connected registry cannot be updated.")
		}
		next.Mode = mode
	}
	sync := p.SyncProperties
	if p.Parent != nil {
		if p.Parent.ID != nil && *p.Parent.ID != "" {
			if old != nil && !strings.EqualFold(*p.Parent.ID, old.ParentID) {
				return nil, bad("The property 'parent' of a connected registry cannot be updated.")
			}
			next.ParentID = *p.Parent.ID
		}
		if p.Parent.SyncProperties != nil {
			sync = p.Parent.SyncProperties
		}
	}
	if sync != nil {
		for _, f := range []struct {
			field string
			v     *string
			dst   *string
			ok    func(string) bool
		}{
			{"tokenId", sync.TokenID, &next.SyncTokenID, func(v string) bool { return tokenOf(c, v) }},
			{"schedule", sync.Schedule, &next.SyncSchedule, func(v string) bool { return len(strings.Fields(v)) == 5 }},
			{"syncWindow", sync.SyncWindow, &next.SyncWindow, func(v string) bool { return v == "" || isoDuration.MatchString(v) }},
			{"messageTtl", sync.MessageTTL, &next.MessageTTL, func(v string) bool { return isoDuration.MatchString(v) }},
		} {
			if f.v == nil {
				continue
			}
			if !f.ok(*f.v) {
				return nil, bad("The value '" + *f.v + "' of syncProperties." + f.field + " is not valid.")
			}
			*f.dst = *f.v
		}
	}
	if p.ClientTokenIDs != nil {
		for _, t := range *p.ClientTokenIDs {
			if !tokenOf(c, t) {
				return nil, bad("'" + t + "' is not a token of this registry.")
			}
		}
		next.ClientTokens = slices.Clone(*p.ClientTokenIDs)
	}
	if l := p.Logging; l != nil {
		if l.LogLevel != nil {
			v, err := enumValue("properties.logging.logLevel", *l.LogLevel, "Debug", "Information", "Warning", "Error", "None")
			if err != nil {
				return nil, err
			}
			next.LogLevel = v
		}
		if l.AuditLogStatus != nil {
			v, err := enumValue("properties.logging.auditLogStatus", *l.AuditLogStatus, "Enabled", "Disabled")
			if err != nil {
				return nil, err
			}
			next.AuditLog = v
		}
	}
	if p.NotificationsList != nil {
		if len(*p.NotificationsList) > 100 {
			return nil, bad("properties.notificationsList holds at most 100 entries.")
		}
		next.Notifications = slices.Clone(*p.NotificationsList)
	}
	if gc := p.GarbageCollection; gc != nil {
		if gc.Enabled != nil {
			next.GCEnabled = *gc.Enabled
		}
		if gc.Schedule != nil {
			if len(strings.Fields(*gc.Schedule)) != 5 {
				return nil, bad("The value '" + *gc.Schedule + "' of garbageCollection.schedule is not a cron expression.")
			}
			next.GCSchedule = *gc.Schedule
		}
	}
	return next, nil
}

// tokenOf reports whether an id names a token of the call's registry (whether the token
// exists is not checked: the scope maps and tokens family is served on its own).
func tokenOf(c *Call, id string) bool {
	p, err := armid.Parse(id)
	return err == nil && !p.Collection() && strings.EqualFold(p.Key(), registryType+"/tokens") &&
		strings.EqualFold(p.Resource(1).String(), c.Registry().ID)
}

// validateConnectedRegistry needs the registry's dedicated data endpoints (az offers to turn
// them on) and a parent, when named, that is a connected registry of the same registry.
func (a *api) validateConnectedRegistry(c *Call, old, next *store.ConnectedRegistry) error {
	reg := c.Registry()
	if !reg.DataEndpointEnabled {
		return armError(http.StatusBadRequest, "DataEndpointNotEnabled", "Connected registries need the dedicated data endpoints of registry '"+
			reg.Name+"': enable them (dataEndpointEnabled) first.")
	}
	if old != nil || next.ParentID == "" {
		return nil
	}
	p, err := armid.Parse(next.ParentID)
	if err != nil || !strings.EqualFold(p.Key(), strings.ToLower(connectedRegistryType)) || !strings.EqualFold(p.Resource(1).String(), reg.ID) {
		return armError(http.StatusBadRequest, "InvalidRequestContent", "'"+next.ParentID+"' is not a connected registry of registry '"+reg.Name+"'.")
	}
	parent, err := a.cfg.Store.GetConnectedRegistry(reg.Name, p.Name())
	if err != nil {
		return err
	}
	if parent == nil {
		return armError(http.StatusNotFound, "ResourceNotFound", "The parent connected registry '"+p.Name()+"' was not found.")
	}
	if parent.Mode == "ReadOnly" && next.Mode == "ReadWrite" {
		return armError(http.StatusBadRequest, "InvalidRequestContent", "A ReadWrite connected registry cannot have the ReadOnly parent '"+parent.Name+"'.")
	}
	return nil
}

// connectedRegistryVersion is what an api-version's answers hold.
type connectedRegistryVersion struct {
	recent bool // garbageCollection written
}

func connectedRegistryVersionOf(apiVersion string) connectedRegistryVersion {
	return connectedRegistryVersion{recent: apiVersion >= "2023-06-01"}
}

func (a *api) connectedRegistryJSON(reg *store.Registry, cr *store.ConnectedRegistry, v connectedRegistryVersion) map[string]any {
	sync := map[string]any{"tokenId": cr.SyncTokenID, "schedule": cr.SyncSchedule, "messageTtl": cr.MessageTTL}
	if cr.SyncWindow != "" {
		sync["syncWindow"] = cr.SyncWindow
	}
	parent := map[string]any{"syncProperties": sync}
	if cr.ParentID != "" {
		parent["id"] = cr.ParentID // its gateway is the parent connected registry's, known once that one runs
	} else {
		sync["gatewayEndpoint"] = reg.Name + "." + a.location(reg) + ".data.azurecr.io"
	}
	activation := "Inactive"
	if cr.Active {
		activation = "Active"
	}
	props := map[string]any{"provisioningState": "Succeeded", "mode": cr.Mode, "connectionState": "Offline",
		"activation": map[string]string{"status": activation}, "parent": parent, "clientTokenIds": nonNil(cr.ClientTokens),
		// no runtime has connected: no host, no certificate
		"loginServer": map[string]any{"tls": map[string]any{"certificate": map[string]any{}}},
		"logging":     map[string]string{"logLevel": cr.LogLevel, "auditLogStatus": cr.AuditLog}, "notificationsList": nonNil(cr.Notifications)}
	if v.recent {
		props["garbageCollection"] = map[string]any{"enabled": cr.GCEnabled, "schedule": cr.GCSchedule}
	}
	return map[string]any{"id": reg.ID + "/connectedRegistries/" + cr.Name, "name": cr.Name, "type": connectedRegistryType,
		"systemData": systemDataJSON(cr.System), "properties": props}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
