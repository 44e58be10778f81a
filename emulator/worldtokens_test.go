package emulator_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const tokensWorld = `
registries:
  - name: myregistry
    images:
      - repository: samples/hello
        tags: [v1]
        generate: {layers: 1, layerSize: 1KiB}
    scopeMaps:
      - name: samples-read
        description: Pulls samples/*
        actions: [repositories/samples/*/content/read]
    tokens:
      - {name: ci-token, scopeMap: samples-read, password1: ci-token-password}
      - {name: off-token, scopeMap: _repositories_admin, status: disabled, password2: off-password}
servicePrincipals:
  - {name: sp, clientId: 33333333-3333-3333-3333-333333333333, secret: acr-emulator-client-secret}
roleAssignments:
  - {principal: sp, role: Owner, scope: subscription}
`

// A world's tokens log in with the passwords it names, get what their scope map allows, are
// shown by ARM as any token, and come back as the world made them after a reset.
func TestWorldTokens(t *testing.T) {
	emu := startWorld(t, tokensWorld)
	arm := armClient(t, emu)
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	hello, _ := name.ParseReference(emu.Registry().Host + "/samples/hello:v1")
	as := func(user, pass string) []remote.Option {
		return []remote.Option{remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: user, Password: pass})}
	}
	pull := func(user, pass string) error {
		_, err := remote.Head(hello, as(user, pass)...)
		return err
	}
	if err := pull("ci-token", "ci-token-password"); err != nil {
		t.Fatalf("pull with the world's token: %v", err)
	}
	if err := pull("off-token", "off-password"); err == nil {
		t.Fatal("a disabled world token pulled")
	}
	other, _ := name.ParseReference(emu.Registry().Host + "/samples/other:v1")
	img, _ := random.Image(512, 1)
	if err := remote.Write(other, img, as("ci-token", "ci-token-password")...); err == nil {
		t.Fatal("a content/read token pushed")
	}

	status, tok := arm("GET", reg+"/tokens/ci-token", nil)
	props, _ := tok["properties"].(map[string]any)
	if status != 200 || props["status"] != "enabled" || !strings.HasSuffix(fmt.Sprint(props["scopeMapId"]), "/registries/myregistry/scopeMaps/samples-read") ||
		!strings.Contains(fmt.Sprint(props["credentials"]), "name:password1") || strings.Contains(fmt.Sprint(props["credentials"]), "ci-token-password") {
		t.Fatalf("world token through ARM: %d %v", status, tok)
	}
	if status, m := arm("GET", reg+"/scopeMaps/samples-read", nil); status != 200 || !strings.Contains(fmt.Sprint(m), "description:Pulls samples/*") {
		t.Fatalf("world scope map through ARM: %d %v", status, m)
	}

	// Disabled through ARM, then the reset brings the world's token back.
	if status, _ := arm("PATCH", reg+"/tokens/ci-token", map[string]any{"properties": map[string]any{"status": "disabled"}}); status != 201 {
		t.Fatalf("token PATCH: %d", status)
	}
	if err := pull("ci-token", "ci-token-password"); err == nil {
		t.Fatal("a disabled token pulled")
	}
	res, err := http.Post(emu.HTTPURL()+"/_emulator/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("reset: %d", res.StatusCode)
	}
	if err := pull("ci-token", "ci-token-password"); err != nil {
		t.Fatalf("pull with the world's token after a reset: %v", err)
	}
}
