package emulator

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/fakes/aci"
)

// aciPlatform is what the simulated Container Instances service gets from the emulator:
// identities for its resources, its origin, the managed-identity endpoint.
type aciPlatform struct{ e *Emulator }

func (p aciPlatform) Attach(resourceID string, system bool, userAssigned []string) (aci.Identities, error) {
	st := p.e.st
	res, err := st.GetResource(resourceID)
	if err != nil {
		return aci.Identities{}, err
	}
	if res == nil {
		res = &store.Resource{ID: resourceID, Type: "Microsoft.ContainerInstance/containerGroups",
			Name: resourceID[strings.LastIndex(resourceID, "/")+1:], IdentityHeader: ids.NewGUID()}
	}
	out := aci.Identities{Header: res.IdentityHeader, User: map[string]*aci.Identity{}}
	if system {
		if res.SystemPrincipalID == "" {
			pr := &store.Principal{ObjectID: ids.NewGUID(), AppID: ids.NewGUID(), TenantID: p.e.world.TenantID, DisplayName: res.Name,
				Kind: store.KindManagedIdentity, ResourceID: resourceID}
			if err := st.PutPrincipal(pr); err != nil {
				return aci.Identities{}, err
			}
			res.SystemPrincipalID = pr.ObjectID
		}
		pr, err := st.GetPrincipal(res.SystemPrincipalID)
		if err != nil || pr == nil {
			return aci.Identities{}, fmt.Errorf("system identity of %s: %v", resourceID, err)
		}
		out.System = &aci.Identity{PrincipalID: pr.ObjectID, ClientID: pr.AppID}
	}
	res.UserAssigned = nil
	for _, id := range userAssigned {
		pr, err := st.PrincipalByResourceID(id)
		if err != nil {
			return aci.Identities{}, err
		}
		if pr == nil {
			return aci.Identities{}, fmt.Errorf("the user-assigned identity '%s' does not exist", id)
		}
		res.UserAssigned = append(res.UserAssigned, pr.ResourceID)
		out.User[id] = &aci.Identity{PrincipalID: pr.ObjectID, ClientID: pr.AppID}
	}
	return out, st.PutResource(res)
}

func (p aciPlatform) Detach(resourceID string) error { return p.e.st.DeleteResource(resourceID) }

func (p aciPlatform) Transport(trusted, systemIdentity bool) http.RoundTripper {
	name := network.ServiceACI
	if !trusted {
		name = "aci-public" // ACI's outbound IP without a managed identity: not a trusted path
	}
	return p.e.ServiceTransport(AzureService{Name: name, SystemIdentity: systemIdentity, OutboundIP: "20.0.0.4"})
}

func (p aciPlatform) IdentityEndpoint() string { return p.e.HTTPSURL() + "/msi/token" }
func (p aciPlatform) TenantID() string         { return p.e.world.TenantID }
func (p aciPlatform) CurrentAzure() bool       { return p.e.world.Profile == "current" }
