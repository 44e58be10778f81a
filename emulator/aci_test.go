package emulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const rg = "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/demo-rg"

// armClient calls ARM in-process as the default world's service principal.
func armClient(t *testing.T, emu *emulatortest.Emulator) func(method, path string, body any) (int, map[string]any) {
	_, id, secret := emu.ServicePrincipal()
	return armClientAs(t, emu, id, secret)
}

// armClientAs calls ARM in-process as a service principal of the world.
func armClientAs(t *testing.T, emu *emulatortest.Emulator, id, secret string) func(method, path string, body any) (int, map[string]any) {
	tenant, _, _ := emu.ServicePrincipal()
	res, err := emu.Client().PostForm(emu.HTTPSURL()+"/"+tenant+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {id}, "client_secret": {secret}, "scope": {"https://management.azure.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	return func(method, path string, body any) (int, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		req, _ := http.NewRequest(method, emu.HTTPSURL()+path+sep+"api-version=2023-05-01", bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := emu.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out := map[string]any{}
		_ = json.NewDecoder(res.Body).Decode(&out)
		return res.StatusCode, out
	}
}

func get(m map[string]any, path ...any) any {
	var cur any = m
	for _, p := range path {
		switch k := p.(type) {
		case string:
			mm, _ := cur.(map[string]any)
			cur = mm[k]
		case int:
			a, _ := cur.([]any)
			if k >= len(a) {
				return nil
			}
			cur = a[k]
		}
	}
	return cur
}

func TestACIPullsWithManagedIdentity(t *testing.T) {
	emu := emulatortest.New(t)
	arm := armClient(t, emu)
	host := emu.Registry().Host
	image := host + "/aci/hello:v1"
	u, p := emu.Admin()
	img, _ := random.Image(2048, 2)
	r, _ := name.ParseReference(image)
	if err := remote.Write(r, img, remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: u, Password: p})); err != nil {
		t.Fatal(err)
	}
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	patch := func(props map[string]any) {
		t.Helper()
		if status, out := arm("PATCH", reg, map[string]any{"properties": props}); status != 200 {
			t.Fatalf("PATCH registry: %d %v", status, out)
		}
	}
	uami := rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/demo-identity"
	group := func(name string, identity map[string]any, cred map[string]any) (int, map[string]any) {
		return arm("PUT", rg+"/providers/Microsoft.ContainerInstance/containerGroups/"+name, map[string]any{
			"location": "eastus", "identity": identity,
			"properties": map[string]any{"osType": "Linux", "imageRegistryCredentials": []any{cred},
				"containers": []any{map[string]any{"name": "hello", "properties": map[string]any{"image": image,
					"resources": map[string]any{"requests": map[string]any{"cpu": 1, "memoryInGB": 1}}}}}}})
	}
	userIdentity := map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{uami: map[string]any{}}}
	userCred := map[string]any{"server": host, "identity": uami}

	patch(map[string]any{"publicNetworkAccess": "Disabled"})
	status, out := group("aci-user", userIdentity, userCred)
	if status != 201 || get(out, "properties", "provisioningState") != "Succeeded" ||
		get(out, "properties", "containers", 0, "properties", "instanceView", "currentState", "state") != "Running" {
		t.Fatalf("user-assigned pull with public access disabled: %d %v", status, out)
	}
	if get(out, "identity", "userAssignedIdentities", uami, "clientId") != "55555555-5555-5555-5555-555555555555" {
		t.Fatalf("identity = %v", out["identity"])
	}

	patch(map[string]any{"networkRuleBypassOptions": "None"})
	status, out = group("aci-user", userIdentity, userCred)
	msg := fmt.Sprint(get(out, "properties", "instanceView", "events", 0, "message"))
	if status != 200 || get(out, "properties", "provisioningState") != "Failed" ||
		!strings.Contains(msg, "client with IP '20.0.0.4' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.") {
		t.Fatalf("trusted services off: %d %v", status, msg)
	}
	patch(map[string]any{"networkRuleBypassOptions": "AzureServices"})

	// A system-assigned identity is new, so it holds no role: the network lets ACI through,
	// authentication does not.
	sysIdentity := map[string]any{"type": "SystemAssigned"}
	sysCred := map[string]any{"server": host, "identity": "[system]"}
	status, out = group("aci-system", sysIdentity, sysCred)
	msg = fmt.Sprint(get(out, "properties", "instanceView", "events", 0, "message"))
	if get(out, "properties", "provisioningState") != "Failed" || !strings.Contains(msg, "401") {
		t.Fatalf("system identity without a role: %d %v", status, msg)
	}
	principal := fmt.Sprint(get(out, "identity", "principalId"))
	if status, out := arm("PUT", reg+"/providers/Microsoft.Authorization/roleAssignments/9a9a9a9a-0000-4000-8000-000000000001", map[string]any{
		"properties": map[string]any{"roleDefinitionId": "/subscriptions/22222222-2222-2222-2222-222222222222/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d",
			"principalId": principal, "principalType": "ServicePrincipal"}}); status != 201 {
		t.Fatalf("AcrPull for the group's identity: %d %v", status, out)
	}
	if _, out = group("aci-system", sysIdentity, sysCred); get(out, "properties", "provisioningState") != "Succeeded" {
		t.Fatalf("system identity with AcrPull: %v", out)
	}
	if get(out, "identity", "principalId") != principal {
		t.Fatal("the group's system identity changed on update")
	}

	// Username and password are not a trusted path.
	status, out = group("aci-password", nil, map[string]any{"server": host, "username": u, "password": p})
	msg = fmt.Sprint(get(out, "properties", "instanceView", "events", 0, "message"))
	if get(out, "properties", "provisioningState") != "Failed" || !strings.Contains(msg, "client with IP '20.0.0.4' is not allowed access") {
		t.Fatalf("password credentials with public access disabled: %d %v", status, msg)
	}
	if status, _ := arm("GET", rg+"/providers/Microsoft.ContainerInstance/containerGroups/aci-user", nil); status != 200 {
		t.Fatalf("GET group: %d", status)
	}
	if status, _ := arm("DELETE", rg+"/providers/Microsoft.ContainerInstance/containerGroups/aci-system", nil); status != 200 {
		t.Fatalf("DELETE group: %d", status)
	}
}

func TestAppServiceIsNotTrusted(t *testing.T) {
	emu := emulatortest.New(t)
	arm := armClient(t, emu)
	host := emu.Registry().Host
	image := host + "/web/site:v1"
	u, p := emu.Admin()
	img, _ := random.Image(1024, 1)
	r, _ := name.ParseReference(image)
	if err := remote.Write(r, img, remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: u, Password: p})); err != nil {
		t.Fatal(err)
	}
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	patch := func(props map[string]any) {
		t.Helper()
		if status, out := arm("PATCH", reg, map[string]any{"properties": props}); status != 200 {
			t.Fatalf("PATCH registry: %d %v", status, out)
		}
	}
	site := func() (string, string, map[string]any) {
		t.Helper()
		status, out := arm("PUT", rg+"/providers/Microsoft.Web/sites/mysite", map[string]any{
			"location": "eastus", "kind": "app,linux,container", "identity": map[string]any{"type": "SystemAssigned"},
			"properties": map[string]any{"siteConfig": map[string]any{"linuxFxVersion": "DOCKER|" + image, "acrUseManagedIdentityCreds": true}}})
		if status != 200 && status != 201 {
			t.Fatalf("PUT site: %d %v", status, out)
		}
		st, _ := get(out, "properties", "state").(string)
		msg, _ := get(out, "properties", "containerStartupError").(string)
		return st, msg, out
	}
	// Its new system identity needs AcrPull, as for any caller.
	_, msg, out := site()
	if !strings.Contains(msg, "unauthorized: authentication required") {
		t.Fatalf("site without a role: %q", msg)
	}
	principal := fmt.Sprint(get(out, "identity", "principalId"))
	if status, out := arm("PUT", reg+"/providers/Microsoft.Authorization/roleAssignments/9a9a9a9a-0000-4000-8000-000000000002", map[string]any{
		"properties": map[string]any{"roleDefinitionId": "/subscriptions/22222222-2222-2222-2222-222222222222/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d",
			"principalId": principal}}); status != 201 {
		t.Fatalf("AcrPull for the site: %d %v", status, out)
	}
	if st, msg, _ := site(); st != "Running" {
		t.Fatalf("open registry: %s %q", st, msg)
	}
	denied := "denied: client with IP '20.0.0.5' is not allowed access. Refer https://aka.ms/acr/firewall to grant access."
	patch(map[string]any{"publicNetworkAccess": "Disabled", "networkRuleBypassOptions": "AzureServices"})
	if st, msg, _ := site(); st != "Stopped" || !strings.Contains(msg, "DockerApiException") || !strings.Contains(msg, denied) {
		t.Fatalf("public access disabled, trusted services on: %s %q", st, msg)
	}
	patch(map[string]any{"publicNetworkAccess": "Enabled", "networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": []any{}}})
	if st, msg, _ := site(); st != "Stopped" || !strings.Contains(msg, denied) {
		t.Fatalf("firewall, trusted services on: %s %q", st, msg)
	}
	patch(map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": []any{map[string]string{"value": "20.0.0.5"}}}})
	if st, msg, _ := site(); st != "Running" {
		t.Fatalf("App Service outbound IP allowed: %s %q", st, msg)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// doARM sends a prepared request with the service principal's ARM token.
func doARM(t *testing.T, emu *emulatortest.Emulator, req *http.Request) *http.Response {
	t.Helper()
	tenant, id, secret := emu.ServicePrincipal()
	res, err := emu.Client().PostForm(emu.HTTPSURL()+"/"+tenant+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {id}, "client_secret": {secret}, "scope": {"https://management.azure.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(res.Body).Decode(&tok)
	res.Body.Close()
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	req.Header.Set("Content-Type", "application/json")
	out, err := emu.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	return out
}
