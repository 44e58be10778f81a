package emulator_test

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

const cacheWorld = `
keyVaultSecrets:
  - {id: https://kv.vault.azure.net/secrets/user, value: upstreamreg}
  - {id: https://kv.vault.azure.net/secrets/pass, value: upstream-pass}
  - {id: https://kv.vault.azure.net/secrets/self-user, value: myregistry}
  - {id: https://kv.vault.azure.net/secrets/self-pass, value: my-pass}
registries:
  - name: myregistry
    adminUserEnabled: true
    adminPassword: my-pass
    credentialSets:
      - {name: upstream-creds, loginServer: upstreamreg.azurecr.io, usernameSecretIdentifier: "https://kv.vault.azure.net/secrets/user",
         passwordSecretIdentifier: "https://kv.vault.azure.net/secrets/pass"}
      - {name: self-creds, loginServer: myregistry.azurecr.io, usernameSecretIdentifier: "https://kv.vault.azure.net/secrets/self-user",
         passwordSecretIdentifier: "https://kv.vault.azure.net/secrets/self-pass"}
    cacheRules:
      - {name: app-rule, sourceRepository: upstreamreg.azurecr.io/private/app, targetRepository: app, credentialSet: upstream-creds}
      - {name: anon-rule, sourceRepository: upstreamreg.azurecr.io/private/app, targetRepository: anon}
      - {name: self-loop, sourceRepository: myregistry.azurecr.io/loop, targetRepository: loop, credentialSet: self-creds}
  - name: upstreamreg
    port: 1
    adminUserEnabled: true
    adminPassword: upstream-pass
    images:
      - {repository: private/app, tags: [v1], generate: {layers: 1, layerSize: 1KiB}}
servicePrincipals:
  - {name: sp, clientId: 33333333-3333-3333-3333-333333333333, secret: acr-emulator-client-secret}
roleAssignments:
  - {principal: sp, role: Owner, scope: subscription}
`

// A world's cache rules pull through to another registry of the emulator, with the world
// credential set's Key Vault secrets (Healthy in ARM) or anonymously (refused by the
// upstream); a reset drops what was cached and keeps the rules.
func TestWorldArtifactCache(t *testing.T) {
	emu := startWorld(t, cacheWorld)
	arm := armClient(t, emu)
	origin := ""
	tr := roundTrip(func(r *http.Request) (*http.Response, error) {
		res, err := emu.Transport().RoundTrip(r)
		if err == nil && strings.Contains(r.URL.Path, "/manifests/") {
			origin = res.Header.Get("X-Azure-Origin")
		}
		return res, err
	})
	get := func(host, user, pass, repo string) (string, error) {
		ref, err := name.ParseReference(host + "/" + repo + ":v1")
		if err != nil {
			t.Fatal(err)
		}
		origin = ""
		d, err := remote.Get(ref, remote.WithTransport(tr), remote.WithAuth(&authn.Basic{Username: user, Password: pass}))
		if err != nil {
			return "", err
		}
		return d.Digest.String(), nil
	}
	want, err := get(emu.Registry("upstreamreg").Host, "upstreamreg", "upstream-pass", "private/app")
	if err != nil {
		t.Fatal(err)
	}
	mine := emu.Registry("myregistry").Host
	if got, err := get(mine, "myregistry", "my-pass", "app"); err != nil || got != want || origin != "upstream" {
		t.Fatalf("through the credential set: %s %v (origin %q), want %s from upstream", got, err, origin, want)
	}
	if got, err := get(mine, "myregistry", "my-pass", "app"); err != nil || got != want || origin != "" {
		t.Fatalf("cached: %s %v (origin %q)", got, err, origin)
	}
	_, err = get(mine, "myregistry", "my-pass", "anon")
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusUnauthorized || len(te.Errors) == 0 ||
		!strings.HasPrefix(te.Errors[0].Message, "authentication required with source registry for cache rule 'anon-rule'.") {
		t.Fatalf("anonymous upstream pull: %v", err)
	}
	// A rule reading its own target finds nothing there, at once.
	start := time.Now()
	_, err = get(mine, "myregistry", "my-pass", "loop")
	if !errors.As(err, &te) || te.StatusCode != http.StatusNotFound || time.Since(start) > 30*time.Second {
		t.Fatalf("a rule reading itself: %v after %s", err, time.Since(start))
	}
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	status, set := arm("GET", reg+"/credentialSets/upstream-creds", nil)
	if status != 200 || !strings.Contains(fmt.Sprint(set["properties"]), "credentialHealth:map[status:Healthy]") {
		t.Fatalf("the world's credential set: %d %v", status, set)
	}
	res, err := http.Post(emu.HTTPURL()+"/_emulator/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if status, _ := arm("GET", reg+"/cacheRules/app-rule", nil); status != 200 {
		t.Fatalf("the world's rule after a reset: %d", status)
	}
	if got, err := get(mine, "myregistry", "my-pass", "app"); err != nil || got != want || origin != "upstream" {
		t.Fatalf("after a reset the cache fills again: %s %v (origin %q)", got, err, origin)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
