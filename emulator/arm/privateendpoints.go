package arm

import (
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/go-chi/chi/v5"
)

// Minimal Microsoft.Network: a private endpoint in a VNet (one of the world's VNet origins)
// to a registry, and the registry's privateEndpointConnections that approve or reject it.
// Traffic from the VNet's origin proxy reaches the registry only while the connection is
// Approved. A connection requested automatically (privateLinkServiceConnections) is approved
// at once, as Azure does when the caller may approve it; a manual one waits as Pending.

func (a *api) rgResourceID(provider, name string) string {
	return "/subscriptions/" + a.cfg.SubscriptionID + "/resourceGroups/" + a.cfg.ResourceGroup + "/providers/" + provider + "/" + name
}

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
	conn := map[string]any{"name": pe.ConnectionName, "properties": map[string]any{
		"privateLinkServiceId": pe.RegistryID, "groupIds": []string{"registry"},
		"privateLinkServiceConnectionState": map[string]string{"status": pe.Status, "description": pe.Description}}}
	props := map[string]any{"provisioningState": "Succeeded",
		"subnet":                              map[string]string{"id": a.rgResourceID("Microsoft.Network/virtualNetworks", pe.VNet) + "/subnets/default"},
		"privateLinkServiceConnections":       []any{},
		"manualPrivateLinkServiceConnections": []any{}}
	if pe.Description == "manual" || pe.Status == "Pending" {
		props["manualPrivateLinkServiceConnections"] = []any{conn}
	} else {
		props["privateLinkServiceConnections"] = []any{conn}
	}
	return map[string]any{"id": pe.ID, "name": pe.Name, "type": "Microsoft.Network/privateEndpoints", "location": a.cfg.Location, "properties": props}
}

func (a *api) putPrivateEndpoint(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	if err := a.subscription(r); err != nil {
		return err
	}
	name := chi.URLParam(r, "name")
	id := a.rgResourceID("Microsoft.Network/privateEndpoints", name)
	if err := a.authorize(caller, id, "Microsoft.Network/privateEndpoints/write"); err != nil {
		return err
	}
	var b privateEndpointBody
	if err := decode(r, &b); err != nil {
		return err
	}
	vnet := vnetOfSubnet(b.Properties.Subnet.ID)
	if vnet == "" {
		return armError(http.StatusBadRequest, "InvalidRequestFormat", "properties.subnet.id must name a subnet of a virtual network.")
	}
	conns, status, desc := b.Properties.Automatic, "Approved", "Auto-Approved"
	if len(conns) == 0 {
		conns, status, desc = b.Properties.Manual, "Pending", "manual"
	}
	if len(conns) != 1 {
		return armError(http.StatusBadRequest, "InvalidRequestFormat", "Exactly one private link service connection is required.")
	}
	regID := conns[0].Properties.PrivateLinkServiceID
	reg, err := a.registryByID(regID)
	if err != nil {
		return err
	}
	if reg.SKU != "Premium" {
		return armError(http.StatusBadRequest, "PrivateEndpointNotSupported", "Private endpoints are supported only for the Premium SKU.")
	}
	if status == "Approved" && a.authorize(caller, reg.ID, "Microsoft.ContainerRegistry/registries/privateEndpointConnectionsApproval/action") != nil {
		status, desc = "Pending", "Awaiting approval"
	}
	connName := conns[0].Name
	if connName == "" {
		connName = name
	}
	pe := &store.PrivateEndpoint{ID: id, Name: name, VNet: vnet, RegistryID: reg.ID, ConnectionName: connName, Status: status, Description: desc}
	existing, err := a.cfg.Store.GetPrivateEndpoint(id)
	if err != nil {
		return err
	}
	if err := a.cfg.Store.PutPrivateEndpoint(pe); err != nil {
		return err
	}
	a.cfg.Logger.Info("private endpoint", "name", name, "vnet", vnet, "registry", reg.Name, "status", status)
	code := http.StatusCreated
	if existing != nil {
		code = http.StatusOK
	}
	return writeJSON(w, code, a.privateEndpointJSON(pe))
}

func (a *api) registryByID(id string) (*store.Registry, error) {
	name := id[strings.LastIndex(id, "/")+1:]
	reg, err := a.cfg.Store.GetRegistry(strings.ToLower(name))
	if err != nil {
		return nil, err
	}
	if reg == nil || !strings.EqualFold(reg.ID, id) {
		return nil, armError(http.StatusBadRequest, "PrivateLinkServiceNotFound", "The private link service '"+id+"' was not found.")
	}
	return reg, nil
}

func (a *api) getPrivateEndpoint(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	pe, err := a.loadPrivateEndpoint(r, caller, "read")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.privateEndpointJSON(pe))
}

func (a *api) loadPrivateEndpoint(r *http.Request, caller *Identity, verb string) (*store.PrivateEndpoint, error) {
	if err := a.subscription(r); err != nil {
		return nil, err
	}
	id := a.rgResourceID("Microsoft.Network/privateEndpoints", chi.URLParam(r, "name"))
	if err := a.authorize(caller, id, "Microsoft.Network/privateEndpoints/"+verb); err != nil {
		return nil, err
	}
	pe, err := a.cfg.Store.GetPrivateEndpoint(id)
	if err != nil {
		return nil, err
	}
	if pe == nil {
		return nil, armError(http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.Network/privateEndpoints/"+chi.URLParam(r, "name")+
			"' under resource group '"+a.cfg.ResourceGroup+"' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")
	}
	return pe, nil
}

func (a *api) deletePrivateEndpoint(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	pe, err := a.loadPrivateEndpoint(r, caller, "delete")
	if err != nil {
		if ae, ok := err.(*Error); ok && ae.Status == http.StatusNotFound {
			w.WriteHeader(http.StatusNoContent)
			return nil
		}
		return err
	}
	if err := a.cfg.Store.DeletePrivateEndpoint(pe.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

func (a *api) connections(reg *store.Registry) ([]*store.PrivateEndpoint, error) {
	return Connections(a.cfg.Store, reg)
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

func (a *api) connectionJSON(reg *store.Registry, pe *store.PrivateEndpoint) map[string]any {
	return map[string]any{"id": reg.ID + "/privateEndpointConnections/" + pe.ConnectionName, "name": pe.ConnectionName,
		"type": "Microsoft.ContainerRegistry/registries/privateEndpointConnections",
		"properties": map[string]any{"privateEndpoint": map[string]string{"id": pe.ID},
			"privateLinkServiceConnectionState": map[string]string{"status": pe.Status, "description": pe.Description, "actionsRequired": "None"},
			"provisioningState":                 "Succeeded"}}
}

func (a *api) listConnections(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	reg, err := a.loadRegistry(r)
	if err != nil {
		return err
	}
	if err := a.authorize(caller, reg.ID, "Microsoft.ContainerRegistry/registries/privateEndpointConnections/read"); err != nil {
		return err
	}
	pes, err := a.connections(reg)
	if err != nil {
		return err
	}
	out := []any{}
	for _, pe := range pes {
		out = append(out, a.connectionJSON(reg, pe))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (a *api) connection(r *http.Request, caller *Identity, action string) (*store.Registry, *store.PrivateEndpoint, error) {
	reg, err := a.loadRegistry(r)
	if err != nil {
		return nil, nil, err
	}
	if err := a.authorize(caller, reg.ID, action); err != nil {
		return nil, nil, err
	}
	pes, err := a.connections(reg)
	if err != nil {
		return nil, nil, err
	}
	for _, pe := range pes {
		if strings.EqualFold(pe.ConnectionName, chi.URLParam(r, "conn")) {
			return reg, pe, nil
		}
	}
	return nil, nil, armError(http.StatusNotFound, "PrivateEndpointConnectionNotFound", "The private endpoint connection '"+chi.URLParam(r, "conn")+"' was not found.")
}

func (a *api) getConnection(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	reg, pe, err := a.connection(r, caller, "Microsoft.ContainerRegistry/registries/privateEndpointConnections/read")
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.connectionJSON(reg, pe))
}

// putConnection approves or rejects a connection (az acr private-endpoint-connection approve).
func (a *api) putConnection(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	reg, pe, err := a.connection(r, caller, "Microsoft.ContainerRegistry/registries/privateEndpointConnections/write")
	if err != nil {
		return err
	}
	var b struct {
		Properties struct {
			State struct {
				Status      string `json:"status"`
				Description string `json:"description"`
			} `json:"privateLinkServiceConnectionState"`
		} `json:"properties"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	st := b.Properties.State.Status
	v, err := enumValue("properties.privateLinkServiceConnectionState.status", st, "Approved", "Rejected", "Pending", "Disconnected")
	if err != nil {
		return err
	}
	next, err := SetConnectionState(a.cfg.Store, pe, v, b.Properties.State.Description)
	if err != nil {
		return err
	}
	a.cfg.Logger.Info("private endpoint connection", "registry", reg.Name, "connection", pe.ConnectionName, "status", v)
	return writeJSON(w, http.StatusOK, a.connectionJSON(reg, next))
}

// SetConnectionState approves, rejects or disconnects a private endpoint connection, as a PUT or
// DELETE of the registry's privateEndpointConnections does; the portal's buttons share it.
func SetConnectionState(st *store.Store, pe *store.PrivateEndpoint, status, description string) (*store.PrivateEndpoint, error) {
	next := *pe
	next.Status, next.Description = status, description
	return &next, st.PutPrivateEndpoint(&next)
}

func (a *api) deleteConnection(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	_, pe, err := a.connection(r, caller, "Microsoft.ContainerRegistry/registries/privateEndpointConnections/delete")
	if err != nil {
		return err
	}
	if _, err := SetConnectionState(a.cfg.Store, pe, "Disconnected", "Removed by the registry owner"); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// putVirtualNetwork accepts VNets so templates and scripts that create one first keep working;
// the emulator's VNets are the world's VNet origins, entered through their proxies.
func (a *api) putVirtualNetwork(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	if err := a.subscription(r); err != nil {
		return err
	}
	name := chi.URLParam(r, "name")
	id := a.rgResourceID("Microsoft.Network/virtualNetworks", name)
	if err := a.authorize(caller, id, "Microsoft.Network/virtualNetworks/write"); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"id": id, "name": name, "type": "Microsoft.Network/virtualNetworks", "location": a.cfg.Location,
		"properties": map[string]any{"provisioningState": "Succeeded", "addressSpace": map[string]any{"addressPrefixes": []string{"10.0.0.0/16"}},
			"subnets": []any{map[string]any{"id": id + "/subnets/default", "name": "default", "properties": map[string]string{"addressPrefix": "10.0.0.0/24"}}}}})
}
