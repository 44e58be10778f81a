package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator"
	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/fakes/acrclient"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// A simulated service authenticates with its managed identity and pulls from the Azure-service
// origin: trusted services pass a locked-down registry while the bypass is on, App Service never
// does, and a trusted service without a role is refused by authentication, not the network.
func TestAzureServiceOrigin(t *testing.T) {
	emu := emulatortest.New(t)
	ctx := context.Background()
	host := emu.Registry().Host
	ref := host + "/svc/app:v1"
	u, p := emu.Admin()
	img, _ := random.Image(1024, 2)
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img, remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: u, Password: p})); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	lock := func(bypass bool) {
		t.Helper()
		reg, _ := emu.Store().GetRegistry("myregistry")
		c := reg.Copy()
		c.PublicNetworkAccess, c.BypassAzureServices = false, bypass
		if err := emu.Store().PutRegistry(c); err != nil {
			t.Fatal(err)
		}
	}
	// The default world's workstation: system identity and demo-identity, both AcrPush.
	id := acrclient.Identity{Endpoint: "https://" + host + "/msi/token", Header: "acr-emulator-identity-header"}
	client := func(svc string, identity acrclient.Identity) *acrclient.Client {
		return &acrclient.Client{Transport: emu.ServiceTransport(emulator.AzureService{Name: svc, OutboundIP: "20.1.2.3"}), Identity: identity}
	}
	lock(true)
	for _, svc := range []string{network.ServiceACI, network.ServiceML, network.ServiceDefender, network.ServiceImport, network.ServiceTasks} {
		got, err := client(svc, id).Pull(ctx, ref)
		if err != nil || got != want {
			t.Fatalf("%s pull with trusted services on: %v", svc, err)
		}
	}
	uami := id
	uami.ClientID = "55555555-5555-5555-5555-555555555555"
	if _, err := client(network.ServiceACI, uami).Pull(ctx, ref); err != nil {
		t.Fatalf("ACI pull with the user-assigned identity: %v", err)
	}
	var rerr *acrclient.Error
	if _, err := client(network.ServiceAppService, id).Pull(ctx, ref); !errors.As(err, &rerr) || rerr.Status != http.StatusForbidden ||
		!strings.Contains(rerr.Message, "client with IP '20.1.2.3' is not allowed access") {
		t.Fatalf("App Service is not trusted: %v", err)
	}
	lock(false)
	if _, err := client(network.ServiceACI, id).Pull(ctx, ref); !errors.As(err, &rerr) || rerr.Status != http.StatusForbidden {
		t.Fatalf("ACI with trusted services off: %v", err)
	}
	// Trusted, but the identity holds no role: the network lets it through, authentication not.
	lock(true)
	roleless := acrclient.Identity{Endpoint: id.Endpoint, Header: id.Header}
	for _, a := range mustAssignments(t, emu, "77777777-7777-7777-7777-777777777777") {
		if _, err := emu.Store().DeleteRoleAssignment(a); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client(network.ServiceACI, roleless).Pull(ctx, ref); !errors.As(err, &rerr) || rerr.Status != http.StatusUnauthorized || rerr.Step != "exchange" {
		t.Fatalf("trusted service without a role: %v", err)
	}
	// The audit names the service, its identity and the deciding rule.
	res, err := http.Get(emu.HTTPURL() + "/_emulator/audit?registry=myregistry")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var audit struct {
		Entries []struct{ Origin, Principal, Decision, Rule, Path string } `json:"entries"`
	}
	_ = json.NewDecoder(res.Body).Decode(&audit)
	found := map[string]bool{}
	for _, e := range audit.Entries {
		if strings.Contains(e.Path, "/manifests/") {
			found[e.Origin+"|"+e.Decision+"|"+e.Rule+"|"+e.Principal] = true
		}
	}
	for _, want := range []string{
		"aci|allowed|trusted-service-bypass|ManagedIdentity workstation (" + systemClientID(t, emu) + ")",
		"aci|allowed|trusted-service-bypass|ManagedIdentity demo-identity (55555555-5555-5555-5555-555555555555)",
	} {
		if !found[want] {
			t.Errorf("audit lacks %q; has %v", want, found)
		}
	}
}

func mustAssignments(t *testing.T, emu *emulatortest.Emulator, principal string) []string {
	t.Helper()
	as, err := emu.Store().RoleAssignmentsOf(principal)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range as {
		ids = append(ids, a.ID)
	}
	return ids
}

func systemClientID(t *testing.T, emu *emulatortest.Emulator) string {
	p, err := emu.Store().GetPrincipal("77777777-7777-7777-7777-777777777777")
	if err != nil || p == nil {
		t.Fatal("workstation identity missing")
	}
	return p.AppID
}
