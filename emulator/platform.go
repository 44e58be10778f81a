package emulator

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
)

// servicePlatform is what the simulated services get from the emulator: identities for their
// resources, their origin, the managed-identity endpoint.
type servicePlatform struct{ e *Emulator }

func (p servicePlatform) Attach(resourceID string, system bool, userAssigned []string) (platform.Identities, error) {
	st := p.e.st
	res, err := st.GetResource(resourceID)
	if err != nil {
		return platform.Identities{}, err
	}
	if res == nil {
		res = &store.Resource{ID: resourceID, Type: "Microsoft.ContainerInstance/containerGroups",
			Name: resourceID[strings.LastIndex(resourceID, "/")+1:], IdentityHeader: ids.NewGUID()}
	}
	out := platform.Identities{Header: res.IdentityHeader, User: map[string]*platform.Identity{}}
	if system {
		if res.SystemPrincipalID == "" {
			pr := &store.Principal{ObjectID: ids.NewGUID(), AppID: ids.NewGUID(), TenantID: p.e.world.TenantID, DisplayName: res.Name,
				Kind: store.KindManagedIdentity, ResourceID: resourceID}
			if err := st.PutPrincipal(pr); err != nil {
				return platform.Identities{}, err
			}
			res.SystemPrincipalID = pr.ObjectID
		}
		pr, err := st.GetPrincipal(res.SystemPrincipalID)
		if err != nil || pr == nil {
			return platform.Identities{}, fmt.Errorf("system identity of %s: %v", resourceID, err)
		}
		out.System = &platform.Identity{PrincipalID: pr.ObjectID, ClientID: pr.AppID}
	}
	res.UserAssigned = nil
	for _, id := range userAssigned {
		pr, err := st.PrincipalByResourceID(id)
		if err != nil {
			return platform.Identities{}, err
		}
		if pr == nil {
			return platform.Identities{}, fmt.Errorf("the user-assigned identity '%s' does not exist", id)
		}
		res.UserAssigned = append(res.UserAssigned, pr.ResourceID)
		out.User[id] = &platform.Identity{PrincipalID: pr.ObjectID, ClientID: pr.AppID}
	}
	return out, st.PutResource(res)
}

func (p servicePlatform) Detach(resourceID string) error { return p.e.st.DeleteResource(resourceID) }

// Outbound IPs of the simulated services, as their requests show them to network rules.
var outboundIPs = map[string]string{"aci": "20.0.0.4", "aci-public": "20.0.0.4", "appservice": "20.0.0.5", "defender": "20.0.0.6", "ml": "20.0.0.7", "tasks": "20.0.0.8"}

func (p servicePlatform) Transport(service string, systemIdentity bool) http.RoundTripper {
	ip := outboundIPs[service]
	if ip == "" {
		ip = "20.0.0.1"
	}
	return p.e.ServiceTransport(AzureService{Name: service, SystemIdentity: systemIdentity, OutboundIP: ip})
}

func (p servicePlatform) IdentityEndpoint() string { return p.e.HTTPSURL() + "/msi/token" }
func (p servicePlatform) TenantID() string         { return p.e.world.TenantID }
func (p servicePlatform) CurrentAzure() bool       { return p.e.world.Profile == "current" }

// LoginServer tells the simulated ACR Tasks about a registry by ARM id.
func (p servicePlatform) LoginServer(registryID string) string {
	if r := p.registry(registryID); r != nil {
		return r.LoginServer
	}
	return ""
}

// AgentPool tells the simulated ACR Tasks whether a registry (by ARM id) has an agent pool.
func (p servicePlatform) AgentPool(registryID, name string) bool {
	r := p.registry(registryID)
	if r == nil {
		return false
	}
	pool, err := p.e.st.GetAgentPool(r.Name, name)
	return err == nil && pool != nil
}

func (p servicePlatform) registry(id string) *store.Registry {
	regs, err := p.e.st.ListRegistries()
	if err != nil {
		return nil
	}
	for _, r := range regs {
		if strings.EqualFold(r.ID, id) {
			return r
		}
	}
	return nil
}
