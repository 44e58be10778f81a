package emulatortest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func auth(e *emulatortest.Emulator, registry ...string) remote.Option {
	u, p := e.Admin(registry...)
	return remote.WithAuth(&authn.Basic{Username: u, Password: p})
}

// Two emulators in one test binary do not share state.
func TestIsolatedEmulators(t *testing.T) {
	a, b := emulatortest.New(t), emulatortest.New(t)
	img, _ := random.Image(512, 2)
	ref, err := name.ParseReference(a.Registry().Host + "/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, remote.WithTransport(a.Transport()), auth(a)); err != nil {
		t.Fatalf("push to a: %v", err)
	}
	if _, err := remote.Image(ref, remote.WithTransport(a.Transport()), auth(a)); err != nil {
		t.Fatalf("pull from a: %v", err)
	}
	refB, _ := name.ParseReference(b.Registry().Host + "/app:v1")
	if _, err := remote.Image(refB, remote.WithTransport(b.Transport()), auth(b)); err == nil {
		t.Fatal("b serves an image pushed to a")
	}
}

// A world with a login-server suffix serves <name>.azurecr.io through the fixture's transport,
// and a registry with its own port gets its own login server.
func TestWorldWithRealLookingNames(t *testing.T) {
	w := &world.World{
		LoginServerSuffix: ".azurecr.io",
		Registries: []world.Registry{{Name: "myregistry", SKU: "Premium", AdminUserEnabled: true},
			{Name: "otherregistry", SKU: "Basic", AdminUserEnabled: true}},
	}
	emu := emulatortest.New(t, emulatortest.WithWorld(w))
	img, _ := random.Image(256, 1)
	for _, r := range []string{"myregistry", "otherregistry"} {
		host := emu.Registry(r).Host
		if host != r+".azurecr.io" {
			t.Fatalf("login server = %q", host)
		}
		ref, _ := name.ParseReference(host + "/app:" + r)
		if err := remote.Write(ref, img, remote.WithTransport(emu.Transport()), auth(emu, r)); err != nil {
			t.Fatalf("push to %s: %v", host, err)
		}
	}
	// Each registry sees only its own tag.
	ref, _ := name.ParseReference("myregistry.azurecr.io/app")
	tags, err := remote.List(ref.Context(), remote.WithTransport(emu.Transport()), auth(emu))
	if err != nil || len(tags) != 1 || tags[0] != "myregistry" {
		t.Fatalf("tags in myregistry = %v, %v", tags, err)
	}
}

func TestControlEndpoints(t *testing.T) {
	emu := emulatortest.New(t)
	res, err := http.Get(emu.HTTPURL() + "/_emulator/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("health = %d", res.StatusCode)
	}
	res, err = emu.Client().Get(emu.HTTPSURL() + "/_emulator/state")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var state struct {
		Registries []struct {
			Name        string `json:"name"`
			LoginServer string `json:"loginServer"`
		} `json:"registries"`
	}
	if err := json.NewDecoder(res.Body).Decode(&state); err != nil {
		t.Fatal(err)
	}
	if len(state.Registries) != 1 || state.Registries[0].Name != "myregistry" || state.Registries[0].LoginServer != emu.Registry().Host {
		t.Fatalf("state = %+v", state)
	}
}

func TestReset(t *testing.T) {
	emu := emulatortest.New(t)
	img, _ := random.Image(256, 1)
	ref, _ := name.ParseReference(emu.Registry().Host + "/app:v1")
	if err := remote.Write(ref, img, remote.WithTransport(emu.Transport()), auth(emu)); err != nil {
		t.Fatal(err)
	}
	res, err := http.Post(emu.HTTPURL()+"/_emulator/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("reset = %d", res.StatusCode)
	}
	if _, err := remote.Image(ref, remote.WithTransport(emu.Transport()), auth(emu)); err == nil {
		t.Fatal("image still served after reset")
	}
	if n, b := emu.Store().Blobs().Stats(); n != 0 || b != 0 {
		t.Fatalf("blobs after reset: %d (%d bytes)", n, b)
	}
	// The registry still works after a reset.
	if err := remote.Write(ref, img, remote.WithTransport(emu.Transport()), auth(emu)); err != nil {
		t.Fatalf("push after reset: %v", err)
	}
}

// azidentity's ManagedIdentityCredential caches tokens for the whole process: the second
// fixture of a test binary is handed the token the first one signed, and takes it.
func TestManagedIdentityAcrossFixtures(t *testing.T) {
	for i := range 2 {
		emu := emulatortest.New(t)
		t.Setenv("IDENTITY_ENDPOINT", emu.HTTPURL()+"/msi/token")
		t.Setenv("IDENTITY_HEADER", "acr-emulator-identity-header")
		cred, err := azidentity.NewManagedIdentityCredential(nil)
		if err != nil {
			t.Fatal(err)
		}
		tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://containerregistry.azure.net/.default"}})
		if err != nil {
			t.Fatalf("fixture %d: managed identity token: %v", i, err)
		}
		host := emu.Registry().Host
		res, err := emu.Client().PostForm("https://"+host+"/oauth2/exchange", url.Values{"grant_type": {"access_token"}, "service": {host},
			"access_token": {tok.Token}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("fixture %d: exchange of the managed identity's token: %d", i, res.StatusCode)
		}
	}
}

// Fixtures of a test binary share one Entra signing key, so the tenant is what keeps their
// tokens apart: ARM refuses a token of another tenant with ARM's InvalidAuthenticationTokenTenant.
func TestARMRefusesAnotherTenantsToken(t *testing.T) {
	a := emulatortest.New(t)
	w := world.Default()
	w.TenantID = "99999999-9999-9999-9999-999999999999"
	b := emulatortest.New(t, emulatortest.WithWorld(w))
	tok, err := b.Credential().GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(emu *emulatortest.Emulator) (int, string) {
		req, _ := http.NewRequest("GET", emu.HTTPSURL()+"/subscriptions/"+emu.World().SubscriptionID+"/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries?api-version=2025-11-01", nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		res, err := emu.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct{ Error struct{ Code string } }
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body.Error.Code
	}
	if status, code := get(a); status != http.StatusUnauthorized || code != "InvalidAuthenticationTokenTenant" {
		t.Fatalf("another tenant's token: %d %s", status, code)
	}
	if status, code := get(b); status != http.StatusOK {
		t.Fatalf("the token in its own tenant: %d %s", status, code)
	}
}
