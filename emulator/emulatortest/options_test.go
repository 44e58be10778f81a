package emulatortest_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Declared registries start with the network rules declared, and preloaded images are in them
// whatever those rules are; the registry's record is the declared one after the preload.
func TestDeclaredRegistries(t *testing.T) {
	img := randomImage(t)
	index, err := random.Index(256, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	emu := emulatortest.New(t,
		emulatortest.WithRegistry("lockedregistry", emulatortest.PublicNetworkAccessDisabled(), emulatortest.TrustedServices(false)),
		emulatortest.WithRegistry("office", emulatortest.Firewall("203.0.113.0/24"), emulatortest.AdminUser("office-pass")),
		emulatortest.WithRegistry("openregistry", emulatortest.Firewall("127.0.0.1"), emulatortest.AdminUser("open-pass")),
		emulatortest.WithRegistry("stdregistry", emulatortest.SKU("Standard"), emulatortest.AnonymousPull()),
		emulatortest.WithRegistry("myregistry", emulatortest.ABAC()),
		emulatortest.WithImage("lockedregistry", "app:v1", img),
		emulatortest.WithImage("office", "multi:v1", index),
	)
	ctx := context.Background()
	registries := emu.ARMClientFactory(emu.Credential()).NewRegistriesClient()
	get := func(name string) *armcontainerregistry.RegistryProperties {
		t.Helper()
		r, err := registries.Get(ctx, emu.World().ResourceGroup, name, nil)
		if err != nil {
			t.Fatalf("get %s: %v", name, err)
		}
		return r.Properties
	}

	locked := get("lockedregistry")
	if *locked.PublicNetworkAccess != armcontainerregistry.PublicNetworkAccessDisabled || *locked.NetworkRuleBypassOptions != armcontainerregistry.NetworkRuleBypassOptionsNone ||
		*locked.AdminUserEnabled {
		t.Fatalf("lockedregistry: public access %s, bypass %s, admin %v", *locked.PublicNetworkAccess, *locked.NetworkRuleBypassOptions, *locked.AdminUserEnabled)
	}
	// An added registry has its own port, a Premium SKU and Azure's defaults otherwise.
	if host := emu.Registry("lockedregistry").Host; host == emu.Registry().Host || !strings.HasPrefix(host, "localhost:") || *locked.LoginServer != host {
		t.Fatalf("lockedregistry is served at %s (ARM says %s), myregistry at %s", host, *locked.LoginServer, emu.Registry().Host)
	}
	if u, p := emu.Admin("lockedregistry"); u != "" || p != "" {
		t.Fatal("the preload left the admin user of lockedregistry on")
	}
	// The preloaded image is there, behind the network rules declared.
	d, _ := img.Digest()
	tag, err := emu.Store().GetTag("lockedregistry", "app", "v1")
	if err != nil || tag == nil || tag.Digest.String() != d.String() {
		t.Fatalf("preloaded tag = %+v, %v", tag, err)
	}
	ref, _ := name.ParseReference(emu.Registry("lockedregistry").Host + "/app:v1")
	if _, err := remote.Head(ref, remote.WithTransport(emu.Transport())); err == nil || !strings.Contains(err.Error(), "client with IP '127.0.0.1' is not allowed access") {
		t.Fatalf("pull from lockedregistry: %v", err)
	}

	// A firewall that does not list this machine denies it; one that lists it lets it in.
	office := get("office")
	if *office.NetworkRuleSet.DefaultAction != armcontainerregistry.DefaultActionDeny || *office.NetworkRuleSet.IPRules[0].IPAddressOrRange != "203.0.113.0/24" {
		t.Fatalf("office firewall = %+v", office.NetworkRuleSet)
	}
	u, p := emu.Admin("office")
	multi, _ := name.ParseReference(emu.Registry("office").Host + "/multi:v1")
	if _, err := remote.Index(multi, remote.WithTransport(emu.Transport()), remoteAuth(u, p)); err == nil || !strings.Contains(err.Error(), "DENIED") {
		t.Fatalf("pull through the office firewall: %v", err)
	}
	if m, _ := emu.Store().ListManifests("office", "multi"); len(m) != 3 {
		t.Fatalf("the preloaded index has %d manifests in the registry, want the index and its 2 images", len(m))
	}
	u, p = emu.Admin("openregistry")
	openRef, _ := name.ParseReference(emu.Registry("openregistry").Host + "/app:v1")
	if err := remote.Write(openRef, img, remote.WithTransport(emu.Transport()), remoteAuth(u, p)); err != nil {
		t.Fatalf("push through a firewall that lists 127.0.0.1: %v", err)
	}

	// armcontainerregistry v1.2.0 has no field for these two; the record shows them.
	if basic, _ := emu.Store().GetRegistry("stdregistry"); basic.SKU != "Standard" || !basic.AnonymousPullEnabled {
		t.Fatalf("stdregistry: %s, anonymous pull %v", basic.SKU, basic.AnonymousPullEnabled)
	}
	if mine, _ := emu.Store().GetRegistry("myregistry"); mine.RoleAssignmentMode != "AbacRepositoryPermissions" || !mine.AdminUserEnabled {
		t.Fatalf("myregistry: role assignment mode %s, admin user %v", mine.RoleAssignmentMode, mine.AdminUserEnabled)
	}
}

// Declarations apply on top of WithWorld's world, wherever WithWorld appears, and leave the
// caller's world as it was.
func TestDeclarationsOnAWorld(t *testing.T) {
	w := &world.World{LoginServerSuffix: ".azurecr.io", Registries: []world.Registry{{Name: "first"}}}
	emu := emulatortest.New(t, emulatortest.WithRegistry("second", emulatortest.AdminUser("pw")), emulatortest.WithWorld(w),
		emulatortest.WithImage("second", "app:v1", randomImage(t)))
	if len(w.Registries) != 1 {
		t.Fatal("the caller's world was changed")
	}
	if got := emu.Registry("second").Host; got != "second.azurecr.io" {
		t.Fatalf("second is served at %q", got)
	}
	ref, _ := name.ParseReference("second.azurecr.io/app:v1")
	if _, err := remote.Head(ref, remote.WithTransport(emu.Transport()), remoteAuth(emu.Admin("second"))); err != nil {
		t.Fatalf("preloaded image in a declared registry: %v", err)
	}
}

// fatalRecorder stands in for the test a fixture fails: Fatal records the message and ends the
// goroutine as testing's does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalRecorder) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

// fails runs fn with a recorder and returns the message the fixture failed with.
func fails(t *testing.T, fn func(tb testing.TB)) string {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(rec)
	}()
	<-done
	return rec.msg
}

// Mistakes in declarations fail the test with a message that names them.
func TestBadDeclarations(t *testing.T) {
	for _, c := range []struct {
		desc string
		opts []emulatortest.Option
		want string
	}{
		{"unknown principal", []emulatortest.Option{emulatortest.WithRoleAssignment("ghost", "AcrPull", "myregistry")}, `roleAssignments[3].principal: "ghost" is not a service principal`},
		{"unknown role", []emulatortest.Option{emulatortest.WithRoleAssignment("demo-identity", "AcrPullish", "myregistry")}, `"AcrPullish" is not a built-in role`},
		{"registry name", []emulatortest.Option{emulatortest.WithRegistry("Bad_Name")}, "must be 5-50 lowercase letters and digits"},
		{"firewall on Basic", []emulatortest.Option{emulatortest.WithRegistry("basicregistry", emulatortest.SKU("Basic"), emulatortest.Firewall())}, "need the Premium SKU"},
		{"bad IP rule", []emulatortest.Option{emulatortest.WithRegistry("myregistry", emulatortest.Firewall("10.0.0.300"))}, "is not an IPv4 address or CIDR range"},
		{"image for no registry", []emulatortest.Option{emulatortest.WithImage("nosuchregistry", "app:v1", randomImage(t))}, `no registry "nosuchregistry"`},
		{"no image", []emulatortest.Option{emulatortest.WithImage("myregistry", "app:v1", nil)}, "no image"},
		{"bad reference", []emulatortest.Option{emulatortest.WithImage("myregistry", "App:V1", randomImage(t))}, "could not parse reference"},
	} {
		t.Run(c.desc, func(t *testing.T) {
			if msg := fails(t, func(tb testing.TB) { emulatortest.New(tb, c.opts...) }); !strings.Contains(msg, c.want) {
				t.Fatalf("New failed with %q, want %q", msg, c.want)
			}
		})
	}
	if msg := fails(t, func(tb testing.TB) {
		emu := emulatortest.New(tb)
		emu.RegistryClient("nosuchregistry", emu.Credential())
	}); !strings.Contains(msg, `no registry "nosuchregistry"`) {
		t.Fatalf("RegistryClient of an unknown registry: %q", msg)
	}
	if msg := fails(t, func(tb testing.TB) { emulatortest.New(tb).ManagedIdentityCredential("ghost") }); !strings.Contains(msg, `no user-assigned identity "ghost"`) {
		t.Fatalf("ManagedIdentityCredential of an unknown identity: %q", msg)
	}
}
