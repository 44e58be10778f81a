package webhook

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/opencontainers/go-digest"
)

func TestScopeMatches(t *testing.T) {
	for _, c := range []struct {
		scope, repo string
		tags        []string
		want        bool
	}{
		{"", "any/repo", nil, true},
		{"", "any/repo", []string{"v1"}, true},
		{"app:v1", "app", []string{"v1"}, true},
		{"app:v1", "app", []string{"v2"}, false},
		{"app:v1", "app", []string{"v2", "v1"}, true}, // a delete that took both tags
		{"app:v1", "app", nil, false},
		{"app:v1", "other", []string{"v1"}, false},
		{"app:*", "app", []string{"anything"}, true},
		{"app:*", "app", nil, true}, // a push by digest
		{"app:*", "app/sub", []string{"v1"}, false},
		{"app", "app", []string{"latest"}, true}, // 'foo' is 'foo:latest'
		{"app", "app", []string{"v1"}, false},
		{"app", "app", nil, false},
		{"team/app:v1", "team/app", []string{"v1"}, true},
		{"team/app:v1", "team", []string{"v1"}, false},
	} {
		if got := ScopeMatches(c.scope, c.repo, c.tags); got != c.want {
			t.Errorf("ScopeMatches(%q, %q, %v) = %v, want %v", c.scope, c.repo, c.tags, got, c.want)
		}
	}
}

func TestSubscribed(t *testing.T) {
	w := &store.Webhook{Enabled: true, Actions: []string{ActionPush}, Scope: "app:*"}
	if !Subscribed(w, ActionPush, "app", []string{"v1"}) {
		t.Fatal("an enabled push webhook refused a push in its scope")
	}
	if Subscribed(w, ActionDelete, "app", []string{"v1"}) {
		t.Fatal("a push webhook took a delete")
	}
	if Subscribed(w, ActionPush, "other", []string{"v1"}) {
		t.Fatal("a push outside the scope")
	}
	w.Enabled = false
	if Subscribed(w, ActionPush, "app", []string{"v1"}) {
		t.Fatal("a disabled webhook took a push")
	}
}

// fanOut: one delivery per subscribed webhook and per tag, quarantine events first when the
// policy is on, deletes named by digest; chart and ping actions never come from the registry.
func TestFanOut(t *testing.T) {
	d := digest.FromString("manifest")
	hooks := []*store.Webhook{
		{UID: "all", Enabled: true, Actions: Actions},
		{UID: "push-v1", Enabled: true, Actions: []string{ActionPush}, Scope: "app:v1"},
		{UID: "latest-delete", Enabled: true, Actions: []string{ActionDelete}, Scope: "app"},
		{UID: "off", Enabled: false, Actions: Actions},
	}
	n := 0
	newID := func() string { n++; return fmt.Sprint("e", n) }
	now := time.Date(2025, 3, 4, 5, 6, 7, 800, time.UTC)
	describe := func(js []job) []string {
		var out []string
		for _, j := range js {
			out = append(out, j.uid+" "+j.content.Action+" "+j.content.Target.Tag)
		}
		return out
	}
	push := registry.Event{Action: registry.EventPush, Repo: "app", Digest: d, MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 42,
		Tags: []string{"v1", "v2"}, Request: registry.EventRequest{ID: "req", Host: "myregistry.azurecr.io", Method: "PUT", UserAgent: "crane"}}
	js := fanOut(hooks, false, push, newID, now)
	if got := describe(js); !slices.Equal(got, []string{"all push v1", "push-v1 push v1", "all push v2"}) {
		t.Fatalf("push fan-out: %v", got)
	}
	c := js[0].content
	if c.ID != "e1" || c.Timestamp != "2025-03-04T05:06:07.0000008Z" || c.Target.Size != 42 || c.Target.Length != 42 || c.Target.Digest != d.String() ||
		c.Target.Repository != "app" || c.Request.Host != "myregistry.azurecr.io" || c.Request.UserAgent != "crane" || c.Request.Method != "PUT" {
		t.Fatalf("push content: %+v %+v %+v", c, c.Target, c.Request)
	}
	if string(marshal(c)) != `{"id":"e1","timestamp":"2025-03-04T05:06:07.0000008Z","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"size":42,"digest":"`+d.String()+`","length":42,"repository":"app","tag":"v1"},"request":{"id":"req","host":"myregistry.azurecr.io","method":"PUT","useragent":"crane"}}` {
		t.Fatalf("push body: %s", marshal(c))
	}

	byDigest := push
	byDigest.Tags = nil
	if got := describe(fanOut(hooks, true, byDigest, newID, now)); !slices.Equal(got, []string{"all quarantine ", "all push "}) {
		t.Fatalf("quarantined push by digest: %v", got)
	}
	del := registry.Event{Action: registry.EventDelete, Repo: "app", Digest: d, MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 42,
		Tags: []string{"latest", "v3"}}
	js = fanOut(hooks, false, del, newID, now)
	if got := describe(js); !slices.Equal(got, []string{"all delete ", "latest-delete delete "}) {
		t.Fatalf("delete fan-out: %v", got)
	}
	if b := string(marshal(js[0].content)); !strings.Contains(b, `"target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"`+d.String()+`","repository":"app"}`) {
		t.Fatalf("delete body (no size, length or tag): %s", b)
	}
}
