package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// authWorld has, beside the default world's Owner service principal, one principal that may
// only pull, one without any role, and a second registry with anonymous pull.
func authWorld(t *testing.T) string {
	t.Helper()
	w := `tenantId: 11111111-1111-1111-1111-111111111111
subscriptionId: 22222222-2222-2222-2222-222222222222
resourceGroup: demo-rg
location: eastus
registries:
  - name: myregistry
    adminUserEnabled: true
    adminPassword: acr-emulator-admin-password
  - name: openregistry
    sku: Standard
    anonymousPullEnabled: true
    adminUserEnabled: true
    adminPassword: open-admin
    port: %s
servicePrincipals:
  - name: acr-emulator-sp
    clientId: 33333333-3333-3333-3333-333333333333
    objectId: 44444444-4444-4444-4444-444444444444
    secret: acr-emulator-client-secret
  - name: puller
    clientId: 55555555-5555-5555-5555-555555555555
    secret: puller-secret
  - name: nobody
    clientId: 66666666-6666-6666-6666-666666666666
    secret: nobody-secret
roleAssignments:
  - {principal: acr-emulator-sp, role: Owner, scope: subscription}
  - {principal: puller, role: AcrPull, scope: myregistry}
`
	_, port, _ := strings.Cut(harness.FreeAddr(t), ":")
	path := filepath.Join(t.TempDir(), "world.yaml")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(w, port)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// entraToken gets an Entra access token from the emulator with the real azidentity client.
func entraToken(t *testing.T, emu *harness.Emulator, clientID, secret, scope string) (string, error) {
	t.Helper()
	opts := sdkClientOptions(t, emu)
	opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: "https://" + emu.RegistryHost() + "/"}
	cred, err := azidentity.NewClientSecretCredential(harness.TenantID, clientID, secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{scope}})
	return tok.Token, err
}

// exchange trades an Entra token for an ACR refresh token, as az acr login does.
func exchange(t *testing.T, emu *harness.Emulator, entra string) (int, string) {
	t.Helper()
	client := sdkClientOptions(t, emu).Transport.(*http.Client)
	res, err := client.PostForm("https://"+emu.RegistryHost()+"/oauth2/exchange", url.Values{
		"grant_type": {"access_token"}, "service": {emu.RegistryHost()}, "tenant": {harness.TenantID}, "access_token": {entra}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&body)
	return res.StatusCode, body.RefreshToken
}

func TestAuthentication(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t, harness.WithArgs("--config", authWorld(t)))
	host := emu.RegistryHost()
	src := t.TempDir()
	want := writeLayout(t, src, 2)
	ref := host + "/auth/app:v1"

	anonymous := emu.AnonymousEnv(t)
	if out, err := emu.TryRunEnv(t, anonymous, crane, "push", src, ref); err == nil || !unauthorized(out) {
		t.Fatalf("anonymous push: err=%v\n%s", err, out)
	}
	// Admin user (the default Env).
	emu.Run(t, crane, "push", src, ref)

	// Service principal id + secret, straight to the registry as ACR allows.
	owner := emu.EnvWithLogin(t, harness.ClientID, harness.ClientSecret)
	if out, err := emu.TryRunEnv(t, owner, crane, "copy", ref, host+"/auth/sp:v1"); err != nil {
		t.Fatalf("service principal copy: %v\n%s", err, out)
	}

	// AcrPull only: pull works, push is refused.
	puller := emu.EnvWithLogin(t, "55555555-5555-5555-5555-555555555555", "puller-secret")
	if out, err := emu.TryRunEnv(t, puller, crane, "digest", ref); err != nil || strings.TrimSpace(out) != want.String() {
		t.Fatalf("AcrPull digest: %v\n%s", err, out)
	}
	if out, err := emu.TryRunEnv(t, puller, crane, "push", src, host+"/auth/nope:v1"); err == nil || !unauthorized(out) {
		t.Fatalf("AcrPull push must fail: err=%v\n%s", err, out)
	}
	// No role: nothing.
	nobody := emu.EnvWithLogin(t, "66666666-6666-6666-6666-666666666666", "nobody-secret")
	if out, err := emu.TryRunEnv(t, nobody, crane, "digest", ref); err == nil || !unauthorized(out) {
		t.Fatalf("no role pull must fail: err=%v\n%s", err, out)
	}
	// Wrong secret: refused by the registry and by Entra (with its AADSTS code).
	wrong := emu.EnvWithLogin(t, harness.ClientID, "not-the-secret")
	if out, err := emu.TryRunEnv(t, wrong, crane, "digest", ref); err == nil || !unauthorized(out) {
		t.Fatalf("wrong secret must fail: err=%v\n%s", err, out)
	}
	if _, err := entraToken(t, emu, harness.ClientID, "not-the-secret", "https://containerregistry.azure.net/.default"); err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("Entra with a wrong secret: %v", err)
	}

	// az acr login: Entra token → /oauth2/exchange → refresh token, used by crane both as the
	// null-GUID password and as a docker identity token.
	entra, err := entraToken(t, emu, harness.ClientID, harness.ClientSecret, "https://management.core.windows.net//.default")
	if err != nil {
		t.Fatalf("Entra token: %v", err)
	}
	status, refresh := exchange(t, emu, entra)
	if status != 200 || refresh == "" {
		t.Fatalf("exchange: %d", status)
	}
	withRefresh := emu.EnvWithLogin(t, harness.NullGUID, refresh)
	if out, err := emu.TryRunEnv(t, withRefresh, crane, "digest", ref); err != nil || strings.TrimSpace(out) != want.String() {
		t.Fatalf("null GUID + refresh token: %v\n%s", err, out)
	}
	identityToken := emu.AnonymousEnv(t)
	writeDockerConfig(t, identityToken, fmt.Sprintf(`{"auths":{%q:{"auth":%q,"identitytoken":%q}}}`,
		host, base64.StdEncoding.EncodeToString([]byte(harness.NullGUID+":")), refresh))
	if out, err := emu.TryRunEnv(t, identityToken, crane, "push", src, host+"/auth/identity:v1"); err != nil {
		t.Fatalf("identity token push: %v\n%s", err, out)
	}
	// A principal without a role cannot even exchange.
	if tok, err := entraToken(t, emu, "66666666-6666-6666-6666-666666666666", "nobody-secret", "https://containerregistry.azure.net/.default"); err != nil {
		t.Fatalf("Entra token for nobody: %v", err)
	} else if status, _ := exchange(t, emu, tok); status != http.StatusUnauthorized {
		t.Fatalf("exchange without a role: %d, want 401", status)
	}
	// A tampered refresh token is refused.
	parts := strings.Split(refresh, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]
	if out, err := emu.TryRunEnv(t, emu.EnvWithLogin(t, harness.NullGUID, tampered), crane, "digest", ref); err == nil {
		t.Fatalf("tampered refresh token accepted:\n%s", out)
	}
}

func writeDockerConfig(t *testing.T, env []string, cfg string) {
	t.Helper()
	for _, kv := range env {
		if dir, ok := strings.CutPrefix(kv, "DOCKER_CONFIG="); ok {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatal("no DOCKER_CONFIG in env")
}

func TestAnonymousPull(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	world := authWorld(t)
	emu := harness.Start(t, harness.WithArgs("--config", world))
	b, _ := os.ReadFile(world)
	_, after, _ := strings.Cut(string(b), "port: ")
	port, _, _ := strings.Cut(after, "\n")
	open := "localhost:" + port
	src := t.TempDir()
	want := writeLayout(t, src, 1)
	openAdmin := emu.AnonymousEnv(t)
	writeDockerConfig(t, openAdmin, fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, open, base64.StdEncoding.EncodeToString([]byte("openregistry:open-admin"))))
	if out, err := emu.TryRunEnv(t, openAdmin, crane, "push", src, open+"/pub:v1"); err != nil {
		t.Fatalf("push to openregistry: %v\n%s", err, out)
	}
	anonymous := emu.AnonymousEnv(t)
	if out, err := emu.TryRunEnv(t, anonymous, crane, "digest", open+"/pub:v1"); err != nil || strings.TrimSpace(out) != want.String() {
		t.Fatalf("anonymous pull with anonymousPullEnabled: %v\n%s", err, out)
	}
	if out, err := emu.TryRunEnv(t, anonymous, crane, "push", src, open+"/pub:v2"); err == nil {
		t.Fatalf("anonymous push to an anonymous-pull registry succeeded:\n%s", out)
	}
	emu.Run(t, crane, "push", src, emu.RegistryHost()+"/private:v1")
	if out, err := emu.TryRunEnv(t, anonymous, crane, "digest", emu.RegistryHost()+"/private:v1"); err == nil {
		t.Fatalf("anonymous pull without anonymousPullEnabled succeeded:\n%s", out)
	}
}

// unauthorized recognises crane's report of a 401 (with the body's code on GET, without on HEAD).
func unauthorized(out string) bool {
	return strings.Contains(out, "UNAUTHORIZED") || strings.Contains(out, "401 Unauthorized")
}

// TestRejectedTokens presents an expired access token (the emulator started with a one-second
// lifetime) and an unsigned "alg: none" token to the registry: both get 401 invalid_token.
func TestRejectedTokens(t *testing.T) {
	emu := harness.Start(t, harness.WithArgs("--access-token-ttl", "1s"))
	client := sdkClientOptions(t, emu).Transport.(*http.Client)
	base := "https://" + emu.RegistryHost()
	req, _ := http.NewRequest("GET", base+"/oauth2/token?service="+emu.RegistryHost()+"&scope=registry:catalog:*", nil)
	req.SetBasicAuth(harness.AdminUser, harness.AdminPassword)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&body)
	res.Body.Close()
	catalog := func(tok string) (int, string) {
		req, _ := http.NewRequest("GET", base+"/v2/_catalog", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode, res.Header.Get("Www-Authenticate")
	}
	if status, _ := catalog(body.AccessToken); status != 200 {
		t.Fatalf("fresh token: %d", status)
	}
	parts := strings.Split(body.AccessToken, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	if status, challenge := catalog(none); status != 401 || !strings.Contains(challenge, `error="invalid_token"`) {
		t.Fatalf("alg none: %d %q", status, challenge)
	}
	time.Sleep(2100 * time.Millisecond)
	if status, challenge := catalog(body.AccessToken); status != 401 || !strings.Contains(challenge, `error="invalid_token"`) {
		t.Fatalf("expired token: %d %q", status, challenge)
	}
}

// TestTokensSurviveRestart: the CA and the token signing keys are kept in the data directory,
// so after a restart the tokens clients hold still work, as they would against Azure: an ARM
// token az has cached, and an ACR refresh token docker or crane keeps.
func TestTokensSurviveRestart(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	arm, err := entraToken(t, emu, harness.ClientID, harness.ClientSecret, "https://management.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	entra, err := entraToken(t, emu, harness.ClientID, harness.ClientSecret, "https://containerregistry.azure.net/.default")
	if err != nil {
		t.Fatal(err)
	}
	status, refresh := exchange(t, emu, entra)
	if status != 200 || refresh == "" {
		t.Fatalf("exchange: %d", status)
	}
	src := t.TempDir()
	writeLayout(t, src, 1)

	emu.Restart(t)
	registry := "/subscriptions/" + subscription + "/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry?api-version=2025-11-01"
	req, _ := http.NewRequest(http.MethodGet, "https://"+emu.RegistryHost()+registry, nil)
	req.Header.Set("Authorization", "Bearer "+arm)
	res, err := sdkClientOptions(t, emu).Transport.(*http.Client).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("ARM with a token from before the restart: %d", res.StatusCode)
	}
	if out, err := emu.TryRunEnv(t, emu.EnvWithLogin(t, harness.NullGUID, refresh), crane, "push", src, emu.RegistryHost()+"/restart/app:v1"); err != nil {
		t.Fatalf("push with a refresh token from before the restart: %v\n%s", err, out)
	}
	// A token some other emulator signed is still refused.
	other := harness.Start(t)
	foreign, err := entraToken(t, other, harness.ClientID, harness.ClientSecret, "https://containerregistry.azure.net/.default")
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := exchange(t, emu, foreign); status != http.StatusUnauthorized {
		t.Fatalf("exchange of another emulator's token: %d", status)
	}
}
