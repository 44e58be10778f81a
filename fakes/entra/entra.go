// Package entra is a fake Microsoft Entra ID that real MSAL and azidentity clients accept.
//
// It serves, under one authority host, what those clients call: OIDC discovery (v2.0 and v1),
// JWKS, instance discovery, and the v2.0 and v1 token endpoints for the client-credentials
// grant authenticated by a client secret (form or HTTP Basic) or by a workload-identity client
// assertion. It issues v1.0-format RS256 access tokens with the claims Azure resource providers
// read (spec acr-dataplane-auth.md sections 5.5 and 6), and verifies them for the emulator's ACR
// token service.
//
// It knows principals only through the Directory interface, which the emulator implements over
// its store; this package must not import the emulator (a test guards that).
//
// Known limits, on purpose:
//   - app-only flows: no users, no authorization code, device code or refresh-token grants;
//   - the signature of a workload-identity assertion is not checked: its issuer's keys live on
//     the real internet (an AKS OIDC issuer, GitHub Actions...), so only iss, sub, aud and the
//     validity window are matched against the application's federated credentials;
//   - certificate credentials (self-signed client assertions) are not supported;
//   - error texts are Entra's as best known; those not seen on the wire are marked "guess".
package entra

import (
	"regexp"
	"strings"
)

// Kind of principal, as the emulator's store names them.
type Kind string

// Principal kinds.
const (
	KindServicePrincipal Kind = "ServicePrincipal"
	KindManagedIdentity  Kind = "ManagedIdentity"
	KindUser             Kind = "User"
)

// Principal is an identity of a tenant as Entra sees it.
type Principal struct {
	ObjectID, AppID, TenantID, DisplayName string // AppID is the client id
	Kind                                   Kind
	Secrets                                []string // client secrets (service principals)
	// ResourceID becomes xms_mirid in managed-identity tokens: the ARM id of a user-assigned
	// identity, or of the resource that owns a system-assigned one.
	ResourceID string
	Federated  []FederatedCredential // workload identity: accepted client assertions
}

// FederatedCredential accepts client assertions from an external issuer for one subject, as an
// application's federated identity credential does.
type FederatedCredential struct {
	Issuer, Subject string
	Audiences       []string // empty means DefaultFederatedAudience
}

// DefaultFederatedAudience is the audience Entra proposes for federated credentials and that
// AKS workload identity projects into its service-account tokens.
const DefaultFederatedAudience = "api://AzureADTokenExchange"

// Directory is what Entra knows; the emulator implements it over its store.
type Directory interface {
	HasTenant(tenantID string) bool
	// ClientByAppID returns the application with that client id, nil, nil when unknown. GUIDs
	// (tenant and client ids) arrive lower-cased: Entra compares them case-insensitively.
	ClientByAppID(tenantID, appID string) (*Principal, error)
}

// appidacr values: how the client authenticated (claims reference, "appidacr").
const (
	AuthPublic      = "0"
	AuthSecret      = "1"
	AuthCertificate = "2" // certificates, managed identities and federated assertions
)

// The resources Entra knows here, in their canonical spelling: ACR, ARM (both names) and the
// two Graphs. Real Entra knows thousands; an unknown one is AADSTS500011.
var knownResources = []string{
	"https://containerregistry.azure.net",
	"https://management.azure.com",
	"https://management.core.windows.net",
	"https://graph.microsoft.com",
	"https://graph.windows.net",
}

// Audience maps an OAuth v2 scope ("<resource>/.default") or a v1 resource to the audience of
// the token Entra issues, ok=false for resources it does not know. The trailing slash is kept
// as requested because v1-format tokens carry the resource as asked for: the az CLI asks for
// "https://management.core.windows.net//.default" and gets aud
// "https://management.core.windows.net/", which ACR must accept as an ARM audience.
func Audience(scopeOrResource string) (string, bool) {
	return audienceAmong(scopeOrResource, knownResources)
}

// audienceAmong is Audience over a list of resources (canonical spelling, no trailing slash).
func audienceAmong(scopeOrResource string, resources []string) (string, bool) {
	r := strings.TrimSuffix(scopeOrResource, "/.default")
	slash := strings.HasSuffix(r, "/")
	base := strings.ToLower(strings.TrimSuffix(r, "/"))
	for _, known := range resources {
		if base != "" && base == strings.ToLower(strings.TrimSuffix(known, "/")) {
			known = strings.TrimSuffix(known, "/")
			if slash {
				return known + "/", true
			}
			return known, true
		}
	}
	return "", false
}

var guidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// The tenant names Entra accepts in place of a tenant id.
var wellKnownTenants = []string{"common", "organizations", "consumers"}

// consumersTenant is the tenant id behind "consumers" (personal Microsoft accounts).
const consumersTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"

func isWellKnownTenant(t string) bool {
	for _, w := range wellKnownTenants {
		if strings.EqualFold(t, w) {
			return true
		}
	}
	return false
}

// IsEntraPath reports whether a request path belongs to Entra: its first segment is a tenant
// id (a GUID) or one of common, organizations, consumers. No other surface of the emulator
// (/v2/, /oauth2/, /acr/, /subscriptions/, /_emulator/...) starts that way, so the emulator
// can mount this handler at its HTTPS root next to the registry.
//
// Leading slashes are not significant: clients that join a login endpoint ending in "/" with
// "/{tenant}/..." send "//{tenant}/oauth2/v2.0/token" (hashicorp/go-azure-sdk, the azurerm
// provider's SDK, does with a custom cloud's metadata), and Entra answers those requests
// (go-azure-sdk issue #1329: the doubled slash works with client secrets in sovereign clouds).
func IsEntraPath(path string) bool {
	first, _, _ := strings.Cut(strings.TrimLeft(path, "/"), "/")
	return guidRE.MatchString(first) || isWellKnownTenant(first)
}
