// Package platform is the contract between the emulator and its simulated Azure services:
// what a service needs from "Azure" (identities for its resources, the network origin it
// calls from, the managed-identity endpoint), implemented by the emulator over its state, and
// the one shape of a service that runs images (Workload, workload.go): attach identities, get
// a token as one of them, pull from the service's origin, answer in ARM JSON.
package platform

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
)

// Identity is a managed identity as a resource holds it.
type Identity struct{ PrincipalID, ClientID string }

// Identities are what a resource got: its managed-identity header and its identities.
type Identities struct {
	Header string
	System *Identity            // nil without a system-assigned identity
	User   map[string]*Identity // by user-assigned identity ARM id
}

// UserIdentity finds an attached user-assigned identity by ARM id (case-insensitively) or
// client id.
func (ids Identities) UserIdentity(key string) *Identity {
	for id, u := range ids.User {
		if strings.EqualFold(id, key) || strings.EqualFold(u.ClientID, key) {
			return u
		}
	}
	return nil
}

// JSON is ARM's identity block of a resource that asked for identities of type typ
// ("SystemAssigned", "UserAssigned", both, "None"): the type as asked, the tenant, the
// system-assigned principal and each user-assigned identity's ids.
func (ids Identities) JSON(typ, tenantID string) map[string]any {
	out := map[string]any{"type": typ, "tenantId": tenantID}
	if ids.System != nil {
		out["principalId"] = ids.System.PrincipalID
	}
	if len(ids.User) > 0 {
		ua := map[string]any{}
		for id, u := range ids.User {
			ua[id] = map[string]string{"principalId": u.PrincipalID, "clientId": u.ClientID}
		}
		out["userAssignedIdentities"] = ua
	}
	return out
}

// From is where a service's requests come from.
type From struct {
	// Service names the origin (a network.Service* name; an unknown name is an untrusted
	// Azure service with a default outbound IP).
	Service string
	// SystemIdentity marks requests made with the resource's system-assigned identity (what
	// the 2025 ACR Tasks rule looks at).
	SystemIdentity bool
	// VNet is the virtual network the resource runs in (VNet integration): requests then come
	// from it, through its private endpoints where it has them. "": the service's public
	// outbound IP.
	VNet string
}

// VNetOf is the virtual network of a subnet's ARM id
// (.../Microsoft.Network/virtualNetworks/<vnet>/subnets/<subnet>), "" when it is not one.
func VNetOf(subnetID string) string {
	id, err := armid.Parse(subnetID)
	if err != nil || id.Key() != "microsoft.network/virtualnetworks/subnets" || id.Collection() {
		return ""
	}
	return id.Names[0]
}

// Platform is what the emulator gives a simulated service.
type Platform interface {
	// Attach records the identities of a resource of resourceType (creating its
	// system-assigned one on first use) and returns them. ctx carries the ARM caller:
	// attaching a user-assigned identity the resource does not hold yet needs
	// Microsoft.ManagedIdentity/userAssignedIdentities/assign/action on that identity, and is
	// refused with ARM's 403 LinkedAuthorizationFailed (an *Error) otherwise. A ctx without a
	// caller is the emulator itself (world files) and is not checked.
	Attach(ctx context.Context, resourceType, resourceID string, system bool, userAssigned []string) (Identities, error)
	// Detach forgets a deleted resource and its system-assigned identity.
	Detach(resourceID string) error
	// Transport reaches the emulator from an origin. It is the only way to the Azure-service
	// origins: they do not exist on the network.
	Transport(from From) http.RoundTripper
	// IdentityEndpoint is the managed-identity endpoint (App Service protocol).
	IdentityEndpoint() string
	// TenantID of the emulated tenant.
	TenantID() string
	// CurrentAzure selects Azure's 2025 behaviour over the seed document's.
	CurrentAzure() bool
}

// Error is an ARM error a simulated service answers with ({"error":{"code","message"}}).
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Errorf makes an *Error.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadRequest is ARM's 400 with a service's own code.
func BadRequest(code, format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, code, format, args...)
}

// NotFound is ARM's 404 ResourceNotFound for a resource.
func NotFound(id armid.ID) *Error {
	path := id.Namespace
	for i, t := range id.Types {
		path += "/" + t
		if i < len(id.Names) {
			path += "/" + id.Names[i]
		}
	}
	return Errorf(http.StatusNotFound, "ResourceNotFound", "The Resource '%s' under resource group '%s' was not found. "+
		"For more details please go to https://aka.ms/ARMResourceNotFoundFix", path, id.ResourceGroup)
}
