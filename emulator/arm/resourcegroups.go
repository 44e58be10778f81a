package arm

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"unicode"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Microsoft.Resources resource groups (https://learn.microsoft.com/rest/api/resources/resource-groups):
// PUT creates one (the azurerm provider's azurerm_resource_group, az group create), DELETE
// removes it with everything in it (202 and a Location, as ARM answers, which az group delete
// and the provider's destroy poll), HEAD is az group exists. The world's group exists from
// the start.

func (a *api) resourceGroups() *Kind[store.ResourceGroup] {
	const t = "Microsoft.Resources/subscriptions/resourceGroups"
	return &Kind[store.ResourceGroup]{Type: "Microsoft.Resources/resourceGroups", Actions: crud(t), LRO: AsyncDelete,
		ID:     func(g *store.ResourceGroup) string { return a.groupID(g.Name) },
		Get:    func(c *Call) (*store.ResourceGroup, error) { return a.cfg.Store.GetResourceGroup(c.ID.Name()) },
		List:   func(*Call) ([]*store.ResourceGroup, error) { return a.cfg.Store.ListResourceGroups() },
		Decode: a.decodeGroup,
		Save:   func(_ *Call, _, g *store.ResourceGroup) error { return a.cfg.Store.PutResourceGroup(g) },
		Delete: func(_ *Call, g *store.ResourceGroup) error { return a.deleteGroup(g) },
		JSON:   func(_ *Call, g *store.ResourceGroup) any { return a.groupJSON(g) }}
}

func (a *api) groupID(name string) string {
	return "/subscriptions/" + a.cfg.SubscriptionID + "/resourceGroups/" + name
}

func (a *api) groupJSON(g *store.ResourceGroup) map[string]any {
	out := map[string]any{"id": a.groupID(g.Name), "name": g.Name, "type": "Microsoft.Resources/resourceGroups", "location": g.Location,
		"properties": map[string]string{"provisioningState": "Succeeded"}}
	if len(g.Tags) > 0 {
		out["tags"] = g.Tags
	}
	if g.ManagedBy != "" {
		out["managedBy"] = g.ManagedBy
	}
	return out
}

type groupBody struct {
	Location  *string           `json:"location"`
	Tags      map[string]string `json:"tags"`
	ManagedBy *string           `json:"managedBy"`
}

func (a *api) decodeGroup(c *Call, old *store.ResourceGroup, patch bool) (*store.ResourceGroup, error) {
	var b groupBody
	if err := c.Decode(&b); err != nil {
		return nil, err
	}
	if old == nil {
		if err := groupNameOK(c.ID.Name()); err != nil {
			return nil, err
		}
		if b.Location == nil || *b.Location == "" {
			return nil, armError(http.StatusBadRequest, "LocationRequired", "The location property is required for this definition.")
		}
		loc := normalizeLocation(*b.Location)
		if !a.knownLocation(loc) {
			return nil, armError(http.StatusBadRequest, "LocationNotAvailableForResourceGroup", "The provided location '"+*b.Location+
				"' is not available for resource group. List of available regions is '"+strings.Join(locationNames(a.cfg.Location), ",")+"'.")
		}
		old = &store.ResourceGroup{Name: c.ID.Name(), Location: loc}
	} else if b.Location != nil && normalizeLocation(*b.Location) != old.Location {
		return nil, armError(http.StatusConflict, "InvalidResourceGroupLocation", fmt.Sprintf("Invalid resource group location '%s'. The Resource group already exists in location '%s'.",
			*b.Location, old.Location))
	}
	next := old.Copy()
	if !patch || b.Tags != nil {
		next.Tags = maps.Clone(b.Tags)
	}
	if b.ManagedBy != nil || !patch {
		next.ManagedBy = ""
		if b.ManagedBy != nil {
			next.ManagedBy = *b.ManagedBy
		}
	}
	return next, nil
}

// groupNameOK applies ARM's rule: 1 to 90 letters, digits, '-', '_', '.', '(' or ')', not
// ending with '.'. The texts for a long name or a final period are UNCONFIRMED.
func groupNameOK(name string) error {
	var bad []rune
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("-_.()", r) {
			bad = append(bad, r)
		}
	}
	switch {
	case len(bad) > 0:
		return armError(http.StatusBadRequest, "InvalidResourceGroup", "The provided resource group name '"+name+"' has these invalid characters: '"+
			string(bad)+"'. The name can only be a letter, digit, '-', '.', '(', ')' or '_'.")
	case len([]rune(name)) > 90 || strings.HasSuffix(name, "."):
		return armError(http.StatusBadRequest, "InvalidResourceGroup", "The provided resource group name '"+name+
			"' is invalid: it must be 1 to 90 characters long and cannot end with a period.")
	}
	return nil
}

// deleteGroup removes a group with everything in it: registries (their content, replications,
// identities), user-assigned identities, private endpoints, the resources services attached
// identities to, and the role assignments at or below it.
func (a *api) deleteGroup(g *store.ResourceGroup) error {
	st := a.cfg.Store
	items, err := a.trackedResources()
	if err != nil {
		return err
	}
	for _, it := range items {
		if !strings.EqualFold(it.group, g.Name) {
			continue
		}
		switch {
		case it.registry != nil:
			err = a.removeRegistry(it.registry)
		case it.principal != nil:
			err = st.DeletePrincipal(it.principal.ObjectID)
		case it.endpoint != nil:
			err = st.DeletePrivateEndpoint(it.endpoint.ID)
		case it.resource != nil:
			err = st.DeleteResource(it.resource.ID)
		case it.vnet != nil:
			err = st.DeleteVirtualNetwork(it.vnet.ID)
		}
		if err != nil {
			return err
		}
	}
	if err := st.DeleteRoleAssignmentsUnder(a.groupID(g.Name)); err != nil {
		return err
	}
	a.cfg.Logger.Info("resource group deleted", "resourceGroup", g.Name)
	return st.DeleteResourceGroup(g.Name)
}

// tracked is one item of the generic resources list, and what it is in the store.
type tracked struct {
	id, typ, location, group string
	tags                     map[string]string
	extra                    map[string]any // sku, systemData...
	registry                 *store.Registry
	principal                *store.Principal
	endpoint                 *store.PrivateEndpoint
	resource                 *store.Resource
	vnet                     *store.VirtualNetwork
}

// trackedResources lists every resource the emulator holds that ARM's resources list shows.
func (a *api) trackedResources() ([]tracked, error) {
	st := a.cfg.Store
	var out []tracked
	add := func(t tracked) {
		if id, err := armid.Parse(t.id); err == nil {
			t.group = id.ResourceGroup
		}
		out = append(out, t)
	}
	regs, err := st.ListRegistries()
	if err != nil {
		return nil, err
	}
	for _, reg := range regs {
		extra := map[string]any{"sku": map[string]string{"name": reg.SKU, "tier": reg.SKU}, "systemData": systemDataJSON(registrySystem(reg))}
		if id := a.registryIdentityJSON(reg); id != nil {
			extra["identity"] = id // as the resources list shows a registry with an identity
		}
		add(tracked{id: reg.ID, typ: registryType, location: a.location(reg), tags: reg.Tags, registry: reg, extra: extra})
		reps, err := a.replicationsOf(reg)
		if err != nil {
			return nil, err
		}
		for _, rep := range reps {
			add(tracked{id: reg.ID + "/replications/" + rep.Name, typ: replicationType, location: rep.Location, tags: rep.Tags,
				extra: map[string]any{"systemData": systemDataJSON(rep.System)}})
		}
		pools, err := st.ListAgentPools(reg.Name)
		if err != nil {
			return nil, err
		}
		for _, p := range pools {
			add(tracked{id: reg.ID + "/agentPools/" + p.Name, typ: agentPoolType, location: p.Location, tags: p.Tags,
				extra: map[string]any{"systemData": systemDataJSON(p.System)}})
		}
	}
	ps, err := st.ListPrincipals()
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.Kind == store.KindManagedIdentity && strings.Contains(strings.ToLower(p.ResourceID), "/providers/microsoft.managedidentity/userassignedidentities/") {
			add(tracked{id: p.ResourceID, typ: identityType, location: a.cfg.Location, principal: p})
		}
	}
	pes, err := st.ListPrivateEndpoints()
	if err != nil {
		return nil, err
	}
	for _, pe := range pes {
		add(tracked{id: pe.ID, typ: "Microsoft.Network/privateEndpoints", location: a.cfg.Location, endpoint: pe})
	}
	vnets, err := st.ListVirtualNetworks()
	if err != nil {
		return nil, err
	}
	for _, v := range vnets {
		add(tracked{id: v.ID, typ: vnetType, location: v.Location, tags: v.Tags, vnet: v})
	}
	rs, err := st.ListResources()
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if !strings.EqualFold(r.Type, registryType) {
			add(tracked{id: r.ID, typ: r.Type, location: a.cfg.Location, resource: r})
		}
	}
	return out, nil
}

// resourcesList serves GET /subscriptions/{sub}/resources and .../resourceGroups/{rg}/resources:
// what the caller may read, filtered by $filter=resourceType eq '<type>' (az finds a
// registry's group this way) and, for a group, by the group.
func (a *api) resourcesList(typ string) *Endpoint {
	return &Endpoint{Type: typ, Method: http.MethodGet, Serve: func(c *Call) error {
		items, err := a.trackedResources()
		if err != nil {
			return err
		}
		want, typed := quotedAfter(c.R.URL.Query().Get("$filter"), "resourceType eq ")
		out := []any{}
		for _, it := range items {
			if (typed && !strings.EqualFold(want, it.typ)) || (c.ID.ResourceGroup != "" && !strings.EqualFold(it.group, c.ID.ResourceGroup)) ||
				a.authorize(c.Caller, it.id, it.typ+"/read") != nil {
				continue
			}
			id, _ := armid.Parse(it.id)
			name := strings.Join(id.Names, "/")
			m := map[string]any{"id": it.id, "name": name, "type": it.typ, "location": it.location, "tags": tagsJSON(it.tags)}
			maps.Copy(m, it.extra)
			out = append(out, m)
		}
		return c.Reply(http.StatusOK, map[string]any{"value": out})
	}}
}
