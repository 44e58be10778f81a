package registry_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/opencontainers/go-digest"
)

// The event hook hears every manifest pushed (with the tags the PUT set) and every manifest
// deleted, by digest or with its repository (with the tags that went with it); a tag delete
// and a refused write are no events.
func TestEventHook(t *testing.T) {
	var mu sync.Mutex
	var got []registry.Event
	srv, _ := newServer(t, registry.WithEventHook(func(e registry.Event) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e)
	}))
	events := func() []string {
		mu.Lock()
		defer mu.Unlock()
		var out []string
		for _, e := range got {
			out = append(out, fmt.Sprintf("%s %s@%s %s %d %s %s %s", e.Action, e.Repo, e.Digest.Encoded()[:6], e.MediaType, e.Size,
				strings.Join(e.Tags, ","), e.Request.Method, e.Request.UserAgent))
		}
		got = nil
		return out
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := []byte("layer")
	for _, repo := range []string{"team/app", "other"} {
		push(t, srv, repo, cfg)
		push(t, srv, repo, layer)
	}
	body := imageManifest(digest.FromBytes(cfg), len(cfg), layer)
	d := digest.FromBytes(body)
	short := d.Encoded()[:6]
	ua := map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json", "User-Agent": "test-client/1"}
	put := func(path string) {
		t.Helper()
		if r := do(t, srv, call{method: "PUT", path: path, header: ua, body: body}); r.status != http.StatusCreated {
			t.Fatalf("PUT %s: %d %s", path, r.status, r.body)
		}
	}
	put("/v2/team/app/manifests/v1")
	put("/v2/team/app/manifests/" + d.String() + "?tag=a&tag=b")
	put("/v2/other/manifests/" + d.String())
	mt := "application/vnd.oci.image.manifest.v1+json"
	size := len(body)
	want := []string{
		fmt.Sprintf("push team/app@%s %s %d v1 PUT test-client/1", short, mt, size),
		fmt.Sprintf("push team/app@%s %s %d a,b PUT test-client/1", short, mt, size),
		fmt.Sprintf("push other@%s %s %d  PUT test-client/1", short, mt, size),
	}
	if e := events(); !slices.Equal(e, want) {
		t.Fatalf("push events:\n%s\nwant\n%s", strings.Join(e, "\n"), strings.Join(want, "\n"))
	}
	// A manifest that fails is no event.
	if r := do(t, srv, call{method: "PUT", path: "/v2/team/app/manifests/bad", header: ua, body: []byte("{")}); r.status == http.StatusCreated {
		t.Fatal("bad manifest stored")
	}
	// A tag delete is no event (ACR's webhooks skip it); deleting the manifest is, with its tags.
	if r := do(t, srv, call{method: "DELETE", path: "/acr/v1/team/app/_tags/a"}); r.status != http.StatusAccepted {
		t.Fatalf("tag delete: %d %s", r.status, r.body)
	}
	if e := events(); len(e) != 0 {
		t.Fatalf("events of a bad push or a tag delete: %v", e)
	}
	if r := do(t, srv, call{method: "DELETE", path: "/v2/team/app/manifests/" + d.String(), header: map[string]string{"User-Agent": "deleter/2"}}); r.status != http.StatusAccepted {
		t.Fatalf("manifest delete: %d %s", r.status, r.body)
	}
	if e := events(); !slices.Equal(e, []string{fmt.Sprintf("delete team/app@%s %s %d b,v1 DELETE deleter/2", short, mt, size)}) &&
		!slices.Equal(e, []string{fmt.Sprintf("delete team/app@%s %s %d v1,b DELETE deleter/2", short, mt, size)}) {
		t.Fatalf("manifest delete events: %v", e)
	}
	if r := do(t, srv, call{method: "DELETE", path: "/v2/team/app/manifests/" + d.String()}); r.status != http.StatusNotFound {
		t.Fatalf("second delete: %d", r.status)
	}
	put("/v2/other/manifests/latest")
	events()
	if r := do(t, srv, call{method: "DELETE", path: "/acr/v1/other", header: map[string]string{"User-Agent": "az/2"}}); r.status != http.StatusAccepted {
		t.Fatalf("repository delete: %d %s", r.status, r.body)
	}
	if e := events(); !slices.Equal(e, []string{fmt.Sprintf("delete other@%s %s %d latest DELETE az/2", short, mt, size)}) {
		t.Fatalf("repository delete events: %v", e)
	}
}
