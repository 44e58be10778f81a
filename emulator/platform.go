package emulator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/arm"
	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
)

// servicePlatform is what the simulated services get from the emulator: identities for their
// resources, their origin, the managed-identity endpoint.
type servicePlatform struct{ e *Emulator }

// Attach validates the user-assigned identities first (each exists; the caller, when there is
// one, holds assign/action on those newly attached: ARM's linked authorization), so that a
// refused write changes nothing; then it creates the system-assigned identity on first use
// and records the resource.
func (p servicePlatform) Attach(ctx context.Context, resourceType, resourceID string, system bool, userAssigned []string) (platform.Identities, error) {
	st := p.e.st
	old, err := st.GetResource(resourceID)
	if err != nil {
		return platform.Identities{}, err
	}
	res := &store.Resource{ID: resourceID, Type: resourceType, Name: resourceID[strings.LastIndex(resourceID, "/")+1:], IdentityHeader: ids.NewGUID()}
	if old != nil {
		c := *old // stored values are immutable
		res = &c
	}
	out := platform.Identities{Header: res.IdentityHeader, User: map[string]*platform.Identity{}}
	var users []string
	for _, id := range userAssigned {
		pr, err := st.PrincipalByResourceID(id)
		if err != nil {
			return platform.Identities{}, err
		}
		if pr == nil || pr.Kind != store.KindManagedIdentity {
			return platform.Identities{}, armError(arm.IdentityNotFound(resourceID, id))
		}
		users = append(users, pr.ResourceID)
		out.User[id] = &platform.Identity{PrincipalID: pr.ObjectID, ClientID: pr.AppID}
	}
	if caller := arm.CallerFrom(ctx); caller != nil {
		var had []string
		if old != nil {
			had = old.UserAssigned
		}
		if err := arm.CheckAssignIdentities(st, caller, resourceType, resourceID, had, users); err != nil {
			return platform.Identities{}, armError(err)
		}
	}
	res.UserAssigned = users
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
	return out, st.PutResource(res)
}

// armError gives a management-plane refusal to a simulated service as its own error value.
func armError(err error) error {
	var ae *arm.Error
	if errors.As(err, &ae) {
		return &platform.Error{Status: ae.Status, Code: ae.Code, Message: ae.Message}
	}
	return err
}

func (p servicePlatform) Detach(resourceID string) error { return p.e.st.DeleteResource(resourceID) }

// outboundIP is the public IP a simulated service's requests show to network rules.
func outboundIP(service string) string {
	switch service {
	case network.ServiceACI, network.ServiceACIPublic:
		return "20.0.0.4"
	case network.ServiceAppService:
		return "20.0.0.5"
	case network.ServiceDefender:
		return "20.0.0.6"
	case network.ServiceML:
		return "20.0.0.7"
	case network.ServiceTasks:
		return "20.0.0.8"
	case network.ServiceContainerApps:
		return "20.0.0.10"
	case network.ServiceAKS:
		return "20.0.0.11"
	case network.ServiceImportPublic:
		return "20.0.0.12"
	case network.ServiceArtifactCachePublic:
		return "20.0.0.13"
	}
	return "20.0.0.1"
}

func (p servicePlatform) Transport(from platform.From) http.RoundTripper {
	return p.e.ServiceTransport(AzureService{Name: from.Service, SystemIdentity: from.SystemIdentity, OutboundIP: outboundIP(from.Service),
		VNet: from.VNet})
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
