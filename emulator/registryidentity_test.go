package emulator_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/rbac"
)

// A registry's system-assigned identity is a principal Entra knows: the managed-identity
// endpoint issues its tokens (to whoever holds the registry's identity header, the emulator's
// own services), and ARM authorizes them by the roles assigned to it.
func TestRegistryIdentityGetsTokens(t *testing.T) {
	emu := emulatortest.New(t)
	arm := armClient(t, emu)
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	status, out := arm("PATCH", reg, map[string]any{"identity": map[string]any{"type": "SystemAssigned"}})
	principal, _ := get(out, "identity", "principalId").(string)
	if status != 200 || principal == "" {
		t.Fatalf("PATCH identity: %d %v", status, out)
	}
	res, err := emu.Store().GetResource(reg)
	if err != nil || res == nil || res.IdentityHeader == "" {
		t.Fatalf("the registry's identity record: %v %+v", err, res)
	}
	req, _ := http.NewRequest("GET", emu.HTTPSURL()+"/msi/token?api-version=2019-08-01&resource=https://management.azure.com/", nil)
	req.Header.Set("X-IDENTITY-HEADER", res.IdentityHeader)
	resp, err := emu.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	parts := strings.Split(tok.AccessToken, ".")
	if resp.StatusCode != 200 || len(parts) != 3 {
		t.Fatalf("token: %d %q", resp.StatusCode, tok.AccessToken)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	_ = json.Unmarshal(payload, &claims)
	if claims["oid"] != principal || !strings.EqualFold(claims["xms_mirid"].(string), reg) {
		t.Fatalf("claims: %v", claims)
	}
	asIdentity := func() int {
		req, _ := http.NewRequest("GET", emu.HTTPSURL()+reg+"?api-version=2025-11-01", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := emu.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := asIdentity(); got != 403 {
		t.Fatalf("the identity without a role reads the registry: %d", got)
	}
	reader, _ := rbac.RoleByName("Reader")
	if status, out := arm("PUT", reg+"/providers/Microsoft.Authorization/roleAssignments/66666666-aaaa-aaaa-aaaa-000000000001",
		map[string]any{"properties": map[string]any{"roleDefinitionId": rbac.DefinitionID("22222222-2222-2222-2222-222222222222", reader.ID), "principalId": principal}}); status != 201 {
		t.Fatalf("role: %d %v", status, out)
	}
	if got := asIdentity(); got != 200 {
		t.Fatalf("the identity with Reader: %d", got)
	}
}
