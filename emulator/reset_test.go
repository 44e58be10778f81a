package emulator_test

import (
	"net/http"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const resetWorld = `
registries:
  - name: myregistry
    adminUserEnabled: true
    adminPassword: pw
    images:
      - repository: samples/hello
        tags: [v1]
        generate: {layers: 2, layerSize: 2KiB, platforms: [linux/amd64, linux/arm64]}
    tasks:
      - name: build-task
        identity: {type: SystemAssigned}
        properties:
          step: {type: EncodedTask, taskYaml: "version: v1.1.0\nsteps:\n  - cmd: $Registry/samples/hello:v1\n"}
  - name: otherregistry
    port: 1
servicePrincipals:
  - {name: sp, clientId: 33333333-3333-3333-3333-333333333333, secret: acr-emulator-client-secret}
roleAssignments:
  - {principal: sp, role: Owner, scope: subscription}
`

// A reset returns to the loaded world, preloaded images and tasks included, and forgets
// everything since: content, ARM changes and creations, tasks and runs.
func TestResetReturnsToTheWorld(t *testing.T) {
	emu := startWorld(t, resetWorld)
	arm := armClient(t, emu)
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	auth := remote.WithAuth(&authn.Basic{Username: "myregistry", Password: "pw"})
	hello, _ := name.ParseReference(emu.Registry().Host + "/samples/hello:v1")
	preloaded, err := remote.Head(hello, remote.WithTransport(emu.Transport()), auth)
	if err != nil {
		t.Fatal(err)
	}
	_, task := arm("GET", reg+"/tasks/build-task", nil)
	blobs, bytes := emu.Store().Blobs().Stats()

	// Change everything a user can.
	pushed, _ := name.ParseReference(emu.Registry().Host + "/app:v1")
	img, _ := random.Image(1024, 1)
	if err := remote.Write(pushed, img, remote.WithTransport(emu.Transport()), auth); err != nil {
		t.Fatal(err)
	}
	if err := remote.Delete(hello.Context().Digest(preloaded.Digest.String()), remote.WithTransport(emu.Transport()), auth); err != nil {
		t.Fatal(err)
	}
	changes := []struct {
		method, path string
		body         any
		want         int
	}{
		{"PATCH", reg, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled"}, "tags": map[string]string{"changed": "yes"}}, 200},
		{"PUT", rg + "/providers/Microsoft.ContainerRegistry/registries/newregistry", map[string]any{"location": "eastus", "sku": map[string]string{"name": "Basic"}}, 201},
		{"DELETE", rg + "/providers/Microsoft.ContainerRegistry/registries/otherregistry", nil, 200},
		{"PUT", rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/new-identity", map[string]any{"location": "eastus"}, 201},
		{"DELETE", reg + "/tasks/build-task", nil, 200},
		{"PUT", reg + "/tasks/another-task", map[string]any{"location": "eastus", "properties": task["properties"]}, 200},
		{"POST", reg + "/scheduleRun", map[string]any{"type": "TaskRunRequest", "taskId": reg + "/tasks/another-task"}, 200},
	}
	for _, c := range changes {
		if status, out := arm(c.method, c.path, c.body); status != c.want {
			t.Fatalf("%s %s: %d %v", c.method, c.path, status, out)
		}
	}

	res, err := http.Post(emu.HTTPURL()+"/_emulator/reset", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("reset: %d", res.StatusCode)
	}

	if d, err := remote.Head(hello, remote.WithTransport(emu.Transport()), auth); err != nil || d.Digest != preloaded.Digest {
		t.Fatalf("preloaded image after reset: %v %v, want %s", d, err, preloaded.Digest)
	}
	if _, err := remote.Head(pushed, remote.WithTransport(emu.Transport()), auth); err == nil {
		t.Fatal("pushed image survived the reset")
	}
	if n, b := emu.Store().Blobs().Stats(); n != blobs || b != bytes {
		t.Fatalf("blobs after reset: %d (%d bytes), at start %d (%d bytes)", n, b, blobs, bytes)
	}
	status, out := arm("GET", reg, nil)
	if status != 200 || get(out, "properties", "publicNetworkAccess") != "Enabled" || get(out, "tags", "changed") != nil {
		t.Fatalf("registry after reset: %d %v", status, out)
	}
	for path, want := range map[string]int{
		rg + "/providers/Microsoft.ContainerRegistry/registries/newregistry":            404,
		rg + "/providers/Microsoft.ContainerRegistry/registries/otherregistry":          200,
		rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/new-identity": 404,
		reg + "/tasks/another-task": 404,
	} {
		if status, out := arm("GET", path, nil); status != want {
			t.Errorf("GET %s after reset: %d %v, want %d", path, status, out, want)
		}
	}
	if names := registryNames(emu); len(names) != 2 || names[1] != "otherregistry" {
		t.Errorf("served after reset: %v", names)
	}
	status, out = arm("GET", reg+"/tasks/build-task", nil)
	if status != 200 || get(out, "identity", "principalId") != get(task, "identity", "principalId") ||
		get(out, "properties", "creationDate") != get(task, "properties", "creationDate") {
		t.Fatalf("task after reset: %d %v, was %v", status, out, task)
	}
	if status, out := arm("GET", reg+"/runs", nil); status != 200 || len(out["value"].([]any)) != 0 {
		t.Fatalf("runs after reset: %d %v", status, out)
	}
	// The restored otherregistry serves again on its own listener.
	res, err = emu.Client().Get("https://" + emu.Registry("otherregistry").Host + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 {
		t.Fatalf("otherregistry after reset: %d", res.StatusCode)
	}
}

func registryNames(emu *emulatortest.Emulator) []string {
	var out []string
	for _, r := range emu.Registries() {
		out = append(out, r.Name)
	}
	return out
}
