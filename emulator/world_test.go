package emulator_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator"
	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// What a world file declares is what ARM shows: a registry's location, tags and policies,
// private endpoints in each connection state (only Approved carries traffic), role
// assignments with their names and conditions.
func TestWorldDeclarationsAsARMShowsThem(t *testing.T) {
	emu := startWorld(t, `
registries:
  - name: myregistry
    adminUserEnabled: true
    adminPassword: pw
    location: West Europe
    tags: {env: demo, owner: team-a}
    publicNetworkAccess: Disabled
    roleAssignmentMode: AbacRepositoryPermissions
    policies:
      exportPolicy: {status: disabled}
      retentionPolicy: {status: enabled, days: 30}
      trustPolicy: {status: enabled}
  - name: otherregistry
    port: 1
    publicNetworkAccess: Disabled
servicePrincipals:
  - {name: sp, clientId: 33333333-3333-3333-3333-333333333333, secret: acr-emulator-client-secret}
managedIdentities:
  - name: reader
roleAssignments:
  - {principal: sp, role: Owner, scope: subscription}
  - principal: reader
    role: Container Registry Repository Reader
    scope: myregistry
    name: 0c0c0c0c-0000-4000-8000-000000000001
    description: reads team-a's repositories
    condition: "((!(ActionMatches{'Microsoft.ContainerRegistry/registries/repositories/content/read'})) OR (@Request[Microsoft.ContainerRegistry/registries/repositories:name] StringStartsWithIgnoreCase 'team-a/'))"
origins:
  - name: corpvnet
    endpoints:
      - {registry: myregistry, name: pe-approved}
      - {registry: otherregistry, name: pe-pending, status: Pending}
`)
	arm := armClient(t, emu)
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	status, out := arm("GET", reg, nil)
	if status != 200 || out["location"] != "westeurope" || get(out, "tags", "owner") != "team-a" ||
		get(out, "properties", "policies", "exportPolicy", "status") != "disabled" ||
		fmt.Sprint(get(out, "properties", "policies", "retentionPolicy", "days")) != "30" ||
		get(out, "properties", "policies", "retentionPolicy", "status") != "enabled" ||
		get(out, "properties", "policies", "trustPolicy", "status") != "enabled" ||
		get(out, "properties", "policies", "quarantinePolicy", "status") != "disabled" {
		t.Fatalf("GET registry: %d %v", status, out)
	}
	status, out = arm("GET", reg+"/providers/Microsoft.Authorization/roleAssignments/0c0c0c0c-0000-4000-8000-000000000001", nil)
	if status != 200 || get(out, "properties", "conditionVersion") != "2.0" || get(out, "properties", "description") != "reads team-a's repositories" {
		t.Fatalf("GET role assignment: %d %v", status, out)
	}
	for _, tc := range []struct{ registry, connection, status string }{{"myregistry", "pe-approved", "Approved"}, {"otherregistry", "pe-pending", "Pending"}} {
		status, out := arm("GET", rg+"/providers/Microsoft.ContainerRegistry/registries/"+tc.registry+"/privateEndpointConnections/"+tc.connection, nil)
		if status != 200 || get(out, "properties", "privateLinkServiceConnectionState", "status") != tc.status {
			t.Fatalf("GET connection %s: %d %v", tc.connection, status, out)
		}
	}
	// Through the VNet: the approved endpoint reaches its registry (which then asks for
	// credentials), the pending one does not.
	var proxy string
	for _, o := range emu.Origins() {
		if o.Name == "corpvnet" {
			proxy = o.ProxyURL
		}
	}
	pu, _ := url.Parse(proxy)
	vnet := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(pu), TLSClientConfig: &tls.Config{RootCAs: emu.CertPool()}}}
	for _, tc := range []struct {
		registry string
		want     int
	}{{"myregistry", http.StatusUnauthorized}, {"otherregistry", http.StatusForbidden}} {
		res, err := vnet.Get("https://" + tc.registry + ".azurecr.io/v2/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%s from corpvnet: %d, want %d", tc.registry, res.StatusCode, tc.want)
		}
	}
}

// A world's task is created through ACR Tasks' API: its system-assigned identity exists from
// the start, role assignments name it, and it runs.
func TestWorldTasks(t *testing.T) {
	emu := startWorld(t, `
registries:
  - name: myregistry
    adminUserEnabled: true
    adminPassword: pw
    tasks:
      - name: pull-base
        identity: {type: SystemAssigned, principalId: 0d0d0d0d-0000-4000-8000-000000000001}
        tags: {purpose: test}
        properties:
          platform: {os: linux}
          credentials:
            sourceRegistry: {loginMode: None}
            customRegistries: {myregistry: {identity: '[system]'}}
          step:
            type: EncodedTask
            taskYaml: |
              version: v1.1.0
              steps:
                - cmd: $Registry/tasks/base:v1 echo hello
servicePrincipals:
  - {name: sp, clientId: 33333333-3333-3333-3333-333333333333, secret: acr-emulator-client-secret}
roleAssignments:
  - {principal: sp, role: Owner, scope: subscription}
  - {principal: myregistry/tasks/pull-base, role: AcrPull, scope: myregistry}
`)
	arm := armClient(t, emu)
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	status, out := arm("GET", reg+"/tasks/pull-base", nil)
	if status != 200 || get(out, "identity", "principalId") != "0d0d0d0d-0000-4000-8000-000000000001" || get(out, "tags", "purpose") != "test" ||
		get(out, "properties", "step", "encodedTaskContent") == nil || get(out, "properties", "step", "taskYaml") != nil ||
		get(out, "properties", "credentials", "customRegistries", emu.Registry().Host) != nil {
		t.Fatalf("GET task: %d %v", status, out)
	}
	// GET writes a custom registry's credentials null; listDetails writes them.
	if status, out = arm("POST", reg+"/tasks/pull-base/listDetails", nil); status != 200 ||
		get(out, "properties", "credentials", "customRegistries", emu.Registry().Host, "identity") != "[system]" {
		t.Fatalf("task's details: %d %v", status, out)
	}
	img, _ := random.Image(512, 1)
	ref, _ := name.ParseReference(emu.Registry().Host + "/tasks/base:v1")
	if err := remote.Write(ref, img, remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: "myregistry", Password: "pw"})); err != nil {
		t.Fatal(err)
	}
	status, out = arm("POST", reg+"/scheduleRun", map[string]any{"type": "TaskRunRequest", "taskId": reg + "/tasks/pull-base"})
	if status != 200 {
		t.Fatalf("scheduleRun: %d %v", status, out)
	}
	if out := waitRun(t, arm, reg, out); get(out, "properties", "status") != "Succeeded" {
		t.Fatalf("run: %v", out)
	}
}

// A task ACR Tasks refuses stops the start, and the error names the task's line.
func TestWorldTaskRefusedNamesTheLine(t *testing.T) {
	err := startError(t, "registries:\n  - name: myregistry\n    tasks:\n      - name: docker-build\n        properties:\n          step: {type: EncodedTask, encodedTaskContent: not-base64!}\n")
	if err == nil || !strings.HasPrefix(err.Error(), "w.yaml:4:13: registries[0].tasks[0]: ACR Tasks refused the task: 400 TaskStepInvalid") {
		t.Fatalf("Start = %v", err)
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startWorld parses a world file's text and starts a fixture on it.
func startWorld(t *testing.T, text string) *emulatortest.Emulator {
	t.Helper()
	w, err := world.Parse([]byte(text), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return emulatortest.New(t, emulatortest.WithWorld(w))
}

// startError is the error Start returns for a world that parses but cannot start.
func startError(t *testing.T, text string) error {
	t.Helper()
	w, err := world.Parse([]byte(text), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	e, err := emulator.New(emulator.Config{HTTPSAddr: "127.0.0.1:0", HTTPAddr: "-", ProxyAddr: "-", World: w, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close(context.Background())
	return e.Start()
}
