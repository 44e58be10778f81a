// Package platform is the contract between the emulator and its simulated Azure services:
// what a service needs from "Azure" (identities for its resources, the network origin it
// calls from, the managed-identity endpoint), implemented by the emulator over its state.
package platform

import "net/http"

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
		if equalFold(id, key) || equalFold(u.ClientID, key) {
			return u
		}
	}
	return nil
}

// Platform is what the emulator gives a simulated service.
type Platform interface {
	// Attach records a resource's identities (creating its system-assigned one on first use)
	// and returns them.
	Attach(resourceID string, system bool, userAssigned []string) (Identities, error)
	// Detach forgets a deleted resource and its system-assigned identity.
	Detach(resourceID string) error
	// Transport reaches the emulator from the Azure-service origin of service (a
	// network.Service* name; an unknown name is an untrusted Azure service).
	Transport(service string, systemIdentity bool) http.RoundTripper
	// IdentityEndpoint is the managed-identity endpoint (App Service protocol).
	IdentityEndpoint() string
	// TenantID of the emulated tenant.
	TenantID() string
	// CurrentAzure selects Azure's 2025 behaviour over the seed document's.
	CurrentAzure() bool
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
