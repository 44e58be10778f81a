package emulator_test

import (
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator"
	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/snapshot"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// A snapshot holds the whole state (world, content, ARM changes, tasks); an emulator started
// from it serves the same digests, and its reset returns to the snapshot, not to the world.
func TestSnapshotRestart(t *testing.T) {
	a := startWorld(t, resetWorld)
	arm := armClient(t, a)
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	auth := remote.WithAuth(&authn.Basic{Username: "myregistry", Password: "pw"})
	pushed, _ := name.ParseReference(a.Registry().Host + "/app:v1")
	img, _ := random.Image(1024, 2)
	if err := remote.Write(pushed, img, remote.WithTransport(a.Transport()), auth); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"PATCH", reg, map[string]any{"tags": map[string]string{"stage": "demo"}}},
		{"PUT", rg + "/providers/Microsoft.ContainerRegistry/registries/newregistry", map[string]any{"location": "westeurope", "sku": map[string]string{"name": "Standard"}}},
		{"PUT", rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/later", map[string]any{"location": "eastus"}},
		{"DELETE", rg + "/providers/Microsoft.ContainerRegistry/registries/otherregistry", nil},
	} {
		if status, out := arm(c.method, c.path, c.body); status >= 300 {
			t.Fatalf("%s %s: %d %v", c.method, c.path, status, out)
		}
	}
	_, task := arm("GET", reg+"/tasks/build-task", nil)
	_, identity := arm("GET", rg+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/later", nil)
	hello, _ := name.ParseReference(a.Registry().Host + "/samples/hello:v1")
	preloaded, err := remote.Head(hello, remote.WithTransport(a.Transport()), auth)
	if err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "demo")
	res, err := http.Post(a.HTTPURL()+"/_emulator/snapshot?dir="+url.QueryEscape(dir), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var saved map[string]any
	_ = json.NewDecoder(res.Body).Decode(&saved)
	res.Body.Close()
	if res.StatusCode != 200 || saved["registries"] != float64(2) || saved["tasks"] != float64(1) {
		t.Fatalf("POST snapshot: %d %v", res.StatusCode, saved)
	}
	snap, err := snapshot.Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range snap.State.Principals {
		if p.DisplayName == "ACR Tasks (emulator internal: run credential)" {
			t.Fatal("the snapshot holds an internal identity")
		}
	}
	// The world's own listener ports belong to the first emulator.
	for i := range snap.World.Registries {
		if snap.World.Registries[i].Port != 0 {
			snap.World.Registries[i].Port = freePort(t)
		}
	}
	b := emulatortest.New(t, emulatortest.WithConfig(func(c *emulator.Config) { c.Snapshot = snap }))
	barm := armClient(t, b)
	check := func(when string) {
		t.Helper()
		for ref, digest := range map[string]string{"app:v1": want.String(), "samples/hello:v1": preloaded.Digest.String()} {
			r, _ := name.ParseReference(b.Registries()[0].LoginServer + "/" + ref)
			d, err := remote.Head(r, remote.WithTransport(b.Transport()), auth)
			if err != nil || d.Digest.String() != digest {
				t.Fatalf("%s: %s = %v %v, want %s", when, ref, d, err, digest)
			}
		}
		if status, out := barm("GET", reg, nil); status != 200 || get(out, "tags", "stage") != "demo" {
			t.Fatalf("%s: registry %d %v", when, status, out)
		}
		if status, out := barm("GET", rg+"/providers/Microsoft.ContainerRegistry/registries/newregistry", nil); status != 200 || out["location"] != "westeurope" {
			t.Fatalf("%s: ARM-created registry %d %v", when, status, out)
		}
		if status, out := barm("GET", rg+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/later", nil); status != 200 ||
			get(out, "properties", "principalId") != get(identity, "properties", "principalId") {
			t.Fatalf("%s: identity %d %v", when, status, out)
		}
		if status, out := barm("GET", reg+"/tasks/build-task", nil); status != 200 || get(out, "identity", "principalId") != get(task, "identity", "principalId") {
			t.Fatalf("%s: task %d %v", when, status, out)
		}
	}
	check("from the snapshot")
	// otherregistry was deleted before the snapshot: it is not served, its port not bound.
	if names := registryNames(b); len(names) != 2 || names[1] != "newregistry" {
		t.Fatalf("served: %v", names)
	}
	if status, _ := barm("GET", rg+"/providers/Microsoft.ContainerRegistry/registries/otherregistry", nil); status != 404 {
		t.Fatalf("otherregistry: %d", status)
	}
	// What a reset returns to is the snapshot.
	if status, _ := barm("DELETE", rg+"/providers/Microsoft.ContainerRegistry/registries/newregistry", nil); status != 200 {
		t.Fatal("DELETE newregistry")
	}
	if err := b.Reset(); err != nil {
		t.Fatal(err)
	}
	check("after a reset")
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
