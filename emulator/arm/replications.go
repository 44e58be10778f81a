package arm

import (
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Microsoft.ContainerRegistry/registries/replications: geo-replicas of a Premium registry
// (https://learn.microsoft.com/azure/container-registry/container-registry-geo-replication).
// The registry's home location is always listed as a replication named after it, as Azure
// does (the azurerm provider lists replications after creating a registry and leaves that one
// out); it is stored only once a PUT or PATCH changes it, and cannot be deleted. Content is
// not copied anywhere: every replica serves the one registry. The texts of the refusals below
// are UNCONFIRMED (az refuses these client-side: "Replications are only supported for
// managed registries in Premium SKU.").

func (a *api) replications() *Kind[store.Replication] {
	return &Kind[store.Replication]{Type: replicationType, Actions: crud(replicationType), LRO: AsyncLocation,
		SKU:      premiumOnly("GeoReplicationNotSupported", "Geo-replication", "https://aka.ms/acr/geo-replication"),
		Get:      a.getReplication,
		List:     func(c *Call) ([]*store.Replication, error) { return a.replicationsOf(c.Registry()) },
		Decode:   a.decodeReplication,
		Validate: a.validateReplication,
		Save: func(c *Call, old, next *store.Replication) error {
			next.System = touch(next.System, c.Caller, old == nil)
			if reg := c.Registry(); old == nil && next.Location != a.location(reg) && !reg.GeoReplicated {
				geo := reg.Copy()
				geo.GeoReplicated = true
				if err := a.cfg.Store.PutRegistry(geo); err != nil {
					return err
				}
			}
			return a.cfg.Store.PutReplication(next)
		},
		Delete: a.deleteReplication,
		JSON:   func(c *Call, rep *store.Replication) any { return replicationJSON(c.Registry(), rep) }}
}

// premiumOnly is the SKU rule of a Premium feature, in the text ARM uses for the others.
func premiumOnly(code, what, link string) func(reg *store.Registry) error {
	return func(reg *store.Registry) error {
		if reg.SKU == "Premium" {
			return nil
		}
		return armError(http.StatusBadRequest, code, what+" is not supported for the SKU "+reg.SKU+". For more information, please visit "+link+".")
	}
}

// home is the replication of the registry's own location.
func (a *api) home(reg *store.Registry) *store.Replication {
	loc := a.location(reg)
	return &store.Replication{Registry: reg.Name, Name: loc, Location: loc, RegionEndpointEnabled: true, ZoneRedundancy: reg.ZoneRedundancy,
		System: store.SystemData{CreatedBy: "acr-emulator", CreatedByType: "Application", CreatedAt: registrySystem(reg).CreatedAt}}
}

// replicationsOf lists a registry's replications, the home one included; none unless Premium.
func (a *api) replicationsOf(reg *store.Registry) ([]*store.Replication, error) {
	if reg == nil || reg.SKU != "Premium" {
		return nil, nil
	}
	reps, err := a.cfg.Store.ListReplications(reg.Name)
	if err != nil {
		return nil, err
	}
	home := a.home(reg)
	if !slices.ContainsFunc(reps, func(r *store.Replication) bool { return r.Location == home.Location }) {
		reps = append(reps, home)
	}
	slices.SortFunc(reps, func(x, y *store.Replication) int {
		return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name))
	})
	return reps, nil
}

func (a *api) getReplication(c *Call) (*store.Replication, error) {
	reps, err := a.replicationsOf(c.Registry())
	for _, r := range reps {
		if strings.EqualFold(r.Name, c.ID.Name()) {
			return r, err
		}
	}
	return nil, err
}

type replicationBody struct {
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties *struct {
		RegionEndpointEnabled *bool   `json:"regionEndpointEnabled"`
		ZoneRedundancy        *string `json:"zoneRedundancy"`
	} `json:"properties"`
}

// decodeReplication: a PUT needs a known location (the name is usually the location, as az
// names them), a PATCH changes tags and regionEndpointEnabled; zone redundancy is set once.
func (a *api) decodeReplication(c *Call, old *store.Replication, patch bool) (*store.Replication, error) {
	var b replicationBody
	if err := c.Decode(&b); err != nil {
		return nil, err
	}
	next := old
	switch {
	case old == nil:
		if !registryNameOK(c.ID.Name()) {
			return nil, armError(http.StatusBadRequest, "InvalidResourceName", "Resource name "+c.ID.Name()+
				" is invalid. The name can contain only alphanumeric characters and must be between 5 and 50 characters.")
		}
		if b.Location == "" {
			return nil, armError(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition.")
		}
		loc, err := a.checkLocation(b.Location, replicationType)
		if err != nil {
			return nil, err
		}
		next = &store.Replication{Registry: c.Registry().Name, Name: c.ID.Name(), Location: loc, RegionEndpointEnabled: true}
	case !patch && b.Location != "" && normalizeLocation(b.Location) != old.Location:
		return nil, moved(c.ID.Name(), old.Location, c.ID.ResourceGroup, normalizeLocation(b.Location))
	default:
		next = old.Copy()
	}
	if !patch || b.Tags != nil {
		next.Tags = maps.Clone(b.Tags)
	}
	if p := b.Properties; p != nil {
		if p.RegionEndpointEnabled != nil {
			next.RegionEndpointEnabled = *p.RegionEndpointEnabled
		}
		if p.ZoneRedundancy != nil {
			v, err := enumValue("properties.zoneRedundancy", *p.ZoneRedundancy, "Enabled", "Disabled")
			if err != nil {
				return nil, err
			}
			if old != nil && (v == "Enabled") != old.ZoneRedundancy {
				return nil, armError(http.StatusBadRequest, "InvalidRequestContent", "The property 'zoneRedundancy' cannot be updated.")
			}
			next.ZoneRedundancy = v == "Enabled"
		}
	}
	return next, nil
}

// validateReplication allows one replication per location.
func (a *api) validateReplication(c *Call, old, next *store.Replication) error {
	if old != nil {
		return nil
	}
	reps, err := a.replicationsOf(c.Registry())
	if err != nil {
		return err
	}
	for _, r := range reps {
		if r.Location == next.Location {
			return armError(http.StatusConflict, "ReplicationLocationInUse", "The registry already has the replication '"+r.Name+"' in location '"+r.Location+"'.")
		}
	}
	return nil
}

func (a *api) deleteReplication(c *Call, rep *store.Replication) error {
	if rep.Location == a.location(c.Registry()) {
		return armError(http.StatusBadRequest, "HomeReplicationCannotBeDeleted", "The replication '"+rep.Name+"' is in the registry's home location and cannot be deleted.")
	}
	c.opLocation = rep.Location
	return a.cfg.Store.DeleteReplication(rep.Registry, rep.Name)
}

func replicationJSON(reg *store.Registry, rep *store.Replication) map[string]any {
	sys := rep.System
	changed := sys.LastModifiedAt
	if changed.IsZero() {
		changed = sys.CreatedAt
	}
	return map[string]any{"id": reg.ID + "/replications/" + rep.Name, "name": rep.Name, "type": replicationType, "location": rep.Location,
		"tags": tagsJSON(rep.Tags), "systemData": systemDataJSON(sys),
		"properties": map[string]any{"provisioningState": "Succeeded",
			"status":                map[string]string{"displayStatus": "Ready", "timestamp": acrTime(changed)},
			"regionEndpointEnabled": rep.RegionEndpointEnabled, "zoneRedundancy": status(rep.ZoneRedundancy, "Enabled", "Disabled")}}
}
