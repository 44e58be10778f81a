package arm

import (
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Virtual networks and their subnets, kept as ARM created them, so templates and the azurerm
// provider create, read back without drift, and delete them. A VNet named as a world's VNet
// origin is that origin: the private endpoints in its subnets carry the origin's traffic
// (privateendpoints.go). Only the address space and prefixes are checked; the rest of the
// writable properties are kept as sent (https://learn.microsoft.com/rest/api/virtualnetwork/virtual-networks).

const (
	vnetType   = "Microsoft.Network/virtualNetworks"
	subnetType = "Microsoft.Network/virtualNetworks/subnets"
	maxSubnets = 3000 // Azure's per-VNet limit
)

// readOnlyNetworkProps are computed by Azure and never taken from a request.
var readOnlyNetworkProps = []string{"provisioningState", "resourceGuid", "subnets", "ipConfigurations", "privateEndpoints", "purpose"}

type networkBody struct {
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties map[string]any    `json:"properties"`
}

func (a *api) virtualNetworks() *Kind[store.VirtualNetwork] {
	return &Kind[store.VirtualNetwork]{Type: vnetType, Actions: crud(vnetType), LRO: Async,
		Get:  func(c *Call) (*store.VirtualNetwork, error) { return a.cfg.Store.GetVirtualNetwork(c.ID.String()) },
		List: a.listVirtualNetworks, ID: func(v *store.VirtualNetwork) string { return v.ID },
		Decode: func(c *Call, old *store.VirtualNetwork, patch bool) (*store.VirtualNetwork, error) {
			var b networkBody
			if err := c.Decode(&b); err != nil {
				return nil, err
			}
			next := &store.VirtualNetwork{ID: c.ID.String(), Name: c.ID.Name(), ResourceGroup: c.ID.ResourceGroup, Location: a.cfg.Location}
			if old != nil {
				next = old.Copy()
			}
			if loc := normalizeLocation(b.Location); loc != "" {
				next.Location = loc
			}
			if b.Tags != nil || !patch {
				next.Tags = b.Tags
			}
			if b.Properties != nil || !patch {
				props := maps.Clone(b.Properties)
				// A VNet PUT that lists subnets replaces them; one that does not keeps them (the
				// azurerm provider manages subnets as resources of their own).
				if raw, ok := props["subnets"].([]any); ok {
					subnets, err := decodeInlineSubnets(raw)
					if err != nil {
						return nil, err
					}
					next.Subnets = subnets
				}
				for _, k := range readOnlyNetworkProps {
					delete(props, k)
				}
				next.Properties = props
			}
			if err := checkPrefixes(next.Properties, "addressSpace", "properties.addressSpace.addressPrefixes"); err != nil {
				return nil, err
			}
			return next, nil
		},
		Save:   func(_ *Call, _, v *store.VirtualNetwork) error { return a.cfg.Store.PutVirtualNetwork(v) },
		Delete: func(c *Call, v *store.VirtualNetwork) error { return a.deleteVirtualNetwork(v) },
		JSON:   func(_ *Call, v *store.VirtualNetwork) any { return a.vnetJSON(v) }}
}

func (a *api) listVirtualNetworks(c *Call) ([]*store.VirtualNetwork, error) {
	all, err := a.cfg.Store.ListVirtualNetworks()
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(v *store.VirtualNetwork) bool { return !strings.EqualFold(v.ResourceGroup, c.ID.ResourceGroup) }), nil
}

// deleteVirtualNetwork refuses, as Azure does, while a private endpoint is in one of its subnets.
func (a *api) deleteVirtualNetwork(v *store.VirtualNetwork) error {
	pes, err := a.cfg.Store.ListPrivateEndpoints()
	if err != nil {
		return err
	}
	for _, pe := range pes {
		if strings.HasPrefix(strings.ToLower(pe.Subnet), strings.ToLower(v.ID)+"/subnets/") {
			return armError(http.StatusBadRequest, "InUseSubnetCannotBeDeleted", fmt.Sprintf("Subnet %s is in use by %s and cannot be deleted. "+
				"In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.", pe.Subnet, nicID(pe)))
		}
	}
	return a.cfg.Store.DeleteVirtualNetwork(v.ID)
}

func (a *api) subnets() *Kind[store.Subnet] {
	vnet := func(c *Call) *store.VirtualNetwork { v, _ := c.parent.(*store.VirtualNetwork); return v }
	return &Kind[store.Subnet]{Type: subnetType, Actions: crud(subnetType), LRO: Async, Max: maxSubnets,
		Get: func(c *Call) (*store.Subnet, error) { return vnet(c).Subnet(c.ID.Name()), nil },
		List: func(c *Call) ([]*store.Subnet, error) {
			v := vnet(c)
			out := make([]*store.Subnet, len(v.Subnets))
			for i := range v.Subnets {
				out[i] = &v.Subnets[i]
			}
			return out, nil
		},
		Decode: func(c *Call, old *store.Subnet, patch bool) (*store.Subnet, error) {
			var b networkBody
			if err := c.Decode(&b); err != nil {
				return nil, err
			}
			next := &store.Subnet{Name: c.ID.Name()}
			if old != nil && patch {
				next.Properties = maps.Clone(old.Properties)
			}
			if b.Properties != nil || !patch {
				next.Properties = subnetProps(b.Properties)
			}
			return next, checkSubnetPrefixes(next.Properties)
		},
		Save: func(c *Call, _, s *store.Subnet) error {
			v := vnet(c).Copy()
			v.Subnets = slices.DeleteFunc(v.Subnets, func(o store.Subnet) bool { return strings.EqualFold(o.Name, s.Name) })
			v.Subnets = append(v.Subnets, *s)
			return a.cfg.Store.PutVirtualNetwork(v)
		},
		Delete: func(c *Call, s *store.Subnet) error {
			v := vnet(c)
			pes, err := a.cfg.Store.ListPrivateEndpoints()
			if err != nil {
				return err
			}
			id := v.ID + "/subnets/" + s.Name
			for _, pe := range pes {
				if strings.EqualFold(pe.Subnet, id) {
					return armError(http.StatusBadRequest, "InUseSubnetCannotBeDeleted", fmt.Sprintf("Subnet %s is in use by %s and cannot be deleted. "+
						"In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.", id, nicID(pe)))
				}
			}
			next := v.Copy()
			next.Subnets = slices.DeleteFunc(next.Subnets, func(o store.Subnet) bool { return strings.EqualFold(o.Name, s.Name) })
			return a.cfg.Store.PutVirtualNetwork(next)
		},
		JSON: func(c *Call, s *store.Subnet) any { return a.subnetJSON(vnet(c), s) }}
}

// decodeInlineSubnets reads the subnets a VNet PUT lists.
func decodeInlineSubnets(raw []any) ([]store.Subnet, error) {
	if len(raw) > maxSubnets {
		return nil, armError(http.StatusBadRequest, "InvalidRequestFormat", fmt.Sprintf("A virtual network holds at most %d subnets.", maxSubnets))
	}
	var out []store.Subnet
	for i, r := range raw {
		m, _ := r.(map[string]any)
		name, _ := m["name"].(string)
		if name == "" {
			return nil, armError(http.StatusBadRequest, "InvalidRequestFormat", fmt.Sprintf("properties.subnets[%d].name is required.", i))
		}
		props, _ := m["properties"].(map[string]any)
		s := store.Subnet{Name: name, Properties: subnetProps(props)}
		if err := checkSubnetPrefixes(s.Properties); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// subnetProps keeps a subnet's writable properties, with the defaults Azure answers.
func subnetProps(p map[string]any) map[string]any {
	out := maps.Clone(p)
	if out == nil {
		out = map[string]any{}
	}
	for _, k := range readOnlyNetworkProps {
		delete(out, k)
	}
	for k, v := range map[string]any{"privateEndpointNetworkPolicies": "Disabled", "privateLinkServiceNetworkPolicies": "Enabled"} {
		if _, set := out[k]; !set {
			out[k] = v
		}
	}
	return out
}

func checkSubnetPrefixes(p map[string]any) error {
	if s, ok := p["addressPrefix"].(string); ok {
		if _, err := netip.ParsePrefix(s); err != nil {
			return armError(http.StatusBadRequest, "InvalidAddressPrefixFormat", fmt.Sprintf("Address prefix %s of the subnet is not formatted correctly.", s))
		}
		return nil
	}
	return checkPrefixes(p, "", "properties.addressPrefixes")
}

// checkPrefixes checks the CIDR list at p[key].addressPrefixes (key "": p.addressPrefixes).
func checkPrefixes(p map[string]any, key, field string) error {
	m := p
	if key != "" {
		m, _ = p[key].(map[string]any)
	}
	list, _ := m["addressPrefixes"].([]any)
	for _, v := range list {
		s, _ := v.(string)
		if _, err := netip.ParsePrefix(s); err != nil {
			return armError(http.StatusBadRequest, "InvalidAddressPrefixFormat", fmt.Sprintf("Address prefix %v in %s is not formatted correctly.", v, field))
		}
	}
	return nil
}

func (a *api) vnetJSON(v *store.VirtualNetwork) map[string]any {
	props := maps.Clone(v.Properties)
	if props == nil {
		props = map[string]any{}
	}
	props["provisioningState"] = "Succeeded"
	props["resourceGuid"] = stableGUID("guid:" + strings.ToLower(v.ID))
	if _, ok := props["addressSpace"]; !ok {
		props["addressSpace"] = map[string]any{"addressPrefixes": []any{}}
	}
	subnets := []any{}
	for i := range v.Subnets {
		subnets = append(subnets, a.subnetJSON(v, &v.Subnets[i]))
	}
	props["subnets"] = subnets
	for k, d := range map[string]any{"virtualNetworkPeerings": []any{}, "enableDdosProtection": false, "privateEndpointVNetPolicies": "Disabled"} {
		if _, ok := props[k]; !ok {
			props[k] = d
		}
	}
	return map[string]any{"id": v.ID, "name": v.Name, "type": vnetType, "location": v.Location, "tags": tagsJSON(v.Tags),
		"etag": `W/"` + stableGUID("etag:"+strings.ToLower(v.ID)) + `"`, "properties": props}
}

func (a *api) subnetJSON(v *store.VirtualNetwork, s *store.Subnet) map[string]any {
	id := v.ID + "/subnets/" + s.Name
	props := maps.Clone(s.Properties)
	props["provisioningState"] = "Succeeded"
	var pes []any
	if all, err := a.cfg.Store.ListPrivateEndpoints(); err == nil {
		for _, pe := range all {
			if strings.EqualFold(pe.Subnet, id) {
				pes = append(pes, map[string]string{"id": pe.ID})
			}
		}
	}
	if len(pes) > 0 {
		props["privateEndpoints"] = pes
	}
	return map[string]any{"id": id, "name": s.Name, "type": subnetType, "etag": `W/"` + stableGUID("etag:"+strings.ToLower(id)) + `"`, "properties": props}
}

// checkSubnet: a private endpoint's subnet must exist when its VNet was created through ARM
// (VNets of the world's origins exist without it).
func (a *api) checkSubnet(subnetID string) error {
	i := strings.LastIndex(strings.ToLower(subnetID), "/subnets/")
	if i < 0 {
		return nil
	}
	v, err := a.cfg.Store.GetVirtualNetwork(subnetID[:i])
	if err != nil || v == nil {
		return err
	}
	if v.Subnet(subnetID[i+len("/subnets/"):]) == nil {
		return armError(http.StatusBadRequest, "InvalidResourceReference", fmt.Sprintf("Resource %s referenced by resource %s was not found. "+
			"Please make sure that the referenced resource exists, and that both resources are in the same region.", subnetID, "the private endpoint"))
	}
	return nil
}
