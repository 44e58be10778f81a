package arm

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// do sends a request and returns the response with its body read.
func do(t *testing.T, srv *httptest.Server, method, path, token, body string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// pathOf is the path and query of an absolute URL the emulator wrote in a header.
func pathOf(t *testing.T, u string) string {
	t.Helper()
	i := strings.Index(u, "/subscriptions/")
	if !strings.HasPrefix(u, "https://") || i < 0 {
		t.Fatalf("not an operation URL: %q", u)
	}
	return u[i:]
}

// TestAsyncAnswers checks every answer the LRO writer gives: its status, its headers, and
// what the operation's URL then reports.
func TestAsyncAnswers(t *testing.T) {
	srv := newAPIConfig(t, func(c *Config) { c.Import = func(context.Context, ImportRequest) error { return nil } })
	rg := "/subscriptions/" + sub + "/resourceGroups/lro-rg"
	for _, c := range []struct {
		desc, method, path, body string
		status                   int
		header, url              string // the header set and the start of its URL's path
		poll                     int
		pollBody                 string // "" is an empty body
	}{
		{"registry PATCH", "PATCH", regs + "/myregistry" + v, `{"properties":{"adminUserEnabled":true}}`, 200, "", "", 0, ""},
		{"registry PUT of one that exists", "PUT", regs + "/myregistry" + v, `{"location":"eastus","sku":{"name":"Premium"}}`, 200,
			"Azure-AsyncOperation", regs + "/myregistry/operationStatuses/registries-", 200, `{"status":"Succeeded"}`},
		{"registry PUT", "PUT", regs + "/lroregistry" + v, `{"location":"eastus","sku":{"name":"Premium"}}`, 201,
			"Azure-AsyncOperation", regs + "/lroregistry/operationStatuses/registries-", 200, `{"status":"Succeeded"}`},
		// az acr identity assign and remove at 2021-08-01-preview (recording test_acr_identity)
		{"registry PUT that changes its identities, 2021-08-01-preview", "PUT", regs + "/lroregistry?api-version=2021-08-01-preview",
			`{"location":"eastus","sku":{"name":"Premium"},"identity":{"type":"SystemAssigned"}}`, 201,
			"Azure-AsyncOperation", regs + "/lroregistry/operationStatuses/registries-", 200, `{"status":"Succeeded"}`},
		{"registry PATCH that removes its identities, 2021-08-01-preview", "PATCH", regs + "/lroregistry?api-version=2021-08-01-preview",
			`{"identity":{"type":"None"}}`, 201, "Azure-AsyncOperation", regs + "/lroregistry/operationStatuses/registries-", 200, `{"status":"Succeeded"}`},
		{"replication PUT", "PUT", regs + "/lroregistry/replications/westus" + v, `{"location":"westus"}`, 201,
			"Azure-AsyncOperation", regs + "/lroregistry/replications/westus/operationStatuses/replications-", 200, `{"status":"Succeeded"}`},
		// as test_acr_create_replication records it: under the replication's region, polled to an empty 200
		{"replication DELETE", "DELETE", regs + "/lroregistry/replications/westus" + v, "", 202,
			"Location", "/subscriptions/" + sub + "/providers/Microsoft.ContainerRegistry/locations/westus/operationResults/replications-", 200, ""},
		// geo-replicated once, the registry is deleted as test_acr_create_replication records it
		{"registry DELETE, geo-replicated", "DELETE", regs + "/lroregistry" + v, "", 202,
			"Location", "/subscriptions/" + sub + "/providers/Microsoft.ContainerRegistry/locations/eastus/operationResults/registries-", 200, ""},
		{"registry PUT, 2026-01-01-preview: done", "PUT", regs + "/lroregistry2?api-version=2026-01-01-preview", `{"location":"eastus","sku":{"name":"Basic"}}`, 200,
			"", "", 0, ""},
		{"registry DELETE, 2026-01-01-preview", "DELETE", regs + "/lroregistry2?api-version=2026-01-01-preview", "", 202,
			"Location", "/subscriptions/" + sub + "/providers/Microsoft.ContainerRegistry/locations/eastus/operationResults/registries-", 200, ""},
		{"resource group PUT", "PUT", rg + v, `{"location":"eastus"}`, 201, "", "", 0, ""},
		{"resource group DELETE", "DELETE", rg + v, "", 202, "Location", "/subscriptions/" + sub + "/operationresults/resourcegroups-", 200, ""},
		{"import", "POST", regs + "/myregistry/importImage" + v, `{"source":{"registryUri":"docker.io","sourceImage":"library/hello"}}`, 202,
			"Location", "/subscriptions/" + sub + "/providers/Microsoft.ContainerRegistry/locations/eastus/operationResults/registries-", 200, `{"status":"Succeeded"}`},
	} {
		res, body := do(t, srv, c.method, c.path, "owner", c.body)
		if res.StatusCode != c.status {
			t.Fatalf("%s: %d %s", c.desc, res.StatusCode, body)
		}
		if c.header == "" {
			if res.Header.Get("Azure-AsyncOperation") != "" || res.Header.Get("Location") != "" || res.Header.Get("Retry-After") != "" {
				t.Errorf("%s: async headers on a synchronous answer: %v", c.desc, res.Header)
			}
			continue
		}
		u := res.Header.Get(c.header)
		p := pathOf(t, u)
		if !strings.HasPrefix(p, c.url) || !strings.HasSuffix(u, "?api-version="+apiVersionOf(c.path)) || res.Header.Get("Retry-After") != "0" {
			t.Errorf("%s: %s %q, Retry-After %q", c.desc, c.header, u, res.Header.Get("Retry-After"))
		}
		pres, pbody := do(t, srv, "GET", p, "reader", "")
		if pres.StatusCode != c.poll || strings.TrimSpace(pbody) != c.pollBody {
			t.Errorf("%s: poll %d %q, want %d %q", c.desc, pres.StatusCode, pbody, c.poll, c.pollBody)
		}
		if c.header == "Azure-AsyncOperation" && pres.Header.Get("Azure-AsyncOperation") != u {
			t.Errorf("%s: the status answer does not name itself: %v", c.desc, pres.Header)
		}
	}
	// An operation the keeper never handed out is not found (the old status URL said
	// Succeeded whatever its id), and polling needs a token.
	if res, body := do(t, srv, "GET", regs+"/myregistry/operationStatuses/registries-00000000-0000-0000-0000-000000000000"+v, "owner", ""); res.StatusCode != 404 ||
		!strings.Contains(body, "OperationNotFound") {
		t.Fatalf("unknown operation: %d %s", res.StatusCode, body)
	}
	res, _ := do(t, srv, "PUT", regs+"/myregistry"+v, "owner", `{"location":"eastus","sku":{"name":"Premium"}}`)
	if r, _ := do(t, srv, "GET", pathOf(t, res.Header.Get("Azure-AsyncOperation")), "", ""); r.StatusCode != 401 {
		t.Fatalf("poll without a token: %d", r.StatusCode)
	}
}

func apiVersionOf(path string) string {
	_, v, _ := strings.Cut(path, "api-version=")
	return v
}

type importFailure struct{}

func (importFailure) Error() string      { return "tag exists" }
func (importFailure) ARMCode() string    { return "InvalidParameters" }
func (importFailure) ARMMessage() string { return "The tag already exists." }

// A failed import reports its error on its Location, with the error's status and envelope.
func TestFailedImport(t *testing.T) {
	srv := newAPIConfig(t, func(c *Config) { c.Import = func(context.Context, ImportRequest) error { return importFailure{} } })
	res, _ := do(t, srv, "POST", regs+"/myregistry/importImage"+v, "owner", `{"source":{"registryUri":"docker.io","sourceImage":"library/hello"}}`)
	if res.StatusCode != 202 {
		t.Fatalf("import: %d", res.StatusCode)
	}
	if r := call(t, srv, "GET", pathOf(t, res.Header.Get("Location")), "owner", ""); r.status != 400 || errCode(r) != "InvalidParameters" {
		t.Fatalf("failed import's poll: %d %v", r.status, r.body)
	}
	if r, _ := do(t, newAPI(t), "POST", regs+"/myregistry/importImage"+v, "owner", `{}`); r.StatusCode != 501 {
		t.Fatalf("import without an importer: %d", r.StatusCode)
	}
}

func TestKeeperPrunes(t *testing.T) {
	o := newOperations()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o.now = func() time.Time { return now }
	first := o.newOp("/x/operationStatuses", "things", headerAsync, nil, nil)
	for i := 0; i < maxOperations; i++ {
		o.newOp("/x/operationStatuses", "things", headerAsync, nil, nil)
	}
	if o.len() != maxOperations || o.get(first.id) != nil {
		t.Fatalf("keeper holds %d operations (the first kept: %v)", o.len(), o.get(first.id) != nil)
	}
	now = now.Add(operationTTL + time.Minute)
	last := o.newOp("/x/operationStatuses", "things", headerAsync, &Error{Status: 400, Code: "Bad", Message: "no"}, nil)
	if o.len() != 1 || o.get(last.id) == nil || o.get(strings.ToUpper(last.id)) == nil {
		t.Fatalf("after the TTL the keeper holds %d operations", o.len())
	}
}

// A failed Azure-AsyncOperation reports Failed with ARM's error in the body.
func TestFailedStatus(t *testing.T) {
	a := build(Config{})
	op := a.ops.newOp("/subscriptions/s/x/operationStatuses", "x", headerAsync, &Error{Status: 400, Code: "InvalidThing", Message: "bad thing"}, nil)
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("GET", op.path+"?api-version=2025-11-01", nil)
	c := &Call{W: rec, R: r, a: a}
	c.ID.Types, c.ID.Names = []string{"operationStatuses"}, []string{op.id}
	if err := a.ops.poll(c); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	e, _ := body["error"].(map[string]any)
	if rec.Code != 200 || body["status"] != "Failed" || e["code"] != "InvalidThing" || e["message"] != "bad thing" {
		t.Fatalf("failed status: %d %s", rec.Code, rec.Body)
	}
	if got := fmt.Sprint(rec.Header().Get("Azure-AsyncOperation")); !strings.HasSuffix(got, op.path+"?api-version=2025-11-01") {
		t.Fatalf("header %q", got)
	}
}
