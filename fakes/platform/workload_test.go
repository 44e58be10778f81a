package platform_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/acr-emulator/acr-emulator/fakes/armio"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
	"github.com/google/go-containerregistry/pkg/authn"
)

// fakePlatform records what the Server asks of the emulator; its network answers every
// request 404, so pulls fail and tell which origin they came from.
type fakePlatform struct {
	mu       sync.Mutex
	attached []string // type id system users
	detached []string
	froms    []platform.From
	refuse   error
}

func (p *fakePlatform) Attach(_ context.Context, typ, id string, system bool, user []string) (platform.Identities, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refuse != nil {
		return platform.Identities{}, p.refuse
	}
	p.attached = append(p.attached, typ+" "+id)
	ids := platform.Identities{Header: "h-" + id, User: map[string]*platform.Identity{}}
	if system {
		ids.System = &platform.Identity{PrincipalID: "p-" + id, ClientID: "c-" + id}
	}
	for _, u := range user {
		ids.User[u] = &platform.Identity{PrincipalID: "p-" + u, ClientID: "c-" + u}
	}
	return ids, nil
}

func (p *fakePlatform) Detach(id string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.detached = append(p.detached, id)
	return nil
}

func (p *fakePlatform) Transport(f platform.From) http.RoundTripper {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.froms = append(p.froms, f)
	return rt(func(*http.Request) (*http.Response, error) {
		rec := httptest.NewRecorder()
		rec.WriteHeader(http.StatusNotFound)
		return rec.Result(), nil
	})
}

func (p *fakePlatform) IdentityEndpoint() string { return "https://emulator.example/msi/token" }
func (p *fakePlatform) TenantID() string         { return "t1" }
func (p *fakePlatform) CurrentAzure() bool       { return false }

type rt func(*http.Request) (*http.Response, error)

func (f rt) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type appBody struct {
	Identity   *armio.Identity `json:"identity"`
	Properties struct {
		Images   []string `json:"images"`
		Identity string   `json:"identity"`
		User     string   `json:"user"`
	} `json:"properties"`
}

type jobBody struct {
	Properties struct {
		Image string `json:"image"`
	} `json:"properties"`
}

// A small declaration of the shape every service has: a resource with identities that pulls
// its images, and a child that pulls with its parent's identities.
func declaration() *platform.Workload[appBody] {
	job := &platform.Workload[jobBody]{Type: "jobs", Noun: "app", Origin: "trusted",
		Pulls: func(r platform.Request[jobBody]) ([]platform.Pull, error) {
			return []platform.Pull{{Image: r.Body.Properties.Image, Identity: platform.SystemIdentity}}, nil
		},
		Outcome: func(r platform.Request[jobBody], pulls []platform.PullResult) any {
			return map[string]any{"id": r.ID.String(), "parent": r.Parent.ID, "failed": pulls[0].Err != nil}
		}}
	return &platform.Workload[appBody]{Type: "Microsoft.Test/apps", Noun: "app", Origin: "trusted", PublicOrigin: "public",
		Children: []platform.Resource{job},
		Identity: func(b *appBody) (bool, []string) { return b.Identity.Assigned() },
		Pulls: func(r platform.Request[appBody]) ([]platform.Pull, error) {
			if len(r.Body.Properties.Images) == 0 {
				return nil, platform.BadRequest("NoImages", "an app needs images")
			}
			var out []platform.Pull
			for _, img := range r.Body.Properties.Images {
				p := platform.Pull{Image: img, Identity: r.Body.Properties.Identity}
				if r.Body.Properties.User != "" {
					p.Basic = &authn.Basic{Username: r.Body.Properties.User, Password: "pw"}
				}
				out = append(out, p)
			}
			return out, nil
		},
		Outcome: func(r platform.Request[appBody], pulls []platform.PullResult) any {
			var errs []string
			for _, p := range pulls {
				if p.Err != nil {
					errs = append(errs, p.Err.Error())
				}
			}
			return map[string]any{"id": r.ID.String(), "name": r.ID.Name(), "errors": errs, "identity": r.Identities.JSON("SystemAssigned", r.TenantID)}
		}}
}

const base = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Test/apps"

func do(t *testing.T, h http.Handler, method, path, body string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	out := map[string]any{}
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

func TestWorkloadLifecycle(t *testing.T) {
	p := &fakePlatform{}
	s := platform.Serve(p, declaration())
	app := `{"identity":{"type":"SystemAssigned"},"properties":{"images":["reg.example/a:1"],"identity":"system"}}`
	if code, out := do(t, s, "PUT", base+"/MyApp", app); code != 201 || out["id"] != base+"/MyApp" || out["name"] != "MyApp" {
		t.Fatalf("create: %d %v", code, out)
	}
	if code, _ := do(t, s, "PUT", base+"/myapp", app); code != 200 {
		t.Fatalf("update with another casing: %d", code)
	}
	// One keeper: lowercase keys, the first caller's casing is replaced by the latest PUT's.
	if code, out := do(t, s, "GET", base+"/MYAPP", ""); code != 200 || out["id"] != base+"/myapp" {
		t.Fatalf("get: %d %v", code, out)
	}
	if k := s.Get(strings.ToUpper(base + "/myapp")); k == nil || k.Identities.System == nil {
		t.Fatalf("kept = %+v", k)
	}
	if len(p.attached) != 2 || p.attached[0] != "Microsoft.Test/apps "+base+"/MyApp" {
		t.Fatalf("attached = %v", p.attached)
	}
	// The child pulls with the parent's identities; its id is under the parent's.
	if code, out := do(t, s, "PUT", base+"/myapp/jobs/j1", `{"properties":{"image":"reg.example/a:1"}}`); code != 201 || out["parent"] != base+"/myapp" {
		t.Fatalf("child: %d %v", code, out)
	}
	if code, out := do(t, s, "PUT", base+"/other/jobs/j1", `{"properties":{"image":"reg.example/a:1"}}`); code != 404 ||
		!strings.Contains(out["error"].(map[string]any)["message"].(string), "'Microsoft.Test/apps/other' under resource group 'rg'") {
		t.Fatalf("child without a parent: %d %v", code, out)
	}
	if code, out := do(t, s, "GET", base, ""); code != 200 || len(out["value"].([]any)) != 1 {
		t.Fatalf("list: %d %v", code, out)
	}
	if code, out := do(t, s, "GET", base+"/myapp/jobs", ""); code != 200 || len(out["value"].([]any)) != 1 {
		t.Fatalf("list children: %d %v", code, out)
	}
	if code, _ := do(t, s, "DELETE", base+"/MyApp", ""); code != 200 || !slices.Equal(p.detached, []string{base + "/MyApp"}) {
		t.Fatalf("delete: %d %v", code, p.detached)
	}
	if code, _ := do(t, s, "GET", base+"/myapp/jobs/j1", ""); code != 404 {
		t.Fatalf("a child outlived its parent: %d", code)
	}
	if code, _ := do(t, s, "DELETE", base+"/MyApp", ""); code != 204 {
		t.Fatalf("delete again: %d", code)
	}
}

func TestWorkloadRefusals(t *testing.T) {
	p := &fakePlatform{}
	s := platform.Serve(p, declaration())
	for _, tc := range []struct {
		body, code string
		status     int
	}{
		{`{"properties":`, "InvalidRequestContent", 400},
		{`{"properties":{"images":[]}}`, "NoImages", 400},
	} {
		if status, out := do(t, s, "PUT", base+"/bad", tc.body); status != tc.status || out["error"].(map[string]any)["code"] != tc.code {
			t.Errorf("%s: %d %v", tc.body, status, out)
		}
	}
	if code, _ := do(t, s, "GET", base+"/bad", ""); code != 404 {
		t.Fatalf("a refused PUT kept the resource: %d", code)
	}
	p.refuse = platform.Errorf(http.StatusForbidden, "LinkedAuthorizationFailed", "no")
	if code, out := do(t, s, "PUT", base+"/x", `{"properties":{"images":["reg.example/a:1"]}}`); code != 403 || out["error"].(map[string]any)["code"] != "LinkedAuthorizationFailed" {
		t.Fatalf("Attach's refusal: %d %v", code, out)
	}
	if code, _ := do(t, s, "PATCH", base+"/x", `{}`); code != 405 {
		t.Fatalf("PATCH: %d", code)
	}
	if code, _ := do(t, s, "GET", "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Test/others/x", ""); code != 404 {
		t.Fatalf("undeclared type: %d", code)
	}
}

// The one pull switch: the identity pulls from the service's origin, a password or nothing
// from its public origin, and a missing identity fails before any request.
func TestPullerSwitch(t *testing.T) {
	p := &fakePlatform{}
	ids, _ := p.Attach(context.Background(), "t", "r", true, []string{"/u/one"})
	pl := platform.Puller{Platform: p, Origin: "trusted", PublicOrigin: "public", Identities: ids, Noun: "app"}
	ctx := context.Background()
	for _, tc := range []struct {
		pull    platform.Pull
		from    *platform.From
		errText string
	}{
		{platform.Pull{Image: "reg.example/a:1", Identity: "[system]"}, &platform.From{Service: "trusted", SystemIdentity: true}, "managed identity token: 404"},
		{platform.Pull{Image: "reg.example/a:1", Identity: "c-/u/one"}, &platform.From{Service: "trusted"}, "managed identity token: 404"},
		{platform.Pull{Image: "reg.example/a:1", Identity: "/U/ONE", VNet: "v1"}, &platform.From{Service: "trusted", VNet: "v1"}, "managed identity token"},
		{platform.Pull{Image: "reg.example/a:1", Basic: &authn.Basic{Username: "u", Password: "p"}}, &platform.From{Service: "public"}, "404"},
		{platform.Pull{Image: "reg.example/a:1"}, &platform.From{Service: "public"}, "404"},
		{platform.Pull{Image: "reg.example/a:1", Identity: "/u/two"}, nil, "the identity /u/two is not assigned to the app"},
		{platform.Pull{Image: "reg.example/a:1", Refused: context.Canceled}, nil, "context canceled"},
	} {
		p.froms = nil
		res := pl.Pull(ctx, tc.pull)
		if res.Err == nil || !strings.Contains(res.Err.Error(), tc.errText) {
			t.Errorf("%+v: err %v, want %q", tc.pull, res.Err, tc.errText)
		}
		switch {
		case tc.from == nil && len(p.froms) != 0:
			t.Errorf("%+v reached the network from %v", tc.pull, p.froms)
		case tc.from != nil && (len(p.froms) != 1 || p.froms[0] != *tc.from):
			t.Errorf("%+v came from %v, want %v", tc.pull, p.froms, *tc.from)
		}
	}
	noSystem := pl
	noSystem.Identities.System = nil
	if res := noSystem.Pull(ctx, platform.Pull{Image: "reg.example/a:1", Identity: "system"}); res.Err == nil ||
		res.Err.Error() != "the app has no system-assigned identity" {
		t.Errorf("no system identity: %v", res.Err)
	}
}

func TestServeRejectsDuplicateTypes(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("a type declared twice was accepted")
		}
	}()
	platform.Serve(&fakePlatform{}, declaration(), declaration())
}
