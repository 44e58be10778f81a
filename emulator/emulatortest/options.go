package emulatortest

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/acr-emulator/acr-emulator/emulator"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Option adjusts the emulator a fixture starts. Declarations (WithRegistry, WithManagedIdentity,
// WithRoleAssignment, WithServicePrincipal, WithImage) apply in order on top of the world, which
// is the default world unless WithWorld gives another, wherever WithWorld appears.
type Option func(*settings)

type settings struct {
	cfg     emulator.Config
	declare []func(*world.World) error
	images  []preload
}

// WithWorld starts from w instead of the default world (well-known ids in the README).
func WithWorld(w *world.World) Option { return func(s *settings) { s.cfg.World = w } }

// WithLogger sends the emulator's logs to l (default: discarded, so test output stays readable).
func WithLogger(l *slog.Logger) Option { return func(s *settings) { s.cfg.Logger = l } }

// WithConfig edits the whole emulator.Config (size limits, TTLs...).
func WithConfig(f func(*emulator.Config)) Option { return func(s *settings) { f(&s.cfg) } }

func defaultSettings() settings {
	return settings{cfg: emulator.Config{
		HTTPSAddr: "127.0.0.1:0",
		HTTPAddr:  "127.0.0.1:0",
		ProxyAddr: "127.0.0.1:0",
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	}}
}

// buildWorld applies the declarations to a copy of the configured world (the caller's value
// is never changed) and validates the result as a world file would be.
func (s *settings) buildWorld() (*world.World, error) {
	base := s.cfg.World
	if base == nil {
		base = world.Default()
	}
	b, err := json.Marshal(base)
	if err != nil {
		return nil, err
	}
	var w *world.World
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, err
	}
	// The copy is parsed from memory: paths the world file wrote relative to itself (image
	// layouts and archives) are made absolute first.
	for i := range w.Registries {
		for j := range w.Registries[i].Images {
			img := &w.Registries[i].Images[j]
			if img.Layout != "" {
				img.Layout = base.Path(img.Layout)
			}
			if img.Archive != "" {
				img.Archive = base.Path(img.Archive)
			}
		}
	}
	for _, d := range s.declare {
		if err := d(w); err != nil {
			return nil, err
		}
	}
	if b, err = json.Marshal(w); err != nil {
		return nil, err
	}
	return world.Parse(b, "declared-world.json")
}

// A RegistryOption sets one property of a registry declared with WithRegistry. Each says what
// a registry created in Azure has when the property is not set.
type RegistryOption func(*world.Registry)

// WithRegistry declares a registry: the world's registry of that name is adjusted, any other
// name is added with its own HTTPS port (login server localhost:<port>, or <name><suffix> in a
// world with a login server suffix). An added registry is Premium, so that network rules can be
// set on it, with the admin user disabled, public network access enabled, no firewall rules
// and trusted services allowed: what `az acr create --sku Premium` makes.
func WithRegistry(name string, opts ...RegistryOption) Option {
	return declare(func(w *world.World) error {
		r := findRegistry(w, name)
		if r == nil {
			w.Registries = append(w.Registries, world.Registry{Name: name, SKU: "Premium"})
			r = &w.Registries[len(w.Registries)-1]
			if w.LoginServerSuffix == "" {
				r.Port = unusedPort(w)
			}
		}
		for _, o := range opts {
			o(r)
		}
		return nil
	})
}

// unusedPort is a placeholder port no registry of w has: New gives every registry with a
// port a free one.
func unusedPort(w *world.World) int {
	used := map[int]bool{}
	for _, r := range w.Registries {
		used[r.Port] = true
	}
	p := 1
	for used[p] {
		p++
	}
	return p
}

// SKU sets the registry's tier: Basic, Standard or Premium. Azure makes you choose one; an
// added registry is Premium, the only tier with network rules.
func SKU(sku string) RegistryOption { return func(r *world.Registry) { r.SKU = sku } }

// AdminUser enables the admin user (username: the registry's name) with password. Azure's
// default: disabled.
func AdminUser(password string) RegistryOption {
	return func(r *world.Registry) { r.AdminUserEnabled, r.AdminPassword = true, password }
}

// PublicNetworkAccessDisabled turns public network access off, as `az acr update
// --public-network-enabled false`: only private endpoints and, while allowed, trusted services
// reach the registry. Azure's default: enabled.
func PublicNetworkAccessDisabled() RegistryOption {
	return func(r *world.Registry) { r.PublicNetworkAccess = "Disabled" }
}

// Firewall denies every public client except those in ipRules (IPv4 addresses or CIDR
// ranges): networkRuleSet.defaultAction Deny. A direct connection from the test is
// 127.0.0.1 unless the world sets localClientIP. Azure's default: defaultAction Allow, no rules.
func Firewall(ipRules ...string) RegistryOption {
	return func(r *world.Registry) {
		r.NetworkRuleSet = &world.NetworkRuleSet{DefaultAction: "Deny", IPRules: append([]string(nil), ipRules...)}
	}
}

// TrustedServices sets "Allow trusted Microsoft services to access this container registry"
// (networkRuleBypassOptions AzureServices or None). Azure's default: allowed.
func TrustedServices(allowed bool) RegistryOption {
	return func(r *world.Registry) {
		r.NetworkRuleBypassOptions = "None"
		if allowed {
			r.NetworkRuleBypassOptions = "AzureServices"
		}
	}
}

// TrustedTasks sets networkRuleBypassAllowedForTasks, which ACR Tasks using a system-assigned
// identity need under the "current" profile. Azure's default: false.
func TrustedTasks(allowed bool) RegistryOption {
	return func(r *world.Registry) { r.NetworkRuleBypassAllowedForTasks = allowed }
}

// AnonymousPull lets anyone pull (Standard and Premium). Azure's default: off.
func AnonymousPull() RegistryOption { return func(r *world.Registry) { r.AnonymousPullEnabled = true } }

// ABAC sets the role assignment mode to AbacRepositoryPermissions, where only the repository
// roles (Container Registry Repository Reader/Writer/Contributor) grant data access. Azure's
// default: LegacyRegistryPermissions (AcrPull, AcrPush, Owner, Contributor... grant it).
func ABAC() RegistryOption {
	return func(r *world.Registry) { r.RoleAssignmentMode = "AbacRepositoryPermissions" }
}

// WithServicePrincipal adds an Entra application with a client secret; Credential(name) signs
// in as it, ServicePrincipal(name) gives its ids and secret. Like a new app registration in
// Azure it has no role assignment: add them with WithRoleAssignment.
func WithServicePrincipal(name string) Option {
	return declare(func(w *world.World) error {
		w.ServicePrincipals = append(w.ServicePrincipals, world.ServicePrincipal{
			Name: name, ClientID: guidFrom("emulatortest client " + name), Secret: "emulatortest-secret-" + name})
		return nil
	})
}

// WithManagedIdentity adds a user-assigned managed identity, attached to the compute resource
// that answers IMDS (the default world's "workstation"), so ManagedIdentityCredential(name)
// gets its tokens as code on an Azure VM does. Like a new identity in Azure it has no role
// assignment: add them with WithRoleAssignment.
func WithManagedIdentity(name string) Option {
	return declare(func(w *world.World) error {
		w.ManagedIdentities = append(w.ManagedIdentities, world.ManagedIdentity{Name: name})
		c := imdsCompute(w)
		c.UserAssignedIdentities = append(c.UserAssignedIdentities, name)
		return nil
	})
}

// WithRoleAssignment grants a built-in role (its name, "AcrPull", or GUID) to a principal (a
// service principal, managed identity or compute resource of the world, by name, client id or
// object id) at a scope: "subscription", "resourceGroup", a registry name, or an ARM id.
func WithRoleAssignment(principal, role, scope string) Option {
	return declare(func(w *world.World) error {
		w.RoleAssignments = append(w.RoleAssignments, world.RoleAssignment{Principal: principal, Role: role, Scope: scope})
		return nil
	})
}

// WithImage pushes img (a v1.Image or v1.ImageIndex, e.g. from go-containerregistry's random
// package) to the registry as repository:tag before New returns, through the registry API,
// whatever the registry's network rules and credentials: the image is there as if it had been
// pushed before the registry was locked down. POST /_emulator/reset removes it with the rest.
func WithImage(registry, ref string, img remote.Taggable) Option {
	return func(s *settings) { s.images = append(s.images, preload{registry: registry, ref: ref, img: img}) }
}

func declare(f func(*world.World) error) Option {
	return func(s *settings) { s.declare = append(s.declare, f) }
}

func findRegistry(w *world.World, name string) *world.Registry {
	for i := range w.Registries {
		if w.Registries[i].Name == name {
			return &w.Registries[i]
		}
	}
	return nil
}

// imdsCompute is the world's IMDS machine, added when the world has none.
func imdsCompute(w *world.World) *world.ComputeResource {
	for i := range w.ComputeResources {
		if w.ComputeResources[i].IMDS {
			return &w.ComputeResources[i]
		}
	}
	w.ComputeResources = append(w.ComputeResources, world.ComputeResource{Name: "emulatortest-vm", SystemAssignedIdentity: true,
		IdentityHeader: "emulatortest-identity-header", IMDS: true})
	return &w.ComputeResources[len(w.ComputeResources)-1]
}

// guidFrom makes a stable GUID from a seed, so a declared principal has the same ids in every
// run.
func guidFrom(seed string) string {
	h := sha256.Sum256([]byte(seed))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}
