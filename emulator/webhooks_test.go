package emulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// A webhook made through ARM hears the registry's pushes and deletes, with the headers it was
// given, from a registry whose firewall lets none but the pushing client in (deliveries are
// outbound); a reset forgets it with everything else made since the world loaded.
func TestWebhooksDeliverPushesAndDeletes(t *testing.T) {
	var mu sync.Mutex
	var bodies []map[string]any
	listener := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		body["header"] = r.Header.Get("X-Hook")
		mu.Lock()
		bodies = append(bodies, body)
		mu.Unlock()
	}))
	t.Cleanup(listener.Close)
	delivered := func(want int) []map[string]any {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			mu.Lock()
			got := append([]map[string]any(nil), bodies...)
			mu.Unlock()
			if len(got) >= want {
				return got
			}
		}
		t.Fatalf("fewer than %d deliveries after 10s", want)
		return nil
	}

	emu := emulatortest.New(t)
	arm := armClient(t, emu)
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	if status, out := arm("PATCH", reg, map[string]any{"properties": map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny",
		"ipRules": []any{map[string]any{"action": "Allow", "value": "127.0.0.1"}}}}}); status >= 300 {
		t.Fatalf("firewall: %d %v", status, out)
	}
	if status, out := arm("PUT", reg+"/webHooks/pushhook", map[string]any{"location": "eastus", "properties": map[string]any{
		"serviceUri": listener.URL + "/hook", "actions": []string{"push", "delete"}, "scope": "app:*",
		"customHeaders": map[string]string{"X-Hook": "secret"}}}); status != 201 {
		t.Fatalf("webhook: %d %v", status, out)
	}

	u, p := emu.Admin()
	opts := []remote.Option{remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: u, Password: p})}
	img, _ := random.Image(512, 1)
	d, _ := img.Digest()
	for _, repo := range []string{"other:v1", "app:v1"} { // other is out of scope
		ref, _ := name.ParseReference(emu.Registry().Host + "/" + repo)
		if err := remote.Write(ref, img, opts...); err != nil {
			t.Fatal(err)
		}
	}
	ref, _ := name.ParseReference(emu.Registry().Host + "/app@" + d.String())
	if err := remote.Delete(ref, opts...); err != nil {
		t.Fatal(err)
	}
	got := delivered(2)
	push, del := got[0], got[1]
	if push["action"] != "push" || get(push, "target", "repository") != "app" || get(push, "target", "tag") != "v1" || get(push, "target", "digest") != d.String() ||
		get(push, "request", "host") != emu.Registry().Host || get(push, "request", "method") != "PUT" ||
		!strings.Contains(get(push, "request", "useragent").(string), "go-containerregistry") || push["header"] != "secret" {
		t.Fatalf("push delivery: %v", push)
	}
	if del["action"] != "delete" || get(del, "target", "digest") != d.String() || get(del, "target", "tag") != nil || get(del, "request", "method") != "DELETE" {
		t.Fatalf("delete delivery: %v", del)
	}
	_, events := arm("POST", reg+"/webhooks/pushhook/listEvents", nil)
	if vals, _ := events["value"].([]any); len(vals) != 2 || get(events, "value", 0, "eventRequestMessage", "content", "action") != "delete" ||
		get(events, "value", 1, "eventResponseMessage", "statusCode") != "200" {
		t.Fatalf("listEvents: %v", events)
	}

	res, err := http.Post(emu.HTTPURL()+"/_emulator/reset", "", nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("reset: %v %v", err, res)
	}
	res.Body.Close()
	if status, _ := arm("GET", reg+"/webhooks/pushhook", nil); status != 404 {
		t.Fatalf("webhook after a reset: %d", status)
	}
}
