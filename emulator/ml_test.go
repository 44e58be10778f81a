package emulator_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func TestMachineLearningPullsThroughTrustedServices(t *testing.T) {
	emu := emulatortest.New(t)
	arm := armClient(t, emu)
	image := emu.Registry().Host + "/ml/model:v1"
	u, p := emu.Admin()
	img, _ := random.Image(512, 1)
	r, _ := name.ParseReference(image)
	if err := remote.Write(r, img, remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: u, Password: p})); err != nil {
		t.Fatal(err)
	}
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	ws := rg + "/providers/Microsoft.MachineLearningServices/workspaces/ws"
	uami := rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/demo-identity"
	status, out := arm("PUT", ws, map[string]any{"location": "eastus", "identity": map[string]any{"type": "SystemAssigned,UserAssigned",
		"userAssignedIdentities": map[string]any{uami: map[string]any{}}}})
	if status != 201 || get(out, "identity", "principalId") == nil {
		t.Fatalf("PUT workspace: %d %v", status, out)
	}
	if status, out := arm("PATCH", reg, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled"}}); status != 200 {
		t.Fatalf("PATCH: %d %v", status, out)
	}
	job := func(name string, props map[string]any) map[string]any {
		t.Helper()
		status, out := arm("PUT", ws+"/jobs/"+name, map[string]any{"properties": props})
		if status != 201 {
			t.Fatalf("PUT job: %d %v", status, out)
		}
		return out
	}
	// The system identity has no role yet: the registry's token service refuses it.
	out = job("j1", map[string]any{"environment": map[string]any{"image": image}})
	if get(out, "properties", "status") != "Failed" || !strings.Contains(fmt.Sprint(get(out, "properties", "error", "message")), "401") {
		t.Fatalf("job without a role: %v", out)
	}
	// demo-identity holds AcrPush in the default world.
	out = job("j2", map[string]any{"image": image, "identityClientId": "55555555-5555-5555-5555-555555555555"})
	if get(out, "properties", "status") != "Completed" {
		t.Fatalf("job with the user-assigned identity: %v", out)
	}
	if status, got := arm("GET", ws+"/jobs/j2", nil); status != 200 || get(got, "properties", "status") != "Completed" {
		t.Fatalf("GET job: %d %v", status, got)
	}
	if status, out := arm("PATCH", reg, map[string]any{"properties": map[string]any{"networkRuleBypassOptions": "None"}}); status != 200 {
		t.Fatalf("PATCH: %d %v", status, out)
	}
	out = job("j3", map[string]any{"image": image, "identityClientId": "55555555-5555-5555-5555-555555555555"})
	if get(out, "properties", "status") != "Failed" ||
		!strings.Contains(fmt.Sprint(get(out, "properties", "error", "message")), "client with IP '20.0.0.7' is not allowed access") {
		t.Fatalf("job with trusted services off: %v", out)
	}
	if status, out := arm("PUT", ws+"/jobs/j4", map[string]any{"properties": map[string]any{}}); status != 400 {
		t.Fatalf("job without an image: %d %v", status, out)
	}
	if status, _ := arm("GET", ws+"/jobs/none", nil); status != 404 {
		t.Fatalf("GET unknown job: %d", status)
	}
}
