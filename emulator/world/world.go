// Package world describes what an emulator starts with: tenant, subscription and registries.
// A world is loaded from a YAML or JSON file (--config) or is the embedded default world, whose
// well-known ids and secrets the README documents.
package world

import (
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/faults"
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/parser"
)

//go:embed default.yaml
var defaultWorld []byte

// World is the initial state of an emulator.
type World struct {
	TenantID       string `json:"tenantId" yaml:"tenantId"`
	SubscriptionID string `json:"subscriptionId" yaml:"subscriptionId"`
	ResourceGroup  string `json:"resourceGroup" yaml:"resourceGroup"`
	Location       string `json:"location" yaml:"location"`
	// LoginServerSuffix, when set (e.g. ".azurecr.io"), makes each registry's login server
	// <name><suffix>, routed by the Host header: for docker compose networks and clients that
	// bring their own name resolution. Empty: login servers are localhost:<port>.
	LoginServerSuffix string `json:"loginServerSuffix,omitempty" yaml:"loginServerSuffix,omitempty"`
	// AllowedHosts are host names the emulator serves besides its own (see emulator.Config).
	AllowedHosts      []string           `json:"allowedHosts,omitempty" yaml:"allowedHosts,omitempty"`
	Registries        []Registry         `json:"registries" yaml:"registries"`
	ServicePrincipals []ServicePrincipal `json:"servicePrincipals,omitempty" yaml:"servicePrincipals,omitempty"`
	RoleAssignments   []RoleAssignment   `json:"roleAssignments,omitempty" yaml:"roleAssignments,omitempty"`
	ManagedIdentities []ManagedIdentity  `json:"managedIdentities,omitempty" yaml:"managedIdentities,omitempty"`
	ComputeResources  []ComputeResource  `json:"computeResources,omitempty" yaml:"computeResources,omitempty"`
	Origins           []Origin           `json:"origins,omitempty" yaml:"origins,omitempty"`
	// KeyVaultSecrets are the values of the Key Vault secrets credential sets name (cache.go).
	KeyVaultSecrets []KeyVaultSecret `json:"keyVaultSecrets,omitempty" yaml:"keyVaultSecrets,omitempty"`
	// LocalClientIP is the public IP a direct connection from this machine is seen as (default:
	// its real address, 127.0.0.1). Firewall rules are written against it.
	LocalClientIP string `json:"localClientIP,omitempty" yaml:"localClientIP,omitempty"`
	// Profile "current" follows Azure since 2025 (ACR Tasks are no longer trusted unless
	// networkRuleBypassAllowedForTasks; ACI pulls only with user-assigned identities); the
	// default "seed" follows the trusted-services document.
	Profile string `json:"profile,omitempty" yaml:"profile,omitempty"`
	// BlobDir keeps blob content as files in this directory instead of memory (see
	// emulator.Config.BlobDir; --blob-dir wins). A relative path is relative to the world file.
	BlobDir string `json:"blobDir,omitempty" yaml:"blobDir,omitempty"`

	src *source // where the world was read from, for the positions of later errors
}

// ManagedIdentity is a user-assigned managed identity (Microsoft.ManagedIdentity/userAssignedIdentities).
type ManagedIdentity struct {
	Name        string `json:"name" yaml:"name"`
	ClientID    string `json:"clientId,omitempty" yaml:"clientId,omitempty"`       // default: derived from the name
	PrincipalID string `json:"principalId,omitempty" yaml:"principalId,omitempty"` // default: derived from the name
}

// ComputeResource is a local stand-in for an Azure compute resource (a "workstation VM"), so
// code using azidentity's ManagedIdentityCredential works from a developer's shell: its
// managed-identity endpoint is the emulator's, selected by IdentityHeader.
type ComputeResource struct {
	Name string `json:"name" yaml:"name"`
	Type string `json:"type,omitempty" yaml:"type,omitempty"` // default Microsoft.Compute/virtualMachines
	// SystemAssignedIdentity gives the resource its own identity (principal id derived from
	// the name unless SystemPrincipalID is set).
	SystemAssignedIdentity bool     `json:"systemAssignedIdentity,omitempty" yaml:"systemAssignedIdentity,omitempty"`
	SystemPrincipalID      string   `json:"systemPrincipalId,omitempty" yaml:"systemPrincipalId,omitempty"`
	UserAssignedIdentities []string `json:"userAssignedIdentities,omitempty" yaml:"userAssignedIdentities,omitempty"` // names
	// IdentityHeader is the IDENTITY_HEADER value that selects this resource.
	IdentityHeader string `json:"identityHeader" yaml:"identityHeader"`
	// IMDS makes this the resource the plain IMDS endpoint (169.254.169.254) speaks for.
	IMDS bool `json:"imds,omitempty" yaml:"imds,omitempty"`
}

// NetworkRuleSet is the registry firewall.
type NetworkRuleSet struct {
	DefaultAction string   `json:"defaultAction,omitempty" yaml:"defaultAction,omitempty"` // Allow (default) or Deny
	IPRules       []string `json:"ipRules,omitempty" yaml:"ipRules,omitempty"`             // IPv4 addresses or CIDRs
}

// Origin is a named place requests can come from, entered through its own proxy listener
// (HTTPS_PROXY=http://127.0.0.1:<port>): an internet client with a public IP, or a VNet that
// reaches registries through private endpoints.
type Origin struct {
	Name string `json:"name" yaml:"name"`
	// IP is the public IP the registries see (for a VNet: its outbound IP to public endpoints).
	IP string `json:"ip,omitempty" yaml:"ip,omitempty"`
	// VNet makes the origin a virtual network (named after the origin), where private
	// endpoints can be created through ARM; PrivateEndpoints implies it.
	VNet bool `json:"vnet,omitempty" yaml:"vnet,omitempty"`
	// PrivateEndpoints names the registries this VNet has approved private endpoints to.
	PrivateEndpoints []string `json:"privateEndpoints,omitempty" yaml:"privateEndpoints,omitempty"`
	// Endpoints are private endpoints of this VNet written in full: a name of their own, or a
	// connection the registry's owner has not approved (Pending, Rejected, Disconnected),
	// which carries no traffic. Either list implies VNet.
	Endpoints []PrivateEndpoint `json:"endpoints,omitempty" yaml:"endpoints,omitempty"`
	// PrivateDNSRecords are the names the VNet's DNS resolves to its private endpoints
	// (myregistry.azurecr.io, myregistry.eastus.data.azurecr.io). Unset: every name of its
	// approved private endpoints, as a linked privatelink.azurecr.io zone does. A name left out
	// resolves to the public endpoint, reached from IP, as on Azure when a record is missing.
	PrivateDNSRecords []string `json:"privateDnsRecords,omitempty" yaml:"privateDnsRecords,omitempty"`
	// PrivateIP is the VNet machine's own address, which registries see on requests through a
	// private endpoint (default 10.0.0.4; private endpoints get addresses from 10.0.0.5 on).
	PrivateIP string `json:"privateIp,omitempty" yaml:"privateIp,omitempty"`
	// Port of the proxy listener (0: a free port, printed at start).
	Port int `json:"port,omitempty" yaml:"port,omitempty"`
}

// PrivateEndpoint is a Microsoft.Network/privateEndpoints resource in an origin's VNet and its
// connection to a registry (the registry's privateEndpointConnections entry).
type PrivateEndpoint struct {
	Registry string `json:"registry" yaml:"registry"`
	// Name of the private endpoint and of its connection (default <origin>-<registry>).
	Name string `json:"name,omitempty" yaml:"name,omitempty"`
	// Status of the connection: Approved (default), Pending, Rejected or Disconnected.
	Status      string `json:"status,omitempty" yaml:"status,omitempty"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
}

// ServicePrincipal is an Entra application with a client secret.
type ServicePrincipal struct {
	Name     string `json:"name" yaml:"name"`
	ClientID string `json:"clientId" yaml:"clientId"`
	ObjectID string `json:"objectId,omitempty" yaml:"objectId,omitempty"` // default: derived from the client id
	Secret   string `json:"secret" yaml:"secret"`
}

// RoleAssignment grants a built-in role (name or GUID) to a principal (name, client id or
// object id; <registry>/tasks/<task> for a task's system-assigned identity) at a scope:
// "subscription", "resourceGroup", a registry name, or a full ARM id.
type RoleAssignment struct {
	Principal string `json:"principal" yaml:"principal"`
	Role      string `json:"role" yaml:"role"`
	Scope     string `json:"scope" yaml:"scope"`
	// Name is the assignment's GUID (default: derived from principal, role and scope, so
	// the world's assignments keep their ids from one start to the next).
	Name        string `json:"name,omitempty" yaml:"name,omitempty"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Condition is an ABAC condition (version 2.0) limiting the grant to repositories, as
	// ACR's AbacRepositoryPermissions mode reads it.
	Condition string `json:"condition,omitempty" yaml:"condition,omitempty"`
}

// Registry is one container registry of the world.
type Registry struct {
	Name string `json:"name" yaml:"name"`
	// Faults are failures injected on this registry's requests (see emulator/faults); their
	// registry is this one.
	Faults           []faults.Rule `json:"faults,omitempty" yaml:"faults,omitempty"`
	SKU              string        `json:"sku,omitempty" yaml:"sku,omitempty"`
	AdminUserEnabled bool          `json:"adminUserEnabled,omitempty" yaml:"adminUserEnabled,omitempty"`
	AdminPassword    string        `json:"adminPassword,omitempty" yaml:"adminPassword,omitempty"`
	AdminPassword2   string        `json:"adminPassword2,omitempty" yaml:"adminPassword2,omitempty"`
	// AnonymousPullEnabled lets anyone pull (Standard and Premium only, as on Azure).
	AnonymousPullEnabled bool `json:"anonymousPullEnabled,omitempty" yaml:"anonymousPullEnabled,omitempty"`
	// AuthenticationAsArm (default true) lets /oauth2/exchange accept ARM-audience Entra tokens.
	AuthenticationAsArm *bool `json:"authenticationAsArm,omitempty" yaml:"authenticationAsArm,omitempty"`
	// RoleAssignmentMode: LegacyRegistryPermissions (default) or AbacRepositoryPermissions.
	RoleAssignmentMode string `json:"roleAssignmentMode,omitempty" yaml:"roleAssignmentMode,omitempty"`
	// Network rules, as ARM names them (Premium only, except the trusted-services switch).
	PublicNetworkAccess              string          `json:"publicNetworkAccess,omitempty" yaml:"publicNetworkAccess,omitempty"` // Enabled (default) or Disabled
	NetworkRuleSet                   *NetworkRuleSet `json:"networkRuleSet,omitempty" yaml:"networkRuleSet,omitempty"`
	NetworkRuleBypassOptions         string          `json:"networkRuleBypassOptions,omitempty" yaml:"networkRuleBypassOptions,omitempty"` // AzureServices (default) or None
	NetworkRuleBypassAllowedForTasks bool            `json:"networkRuleBypassAllowedForTasks,omitempty" yaml:"networkRuleBypassAllowedForTasks,omitempty"`
	// DataEndpointEnabled gives the registry dedicated data endpoints,
	// <name>.<region>.data.azurecr.io, where blob downloads are redirected (Premium only; a
	// private endpoint turns them on too).
	DataEndpointEnabled bool `json:"dataEndpointEnabled,omitempty" yaml:"dataEndpointEnabled,omitempty"`
	// Port gives the registry an HTTPS listener of its own on the emulator's host, so its
	// login server is localhost:<port>. 0: the registry is served on the main HTTPS listener
	// (one registry only may do so).
	Port int `json:"port,omitempty" yaml:"port,omitempty"`
	// Location is the Azure region the registry is in (default: the world's), normalized as
	// ARM answers it ("West Europe" is westeurope).
	Location string `json:"location,omitempty" yaml:"location,omitempty"`
	// Tags are the registry's ARM resource tags.
	Tags map[string]string `json:"tags,omitempty" yaml:"tags,omitempty"`
	// Policies are ARM's properties.policies (azureADAuthenticationAsArmPolicy is
	// authenticationAsArm above).
	Policies *Policies `json:"policies,omitempty" yaml:"policies,omitempty"`
	// Images are in the registry from the start, as if pushed before the emulator started.
	Images []Image `json:"images,omitempty" yaml:"images,omitempty"`
	// Tasks are the registry's ACR tasks.
	Tasks []Task `json:"tasks,omitempty" yaml:"tasks,omitempty"`
	// ScopeMaps and Tokens are the registry's repository-scoped permissions (tokens.go).
	ScopeMaps []ScopeMap `json:"scopeMaps,omitempty" yaml:"scopeMaps,omitempty"`
	Tokens    []Token    `json:"tokens,omitempty" yaml:"tokens,omitempty"`
	// CredentialSets and CacheRules are the registry's artifact cache (cache.go).
	CredentialSets []CredentialSet `json:"credentialSets,omitempty" yaml:"credentialSets,omitempty"`
	CacheRules     []CacheRule     `json:"cacheRules,omitempty" yaml:"cacheRules,omitempty"`
}

// Policies are a registry's policies, as ARM names them. Only exportPolicy is enforced (import
// from a registry with export disabled is refused); the others are kept and shown.
type Policies struct {
	// ExportPolicy disabled needs the Premium SKU and public network access disabled.
	ExportPolicy     *PolicyStatus    `json:"exportPolicy,omitempty" yaml:"exportPolicy,omitempty"`
	QuarantinePolicy *PolicyStatus    `json:"quarantinePolicy,omitempty" yaml:"quarantinePolicy,omitempty"`
	TrustPolicy      *PolicyStatus    `json:"trustPolicy,omitempty" yaml:"trustPolicy,omitempty"`
	RetentionPolicy  *RetentionPolicy `json:"retentionPolicy,omitempty" yaml:"retentionPolicy,omitempty"`
}

// PolicyStatus switches a policy: enabled or disabled.
type PolicyStatus struct {
	Status string `json:"status" yaml:"status"`
}

// RetentionPolicy keeps untagged manifests for Days (0-365, default 7).
type RetentionPolicy struct {
	Status string `json:"status" yaml:"status"`
	Days   *int   `json:"days,omitempty" yaml:"days,omitempty"`
}

// Task is an ACR task of a registry (Microsoft.ContainerRegistry/registries/tasks) in the shape
// ARM stores it, which is what az acr task create sends: it is created through the same ACR
// Tasks API, so it is checked as that API checks it.
type Task struct {
	Name     string            `json:"name" yaml:"name"`
	Location string            `json:"location,omitempty" yaml:"location,omitempty"` // default: the registry's
	Tags     map[string]string `json:"tags,omitempty" yaml:"tags,omitempty"`
	Identity *TaskIdentity     `json:"identity,omitempty" yaml:"identity,omitempty"`
	// Properties are the task's ARM properties: step (type Docker, FileTask or EncodedTask,
	// as ACR Tasks has them), platform, credentials, status, timeout... An
	// EncodedTask step may give its YAML as text in taskYaml instead of base64 in
	// encodedTaskContent, and credentials.customRegistries may be keyed by the name of a
	// registry of the world, which becomes its login server.
	Properties map[string]any `json:"properties" yaml:"properties"`
}

// TaskIdentity is a task's managed identity block.
type TaskIdentity struct {
	// Type: SystemAssigned, UserAssigned, "SystemAssigned, UserAssigned" or None.
	Type string `json:"type" yaml:"type"`
	// PrincipalID pins the system-assigned identity's object id (default: derived from the
	// task's id, stable from one start to the next).
	PrincipalID string `json:"principalId,omitempty" yaml:"principalId,omitempty"`
	// UserAssignedIdentities names identities of the world (managedIdentities) or ARM ids.
	UserAssignedIdentities []string `json:"userAssignedIdentities,omitempty" yaml:"userAssignedIdentities,omitempty"`
}

// MaxFileBytes bounds a world file: worlds are small, and a file is read whole.
const MaxFileBytes = 16 << 20

// Default returns the embedded default world.
func Default() *World {
	w, err := Parse(defaultWorld, "default.yaml")
	if err != nil {
		panic(fmt.Sprintf("world: embedded default world is invalid: %v", err))
	}
	return w
}

// Load reads a world file (YAML, or JSON, which YAML includes). Relative paths in it (image
// layouts and archives) are relative to the file's directory.
func Load(path string) (*World, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileBytes {
		return nil, &FieldError{File: path, Msg: fmt.Sprintf("a world file may be at most %d MiB", MaxFileBytes>>20)}
	}
	return parse(b, path, filepath.Dir(path))
}

// Parse decodes and validates a world; name is what errors call it. Relative paths in it are
// relative to the working directory. Unknown fields are errors, so typos do not pass
// silently; every mistake is a *FieldError naming the field and its line (errors.Join of
// them when there are several).
func Parse(b []byte, name string) (*World, error) { return parse(b, name, ".") }

func parse(b []byte, name, dir string) (*World, error) {
	src := &source{file: name, dir: dir}
	f, err := parser.ParseBytes(b, 0)
	if err != nil {
		return nil, decodeError(name, err)
	}
	src.ast = f
	var w World
	if err := yaml.UnmarshalWithOptions(b, &w, yaml.Strict()); err != nil {
		return nil, decodeError(name, err)
	}
	w.src = src
	if err := w.validate(true); err != nil {
		return nil, err
	}
	return &w, nil
}

// Validate checks a world built in Go (a test fixture's) and fills in its defaults, as Parse
// does for a file. Relative paths are relative to the working directory.
func (w *World) Validate() error {
	if w.src == nil {
		w.src = &source{file: "world", dir: "."}
	}
	return w.validate(true)
}

// Revalidate checks a world the emulator itself wrote as JSON (a snapshot's) and fills in its
// defaults; name is what errors call it. Its images' layouts and archives need not exist any
// more: their content is in the snapshot.
func (w *World) Revalidate(name string) error {
	w.src = &source{file: name, dir: "."}
	return w.validate(false)
}

// Path resolves a path written in the world file (an image layout, an archive) against the
// file's directory.
func (w *World) Path(p string) string {
	if filepath.IsAbs(p) || w.src == nil {
		return p
	}
	return filepath.Join(w.src.dir, p)
}

// RegistryID is the ARM id of a registry of this world.
func (w *World) RegistryID(name string) string {
	return w.ResourceGroupID() + "/providers/Microsoft.ContainerRegistry/registries/" + name
}

// SubscriptionScope is the ARM id of the subscription.
func (w *World) SubscriptionScope() string { return "/subscriptions/" + w.SubscriptionID }

// ResourceGroupID is the ARM id of the world's resource group.
func (w *World) ResourceGroupID() string {
	return w.SubscriptionScope() + "/resourceGroups/" + w.ResourceGroup
}

// ResolveScope turns a role assignment scope of the world file into an ARM id.
func (w *World) ResolveScope(scope string) string {
	switch {
	case strings.HasPrefix(scope, "/"):
		return scope
	case strings.EqualFold(scope, "subscription"):
		return w.SubscriptionScope()
	case strings.EqualFold(scope, "resourceGroup"):
		return w.ResourceGroupID()
	}
	return w.RegistryID(scope)
}

// ManagedIdentityID is the ARM id of a user-assigned identity of this world.
func (w *World) ManagedIdentityID(name string) string {
	return w.ResourceGroupID() + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" + name
}

// TaskID is the ARM id of a task of a registry of this world.
func (w *World) TaskID(registry, task string) string {
	return w.RegistryID(registry) + "/tasks/" + task
}

// ComputeID is the ARM id of a compute resource of this world.
func (w *World) ComputeID(c ComputeResource) string {
	return w.ResourceGroupID() + "/providers/" + c.Type + "/" + c.Name
}
