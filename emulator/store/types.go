package store

import (
	"maps"
	"slices"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/store/blobstore"
	"github.com/opencontainers/go-digest"
)

// Stored values are immutable once inserted: to change one, Copy it, modify the copy and insert
// the copy in a write transaction.

// Registry is a registry's record: routing, and the settings the data plane enforces. The ARM
// management plane changes these; every request reads them afresh, so changes apply at once.
type Registry struct {
	Name        string
	LoginServer string
	ID          string // ARM resource id
	SKU         string
	CreatedAt   time.Time
	Tags        map[string]string // ARM resource tags
	Location    string            // ARM location, normalized (westeurope)

	AdminUserEnabled     bool
	AdminUsername        string
	AdminPasswords       [2]string // "password" and "password2"
	AnonymousPullEnabled bool
	// AuthAsARM is the azureADAuthenticationAsArmPolicy: when false, /oauth2/exchange accepts
	// only Entra tokens for the ACR audience.
	AuthAsARM          bool
	RoleAssignmentMode string // "LegacyRegistryPermissions" or "AbacRepositoryPermissions"

	// Network rules (ARM: publicNetworkAccess, networkRuleSet, networkRuleBypassOptions,
	// networkRuleBypassAllowedForTasks).
	PublicNetworkAccess bool
	DefaultActionAllow  bool
	IPRules             []string
	BypassAzureServices bool
	BypassForTasks      bool

	// Policies (ARM properties.policies). ExportDisabled is enforced (import from this
	// registry is refused); the others are kept and shown, not applied.
	ExportDisabled      bool
	RetentionEnabled    bool
	RetentionDays       int // ACR's default is 7
	RetentionUpdatedAt  time.Time
	TrustEnabled        bool
	QuarantineEnabled   bool
	SoftDeleteEnabled   bool
	SoftDeleteDays      int // ACR's default is 7
	SoftDeleteUpdatedAt time.Time

	// System is the ARM systemData: who created and last changed the registry.
	System SystemData
	// SystemIdentity is the object id of the registry's system-assigned identity ("" for
	// none); UserIdentities are the ARM ids of its user-assigned identities.
	SystemIdentity string
	UserIdentities []string
	// Kept and shown as ARM sets them; the data plane does not act on them.
	ZoneRedundancy      bool
	DataEndpointEnabled bool
	MetadataSearch      bool
	VirtualNetworkRules []string // subnet ids (preview api-versions)
	Encryption          Encryption
	// GeoReplicated is set once a replication outside the home location is created, and stays
	// set when it is deleted: Azure then deletes the registry asynchronously (202 and a
	// Location) in every api-version (the recording test_acr_create_replication).
	GeoReplicated bool
}

// Encryption is a registry's customer-managed key; an empty KeyIdentifier is encryption off.
type Encryption struct {
	KeyIdentifier string    // a Key Vault key id, with or without its version
	Identity      string    // the client id of the user-assigned identity that reads the key
	RotatedAt     time.Time // when the key was last changed to another one (zero: never)
}

// Copy returns a copy safe to modify.
func (r *Registry) Copy() *Registry {
	c := *r
	c.IPRules = append([]string(nil), r.IPRules...)
	c.UserIdentities = append([]string(nil), r.UserIdentities...)
	c.VirtualNetworkRules = append([]string(nil), r.VirtualNetworkRules...)
	c.Tags = maps.Clone(r.Tags)
	return &c
}

// PrincipalKind tells service principals, managed identities and users apart.
type PrincipalKind string

// Principal kinds, as Entra and ARM name them.
const (
	KindServicePrincipal PrincipalKind = "ServicePrincipal"
	KindManagedIdentity  PrincipalKind = "ManagedIdentity"
	KindUser             PrincipalKind = "User"
)

// Principal is an Entra identity of the emulated tenant.
type Principal struct {
	ObjectID    string // principal (object) id
	AppID       string // client id
	TenantID    string
	DisplayName string
	Kind        PrincipalKind
	Secrets     []string // client secrets of a service principal
	// ResourceID is, for a managed identity, the ARM id of the user-assigned identity or of
	// the resource owning a system-assigned one (the xms_mirid claim).
	ResourceID string
	// Federated lists workload-identity credentials: "issuer|subject" pairs.
	Federated []FederatedCredential
}

// FederatedCredential accepts client assertions from an external issuer for one subject.
type FederatedCredential struct {
	Issuer, Subject string
	Audiences       []string
}

// RoleAssignment grants a role to a principal at a scope.
type RoleAssignment struct {
	ID               string // full ARM id: <scope>/providers/Microsoft.Authorization/roleAssignments/<name>
	Name             string // GUID
	Scope            string
	RoleDefinitionID string // full id
	PrincipalID      string
	PrincipalType    string
	Condition        string
	ConditionVersion string
	Description      string
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Attributes are ACR's changeableAttributes, enforced on repositories, manifests and tags.
type Attributes struct {
	DeleteEnabled bool `json:"deleteEnabled"`
	WriteEnabled  bool `json:"writeEnabled"`
	ReadEnabled   bool `json:"readEnabled"`
	ListEnabled   bool `json:"listEnabled"`
}

// DefaultAttributes is what ACR gives every new repository, manifest and tag.
func DefaultAttributes() Attributes {
	return Attributes{DeleteEnabled: true, WriteEnabled: true, ReadEnabled: true, ListEnabled: true}
}

// AttributesPatch is a PATCH of changeableAttributes: nil fields stay unchanged.
type AttributesPatch struct {
	DeleteEnabled *bool `json:"deleteEnabled,omitempty"`
	WriteEnabled  *bool `json:"writeEnabled,omitempty"`
	ReadEnabled   *bool `json:"readEnabled,omitempty"`
	ListEnabled   *bool `json:"listEnabled,omitempty"`
}

// Apply returns a with the patch's set fields.
func (p AttributesPatch) Apply(a Attributes) Attributes {
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&a.DeleteEnabled, p.DeleteEnabled)
	set(&a.WriteEnabled, p.WriteEnabled)
	set(&a.ReadEnabled, p.ReadEnabled)
	set(&a.ListEnabled, p.ListEnabled)
	return a
}

// patchable records carry changeableAttributes and a last-update time.
type patchable interface {
	applyPatch(p AttributesPatch, now time.Time)
}

func (r *Repository) applyPatch(p AttributesPatch, now time.Time) {
	r.Attrs, r.UpdatedAt = p.Apply(r.Attrs), now
}
func (m *Manifest) applyPatch(p AttributesPatch, now time.Time) {
	m.Attrs, m.UpdatedAt = p.Apply(m.Attrs), now
}
func (t *Tag) applyPatch(p AttributesPatch, now time.Time) {
	t.Attrs, t.UpdatedAt = p.Apply(t.Attrs), now
}

// Repository is a named collection of manifests, tags and blob links in one registry.
type Repository struct {
	Registry  string
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
	Attrs     Attributes
}

// Copy returns a shallow copy (Repository has no reference fields).
func (r *Repository) Copy() *Repository { c := *r; return &c }

// Descriptor is the part of an OCI descriptor the store needs to reason about references.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Platform     *Platform         `json:"platform,omitempty"`
	// Foreign marks non-distributable layers (urls, foreign media types): a manifest may refer
	// to them without the repository holding them.
	Foreign bool `json:"-"`
}

// Platform of an index entry or an image config.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// Manifest is a stored manifest's metadata; its bytes live in the blobstore under Digest.
type Manifest struct {
	Registry        string
	Repo            string
	Digest          digest.Digest
	MediaType       string
	Size            int64
	ArtifactType    string
	Subject         digest.Digest // "" when the manifest has no subject
	Annotations     map[string]string
	ConfigMediaType string
	Platform        *Platform // from the image config, when it has one
	ImageSize       int64     // manifest + config + layers, as ACR reports imageSize
	Blobs           []Descriptor
	Manifests       []Descriptor // children of an index / manifest list
	CreatedAt       time.Time
	UpdatedAt       time.Time
	Attrs           Attributes
}

// Copy returns a copy safe to modify.
func (m *Manifest) Copy() *Manifest {
	c := *m
	return &c
}

// Tag points a name at a manifest digest.
type Tag struct {
	Registry  string
	Repo      string
	Name      string
	Digest    digest.Digest
	CreatedAt time.Time
	UpdatedAt time.Time
	Attrs     Attributes
}

// Copy returns a shallow copy (Tag has no reference fields).
func (t *Tag) Copy() *Tag { c := *t; return &c }

// BlobLink makes a blob servable from a repository; it owns one blobstore reference.
type BlobLink struct {
	Registry  string
	Repo      string
	Digest    digest.Digest
	Size      int64
	CreatedAt time.Time
}

// Upload is an open blob upload session.
type Upload struct {
	ID        string
	Registry  string
	Repo      string
	StartedAt time.Time
	Data      *blobstore.Upload
}

// Resource is an ARM resource that owns managed identities (a VM, a container group...): the
// managed-identity endpoint finds it by its identity header, as App Service's protocol does.
type Resource struct {
	ID             string // ARM id
	Type           string // e.g. Microsoft.Compute/virtualMachines
	Name           string
	IdentityHeader string // the X-IDENTITY-HEADER secret of its managed-identity endpoint
	// SystemPrincipalID is the object id of its system-assigned identity ("" for none).
	SystemPrincipalID string
	// UserAssigned lists the ARM ids of the user-assigned identities attached to it.
	UserAssigned []string
	// IMDS marks the resource the plain IMDS endpoint (169.254.169.254) speaks for.
	IMDS bool
}

// PrivateEndpoint connects a VNet to a registry; only an Approved connection carries traffic.
type PrivateEndpoint struct {
	ID             string // ARM id of the Microsoft.Network/privateEndpoints resource
	Name           string
	VNet           string // name of the VNet (an origin of the world) it lives in
	RegistryID     string
	ConnectionName string // the registry-side privateEndpointConnections name
	Status         string // Approved, Pending, Rejected, Disconnected
	Description    string
	// Manual marks a connection requested for approval (manualPrivateLinkServiceConnections).
	Manual bool
	// Subnet is the ARM id of the subnet it was created in ("": the VNet's default subnet).
	Subnet string
	// IPs are the private addresses of its group members in the VNet, by member name
	// (registry, registry_data_<region>); AllocateEndpointIPs hands them out.
	IPs map[string]string
	// ZoneGroups are its privateDnsZoneGroups, kept and shown.
	ZoneGroups []DNSZoneGroup
	// System is the systemData of the registry side's last approval or rejection.
	System SystemData
}

// DNSZoneGroup is a private endpoint's privateDnsZoneGroups child: the private DNS zones its
// names are registered in.
type DNSZoneGroup struct {
	Name  string
	Zones []DNSZoneConfig
}

// DNSZoneConfig links a zone group to one private DNS zone (privatelink.azurecr.io).
type DNSZoneConfig struct {
	Name   string
	ZoneID string // ARM id of the Microsoft.Network/privateDnsZones resource
}

// Copy returns a copy safe to modify.
func (pe *PrivateEndpoint) Copy() *PrivateEndpoint {
	c := *pe
	c.IPs = maps.Clone(pe.IPs)
	c.ZoneGroups = make([]DNSZoneGroup, len(pe.ZoneGroups))
	for i, g := range pe.ZoneGroups {
		c.ZoneGroups[i] = DNSZoneGroup{Name: g.Name, Zones: slices.Clone(g.Zones)}
	}
	return &c
}
