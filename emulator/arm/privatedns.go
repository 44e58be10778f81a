package arm

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// A private endpoint to a registry is wired as Azure wires it
// (https://learn.microsoft.com/azure/container-registry/container-registry-private-link):
// its network interface holds one private IP per group member, "registry" for the login
// server and "registry_data_<region>" for the dedicated data endpoint of the home region and
// of each replication, each with the FQDN clients resolve to it. The endpoint shows them as
// customDnsConfigs once its connection is approved, and its privateDnsZoneGroups (the
// privatelink.azurecr.io zone) as record sets. A registry with a private endpoint has
// dedicated data endpoints, as on Azure.
//
// Addresses come from the VNet's subnet: the emulator's VNets are 10.0.0.0/24, their own
// machine (what the VNet's origin proxy stands for) is 10.0.0.4, and private endpoint members
// count up from 10.0.0.5 in the order they are created. The order of the members and of
// customDnsConfigs (registry first) is UNCONFIRMED.

// VNetMachineIP is the address a VNet origin's requests come from inside its VNet.
var VNetMachineIP = netip.MustParseAddr("10.0.0.4")

var firstMemberIP = netip.MustParseAddr("10.0.0.5")

// RegistryGroup is a registry's private link group id, and the login server member's name.
const RegistryGroup = "registry"

// Member is one group member of a private endpoint to a registry.
type Member struct {
	Name string // registry, registry_data_<region> (privateLinkConnectionProperties.requiredMemberName)
	FQDN string // myregistry.azurecr.io, myregistry.eastus.data.azurecr.io
	IP   string
}

// DataMember is the member name of a registry's data endpoint in a region.
func DataMember(region string) string { return "registry_data_" + region }

// DataEndpointHost is a registry's dedicated data endpoint in a region.
func DataEndpointHost(registry, region string) string {
	return strings.ToLower(registry) + "." + region + ".data.azurecr.io"
}

// RegistryLocations are the regions a registry is in: its home location (fallback when it has
// none of its own) and its replications', home first.
func RegistryLocations(st *store.Store, reg *store.Registry, fallback string) ([]string, error) {
	home := reg.Location
	if home == "" {
		home = fallback
	}
	out := []string{home}
	reps, err := st.ListReplications(reg.Name)
	var others []string
	for _, r := range reps {
		if r.Location != home && !slices.Contains(others, r.Location) {
			others = append(others, r.Location)
		}
	}
	slices.Sort(others)
	return append(out, others...), err
}

// Members lists a private endpoint's members with their addresses, handing out addresses to
// members that have none yet (a replication added after the endpoint). fallback is the
// world's location, for registries without one. The registry gone, only what was allocated is
// left.
func Members(st *store.Store, pe *store.PrivateEndpoint, fallback string) ([]Member, error) {
	reg, err := registryOfEndpoint(st, pe)
	if err != nil {
		return nil, err
	}
	var out []Member
	if reg == nil {
		for name, ip := range pe.IPs {
			out = append(out, Member{Name: name, IP: ip})
		}
		slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
		return out, nil
	}
	locs, err := RegistryLocations(st, reg, fallback)
	if err != nil {
		return nil, err
	}
	out = []Member{{Name: RegistryGroup, FQDN: strings.ToLower(reg.Name) + ".azurecr.io"}}
	for _, l := range locs {
		out = append(out, Member{Name: DataMember(l), FQDN: DataEndpointHost(reg.Name, l)})
	}
	names := make([]string, len(out))
	for i, m := range out {
		names[i] = m.Name
	}
	if got, err := st.AllocateEndpointIPs(pe.ID, names, firstMemberIP); err != nil {
		return nil, err
	} else if got != nil {
		pe = got
	}
	for i := range out {
		out[i].IP = pe.IPs[out[i].Name]
	}
	return out, nil
}

func registryOfEndpoint(st *store.Store, pe *store.PrivateEndpoint) (*store.Registry, error) {
	name := pe.RegistryID[strings.LastIndex(pe.RegistryID, "/")+1:]
	reg, err := st.GetRegistry(strings.ToLower(name))
	if err != nil || reg == nil || !strings.EqualFold(reg.ID, pe.RegistryID) {
		return nil, err
	}
	return reg, nil
}

// DataEndpointsOn reports whether a registry's blobs download from its dedicated data
// endpoints: dataEndpointEnabled, or a private endpoint connection (Approved or Pending), which
// turns them on as on Azure. Whether a rejected connection keeps them on is UNCONFIRMED (the
// emulator: no).
func DataEndpointsOn(st *store.Store, reg *store.Registry) bool {
	if reg.DataEndpointEnabled {
		return true
	}
	pes, _ := Connections(st, reg)
	return slices.ContainsFunc(pes, func(pe *store.PrivateEndpoint) bool { return pe.Status == "Approved" || pe.Status == "Pending" })
}

// stableGUID is a GUID derived from s, for ids Azure makes up once (resourceGuid, the network
// interface's name) and that must not change from one GET to the next.
func stableGUID(s string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(s)))
	h := hex.EncodeToString(sum[:16])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// nicName is the private endpoint's network interface name, as Azure forms it: <pe>.nic.<guid>.
func nicName(pe *store.PrivateEndpoint) string { return pe.Name + ".nic." + stableGUID("nic:"+pe.ID) }

func nicID(pe *store.PrivateEndpoint) string {
	id, _ := armid.Parse(pe.ID)
	return id.ScopePath() + "/providers/Microsoft.Network/networkInterfaces/" + nicName(pe)
}

// customDNSConfigs are the FQDN-to-IP pairs an approved endpoint shows (none before approval,
// as the az CLI's recording test_acr_with_private_endpoint shows for a Pending one).
func customDNSConfigs(members []Member, pe *store.PrivateEndpoint) []any {
	out := []any{}
	if pe.Status != "Approved" {
		return out
	}
	for _, m := range members {
		if m.FQDN != "" {
			out = append(out, map[string]any{"fqdn": m.FQDN, "ipAddresses": []string{m.IP}})
		}
	}
	return out
}

// networkInterfaces serves GET of a private endpoint's network interface, where az network nic
// show finds each member's privateLinkConnectionProperties (the commands of the private link
// article above).
func (a *api) networkInterfaces() *Kind[store.PrivateEndpoint] {
	const t = "Microsoft.Network/networkInterfaces"
	return &Kind[store.PrivateEndpoint]{Type: t, Actions: Actions{Read: t + "/read"},
		Get: func(c *Call) (*store.PrivateEndpoint, error) {
			pes, err := a.cfg.Store.ListPrivateEndpoints()
			for _, pe := range pes {
				id, _ := armid.Parse(pe.ID)
				if strings.EqualFold(nicName(pe), c.ID.Name()) && strings.EqualFold(id.ResourceGroup, c.ID.ResourceGroup) {
					return pe, err
				}
			}
			return nil, err
		},
		JSON: func(c *Call, pe *store.PrivateEndpoint) any { return a.nicJSON(c, pe) }}
}

func (a *api) nicJSON(c *Call, pe *store.PrivateEndpoint) map[string]any {
	members, err := Members(a.cfg.Store, pe, a.cfg.Location)
	if err != nil {
		a.cfg.Logger.Error("private endpoint members", "endpoint", pe.ID, "err", err)
	}
	id := nicID(pe)
	configs := []any{}
	for i, m := range members {
		name := "privateEndpointIpConfig." + stableGUID("ipconfig:"+pe.ID+":"+m.Name)
		configs = append(configs, map[string]any{"name": name, "id": id + "/ipConfigurations/" + name,
			"type": "Microsoft.Network/networkInterfaces/ipConfigurations",
			"properties": map[string]any{"provisioningState": "Succeeded", "privateIPAddress": m.IP, "privateIPAllocationMethod": "Dynamic",
				"subnet": map[string]string{"id": a.subnetOf(pe)}, "primary": i == 0, "privateIPAddressVersion": "IPv4",
				"privateLinkConnectionProperties": map[string]any{"groupId": RegistryGroup, "requiredMemberName": m.Name, "fqdns": fqdns(m)}}})
	}
	return map[string]any{"id": id, "name": nicName(pe), "type": "Microsoft.Network/networkInterfaces", "location": a.cfg.Location,
		"properties": map[string]any{"provisioningState": "Succeeded", "resourceGuid": stableGUID("nicguid:" + pe.ID), "ipConfigurations": configs,
			"dnsSettings": map[string]any{"dnsServers": []string{}, "appliedDnsServers": []string{}}, "enableAcceleratedNetworking": false,
			"enableIPForwarding": false, "privateEndpoint": map[string]string{"id": pe.ID}, "nicType": "Standard"}}
}

func fqdns(m Member) []string {
	if m.FQDN == "" {
		return []string{}
	}
	return []string{m.FQDN}
}

// subnetOf is the subnet id the endpoint was created in.
func (a *api) subnetOf(pe *store.PrivateEndpoint) string {
	if pe.Subnet != "" {
		return pe.Subnet
	}
	id, _ := armid.Parse(pe.ID)
	return id.ScopePath() + "/providers/Microsoft.Network/virtualNetworks/" + pe.VNet + "/subnets/default"
}

// privateDNSZoneGroups: PUT, GET, DELETE under a private endpoint. The groups are kept and
// shown with the record sets Azure writes into the zone for an approved endpoint (one A record
// per member, named after its FQDN in privatelink.azurecr.io, TTL 10); the emulator's VNets
// resolve their private endpoints' names whether or not a group exists (see world origins'
// privateDnsRecords for a DNS that lacks some).
func (a *api) privateDNSZoneGroups() *Kind[store.DNSZoneGroup] {
	const t = "Microsoft.Network/privateEndpoints/privateDnsZoneGroups"
	endpoint := func(c *Call) *store.PrivateEndpoint { pe, _ := c.parent.(*store.PrivateEndpoint); return pe }
	return &Kind[store.DNSZoneGroup]{Type: t, Actions: crud(t),
		Get: func(c *Call) (*store.DNSZoneGroup, error) {
			for _, g := range endpoint(c).ZoneGroups {
				if strings.EqualFold(g.Name, c.ID.Name()) {
					return &g, nil
				}
			}
			return nil, nil
		},
		List: func(c *Call) ([]*store.DNSZoneGroup, error) {
			var out []*store.DNSZoneGroup
			for _, g := range endpoint(c).ZoneGroups {
				out = append(out, &g)
			}
			return out, nil
		},
		Decode: decodeZoneGroup,
		Save: func(c *Call, old, g *store.DNSZoneGroup) error {
			next := endpoint(c).Copy()
			next.ZoneGroups = slices.DeleteFunc(next.ZoneGroups, func(o store.DNSZoneGroup) bool { return strings.EqualFold(o.Name, g.Name) })
			next.ZoneGroups = append(next.ZoneGroups, *g)
			return a.cfg.Store.PutPrivateEndpoint(next)
		},
		Delete: func(c *Call, g *store.DNSZoneGroup) error {
			next := endpoint(c).Copy()
			next.ZoneGroups = slices.DeleteFunc(next.ZoneGroups, func(o store.DNSZoneGroup) bool { return strings.EqualFold(o.Name, g.Name) })
			return a.cfg.Store.PutPrivateEndpoint(next)
		},
		JSON: func(c *Call, g *store.DNSZoneGroup) any { return a.zoneGroupJSON(endpoint(c), g) }}
}

// maxZoneConfigs is how many zones one group links (Azure's limit is 5: UNCONFIRMED text).
const maxZoneConfigs = 5

func decodeZoneGroup(c *Call, _ *store.DNSZoneGroup, patch bool) (*store.DNSZoneGroup, error) {
	if patch {
		return nil, methodNotAllowed(http.MethodPatch)
	}
	var b struct {
		Properties struct {
			Configs []struct {
				Name       string `json:"name"`
				Properties struct {
					ZoneID string `json:"privateDnsZoneId"`
				} `json:"properties"`
			} `json:"privateDnsZoneConfigs"`
		} `json:"properties"`
	}
	if err := c.Decode(&b); err != nil {
		return nil, err
	}
	if len(b.Properties.Configs) > maxZoneConfigs {
		return nil, armError(http.StatusBadRequest, "InvalidRequestFormat", fmt.Sprintf("A private DNS zone group can link at most %d private DNS zones.", maxZoneConfigs))
	}
	g := &store.DNSZoneGroup{Name: c.ID.Name()}
	for i, z := range b.Properties.Configs {
		zid, err := armid.Parse(z.Properties.ZoneID)
		if err != nil || !strings.EqualFold(zid.Key(), "microsoft.network/privatednszones") {
			return nil, armError(http.StatusBadRequest, "InvalidRequestFormat",
				fmt.Sprintf("properties.privateDnsZoneConfigs[%d].properties.privateDnsZoneId must be the id of a Microsoft.Network/privateDnsZones resource.", i))
		}
		name := z.Name
		if name == "" {
			name = strings.ReplaceAll(zid.Name(), ".", "-")
		}
		g.Zones = append(g.Zones, store.DNSZoneConfig{Name: name, ZoneID: z.Properties.ZoneID})
	}
	return g, nil
}

func (a *api) zoneGroupJSON(pe *store.PrivateEndpoint, g *store.DNSZoneGroup) map[string]any {
	id := pe.ID + "/privateDnsZoneGroups/" + g.Name
	members, err := Members(a.cfg.Store, pe, a.cfg.Location)
	if err != nil {
		a.cfg.Logger.Error("private endpoint members", "endpoint", pe.ID, "err", err)
	}
	configs := []any{}
	for _, z := range g.Zones {
		zid, _ := armid.Parse(z.ZoneID)
		records := []any{}
		zone := strings.ToLower(zid.Name())
		for _, m := range members {
			if pe.Status != "Approved" || m.FQDN == "" || zone != "privatelink.azurecr.io" {
				continue
			}
			set := strings.TrimSuffix(m.FQDN, ".azurecr.io")
			records = append(records, map[string]any{"recordType": "A", "recordSetName": set, "fqdn": set + "." + zone,
				"ttl": 10, "ipAddresses": []string{m.IP}, "provisioningState": "Succeeded"})
		}
		configs = append(configs, map[string]any{"name": z.Name, "id": id + "/privateDnsZoneConfigs/" + z.Name,
			"type":       "Microsoft.Network/privateEndpoints/privateDnsZoneGroups/privateDnsZoneConfigs",
			"properties": map[string]any{"privateDnsZoneId": z.ZoneID, "recordSets": records}})
	}
	return map[string]any{"id": id, "name": g.Name, "type": "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
		"properties": map[string]any{"provisioningState": "Succeeded", "privateDnsZoneConfigs": configs}}
}
