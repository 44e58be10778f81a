package arm

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Minimal Microsoft.Network: a private endpoint in a VNet (one of the world's VNet origins)
// to a registry, and the registry's privateEndpointConnections that approve or reject it.
// Traffic from the VNet's origin proxy reaches the registry only while the connection is
// Approved. A connection requested automatically (privateLinkServiceConnections) is approved
// at once, as Azure does when the caller may approve it; a manual one waits as Pending.

type plsConnection struct {
	Name       string `json:"name"`
	Properties struct {
		PrivateLinkServiceID string   `json:"privateLinkServiceId"`
		GroupIDs             []string `json:"groupIds"`
		RequestMessage       string   `json:"requestMessage"`
	} `json:"properties"`
}

type privateEndpointBody struct {
	Location   string `json:"location"`
	Properties struct {
		Subnet struct {
			ID string `json:"id"`
		} `json:"subnet"`
		Automatic []plsConnection `json:"privateLinkServiceConnections"`
		Manual    []plsConnection `json:"manualPrivateLinkServiceConnections"`
	} `json:"properties"`
}

func (a *api) privateEndpoints() *Kind[store.PrivateEndpoint] {
	const t = "Microsoft.Network/privateEndpoints"
	return &Kind[store.PrivateEndpoint]{Type: t, Actions: crud(t),
		ID:     func(pe *store.PrivateEndpoint) string { return pe.ID },
		Get:    func(c *Call) (*store.PrivateEndpoint, error) { return a.cfg.Store.GetPrivateEndpoint(c.ID.String()) },
		Decode: a.decodePrivateEndpoint,
		Save: func(_ *Call, _, pe *store.PrivateEndpoint) error {
			if err := a.cfg.Store.PutPrivateEndpoint(pe); err != nil {
				return err
			}
			// The network interface and its addresses exist from the start, approved or not.
			_, err := Members(a.cfg.Store, pe, a.cfg.Location)
			return err
		},
		Delete: func(_ *Call, pe *store.PrivateEndpoint) error { return a.cfg.Store.DeletePrivateEndpoint(pe.ID) },
		JSON:   func(_ *Call, pe *store.PrivateEndpoint) any { return a.privateEndpointJSON(pe) }}
}

// vnetOfSubnet extracts the VNet name of .../virtualNetworks/<vnet>/subnets/<subnet>.
func vnetOfSubnet(id string) string {
	parts := strings.Split(id, "/")
	for i := 0; i+1 < len(parts); i++ {
		if strings.EqualFold(parts[i], "virtualNetworks") {
			return parts[i+1]
		}
	}
	return ""
}

func (a *api) privateEndpointJSON(pe *store.PrivateEndpoint) map[string]any {
	list := "privateLinkServiceConnections"
	if pe.Manual || pe.Status == "Pending" {
		list = "manualPrivateLinkServiceConnections"
	}
	conn := map[string]any{"name": pe.ConnectionName, "id": pe.ID + "/" + list + "/" + pe.ConnectionName,
		"type": "Microsoft.Network/privateEndpoints/" + list,
		"properties": map[string]any{"provisioningState": "Succeeded", "privateLinkServiceId": pe.RegistryID, "groupIds": []string{RegistryGroup},
			"privateLinkServiceConnectionState": map[string]string{"status": pe.Status, "description": pe.Description, "actionsRequired": "None"}}}
	members, err := Members(a.cfg.Store, pe, a.cfg.Location)
	if err != nil {
		a.cfg.Logger.Error("private endpoint members", "endpoint", pe.ID, "err", err)
	}
	props := map[string]any{"provisioningState": "Succeeded", "resourceGuid": stableGUID("guid:" + pe.ID),
		"subnet":                              map[string]string{"id": a.subnetOf(pe)},
		"privateLinkServiceConnections":       []any{},
		"manualPrivateLinkServiceConnections": []any{},
		"customNetworkInterfaceName":          "",
		"ipConfigurations":                    []any{},
		"networkInterfaces":                   []any{map[string]string{"id": nicID(pe)}},
		"customDnsConfigs":                    customDNSConfigs(members, pe)}
	props[list] = []any{conn}
	return map[string]any{"id": pe.ID, "name": pe.Name, "type": "Microsoft.Network/privateEndpoints", "location": a.cfg.Location, "properties": props}
}

func (a *api) decodePrivateEndpoint(c *Call, _ *store.PrivateEndpoint, patch bool) (*store.PrivateEndpoint, error) {
	if patch {
		return nil, methodNotAllowed(http.MethodPatch)
	}
	var b privateEndpointBody
	if err := c.Decode(&b); err != nil {
		return nil, err
	}
	vnet := vnetOfSubnet(b.Properties.Subnet.ID)
	if vnet == "" {
		return nil, armError(http.StatusBadRequest, "InvalidRequestFormat", "properties.subnet.id must name a subnet of a virtual network.")
	}
	if err := a.checkSubnet(b.Properties.Subnet.ID); err != nil {
		return nil, err
	}
	conns, status, desc, manual := b.Properties.Automatic, "Approved", "Auto-Approved", false
	if len(conns) == 0 {
		conns, status, desc, manual = b.Properties.Manual, "Pending", "Awaiting Approval", true
	}
	if len(conns) != 1 {
		return nil, armError(http.StatusBadRequest, "InvalidRequestFormat", "Exactly one private link service connection is required.")
	}
	reg, err := a.registryByID(conns[0].Properties.PrivateLinkServiceID)
	if err != nil {
		return nil, err
	}
	if reg == nil {
		return nil, armError(http.StatusBadRequest, "PrivateLinkServiceNotFound", "The private link service '"+conns[0].Properties.PrivateLinkServiceID+"' was not found.")
	}
	if reg.SKU != "Premium" {
		return nil, armError(http.StatusBadRequest, "PrivateEndpointNotSupported", "Private endpoints are supported only for the Premium SKU.")
	}
	if status == "Approved" && a.authorize(c.Caller, reg.ID, "Microsoft.ContainerRegistry/registries/privateEndpointConnectionsApproval/action") != nil {
		status, desc = "Pending", "Awaiting approval"
	}
	connName := conns[0].Name
	if connName == "" {
		connName = c.ID.Name()
	}
	a.cfg.Logger.Info("private endpoint", "name", c.ID.Name(), "vnet", vnet, "registry", reg.Name, "status", status)
	if g := conns[0].Properties.GroupIDs; len(g) > 0 && (len(g) != 1 || !strings.EqualFold(g[0], RegistryGroup)) {
		return nil, armError(http.StatusBadRequest, "PrivateEndpointBadRequest", fmt.Sprintf("Private endpoint group ids %q are not supported by %s: use [%q].", g, reg.Name, RegistryGroup))
	}
	return &store.PrivateEndpoint{ID: c.ID.String(), Name: c.ID.Name(), VNet: vnet, RegistryID: reg.ID, ConnectionName: connName, Status: status,
		Description: desc, Manual: manual, Subnet: b.Properties.Subnet.ID}, nil
}

// registryByID finds a registry by its ARM id (any case), nil when there is none.
func (a *api) registryByID(id string) (*store.Registry, error) {
	reg, err := a.cfg.Store.GetRegistry(strings.ToLower(id[strings.LastIndex(id, "/")+1:]))
	if err != nil || reg == nil || !strings.EqualFold(reg.ID, id) {
		return nil, err
	}
	return reg, nil
}

// Connections are a registry's private endpoint connections (its privateEndpointConnections).
func Connections(st *store.Store, reg *store.Registry) ([]*store.PrivateEndpoint, error) {
	all, err := st.ListPrivateEndpoints()
	var out []*store.PrivateEndpoint
	for _, pe := range all {
		if strings.EqualFold(pe.RegistryID, reg.ID) {
			out = append(out, pe)
		}
	}
	return out, err
}

// listedConnections are the connections the registry shows: a deleted one (Disconnected) is
// gone from its list, as the az CLI's recording test_acr_with_private_endpoint shows after
// `az acr private-endpoint-connection delete`; the private endpoint keeps it, Disconnected.
func listedConnections(st *store.Store, reg *store.Registry) ([]*store.PrivateEndpoint, error) {
	pes, err := Connections(st, reg)
	return slices.DeleteFunc(pes, func(pe *store.PrivateEndpoint) bool { return pe.Status == "Disconnected" }), err
}

func connectionJSON(reg *store.Registry, pe *store.PrivateEndpoint) map[string]any {
	return map[string]any{"id": reg.ID + "/privateEndpointConnections/" + pe.ConnectionName, "name": pe.ConnectionName,
		"type": "Microsoft.ContainerRegistry/registries/privateEndpointConnections",
		"properties": map[string]any{"privateEndpoint": map[string]string{"id": pe.ID},
			"privateLinkServiceConnectionState": registrySideState(pe),
			"provisioningState":                 "Succeeded"}}
}

// registrySideState is a connection's state as the registry shows it: status and description,
// the description left out while none was written (the az CLI's recording
// test_acr_with_private_endpoint: {"status":"Pending"}, then {"status":"Approved","description":"..."}).
func registrySideState(pe *store.PrivateEndpoint) map[string]string {
	st := map[string]string{"status": pe.Status}
	if pe.Description != "" && !(pe.Manual && pe.Status == "Pending") {
		st["description"] = pe.Description
	}
	return st
}

// privateEndpointConnections: PUT approves or rejects a connection (az network
// private-endpoint-connection approve), DELETE disconnects it.
func (a *api) privateEndpointConnections() *Kind[store.PrivateEndpoint] {
	const t = "Microsoft.ContainerRegistry/registries/privateEndpointConnections"
	return &Kind[store.PrivateEndpoint]{Type: t, Actions: crud(t), LRO: AsyncConnection,
		Get: func(c *Call) (*store.PrivateEndpoint, error) {
			pes, err := listedConnections(a.cfg.Store, c.Registry())
			for _, pe := range pes {
				if strings.EqualFold(pe.ConnectionName, c.ID.Name()) {
					return pe, err
				}
			}
			return nil, err
		},
		List: func(c *Call) ([]*store.PrivateEndpoint, error) { return listedConnections(a.cfg.Store, c.Registry()) },
		NotFound: func(c *Call) error {
			return armError(http.StatusNotFound, "PrivateEndpointConnectionNotFound", "The private endpoint connection '"+c.ID.Name()+"' was not found.")
		},
		Decode: func(c *Call, old *store.PrivateEndpoint, _ bool) (*store.PrivateEndpoint, error) {
			if old == nil {
				return nil, c.notFound()
			}
			var b struct {
				Properties struct {
					State struct {
						Status      string `json:"status"`
						Description string `json:"description"`
					} `json:"privateLinkServiceConnectionState"`
				} `json:"properties"`
			}
			if err := c.Decode(&b); err != nil {
				return nil, err
			}
			v, err := enumValue("properties.privateLinkServiceConnectionState.status", b.Properties.State.Status, "Approved", "Rejected", "Pending", "Disconnected")
			if err != nil {
				return nil, err
			}
			next := *old
			next.Status, next.Description = v, b.Properties.State.Description
			return &next, nil
		},
		Save: func(c *Call, _, pe *store.PrivateEndpoint) error {
			pe.System = touch(pe.System, c.Caller, pe.System.CreatedAt.IsZero())
			a.cfg.Logger.Info("private endpoint connection", "registry", c.Registry().Name, "connection", pe.ConnectionName, "status", pe.Status)
			return a.cfg.Store.PutPrivateEndpoint(pe)
		},
		Delete: func(_ *Call, pe *store.PrivateEndpoint) error {
			_, err := SetConnectionState(a.cfg.Store, pe, "Disconnected", "Removed by the registry owner")
			return err
		},
		JSON: func(c *Call, pe *store.PrivateEndpoint) any {
			out := connectionJSON(c.Registry(), pe)
			if c.R.Method == http.MethodPut { // the recording's reads have none, the PUT's answer has it
				out["systemData"] = systemDataJSON(pe.System)
			}
			return out
		}}
}

// SetConnectionState approves, rejects or disconnects a private endpoint connection, as a PUT or
// DELETE of the registry's privateEndpointConnections does; the portal's buttons share it.
func SetConnectionState(st *store.Store, pe *store.PrivateEndpoint, status, description string) (*store.PrivateEndpoint, error) {
	next := *pe
	next.Status, next.Description = status, description
	return &next, st.PutPrivateEndpoint(&next)
}
