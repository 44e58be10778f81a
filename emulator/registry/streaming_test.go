package registry_test

import (
	"encoding/json"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/registry"
)

// Artifact streaming answers as in the az CLI's recording (test_acr_artifact_streaming): the
// statuses, the keys and their order of events, the operation headers and the trailing newline.
func TestArtifactStreaming(t *testing.T) {
	srv, _ := acrSeed(t)
	keys := func(body []byte) string {
		t.Helper()
		if !strings.HasSuffix(string(body), "}\n") {
			t.Fatalf("body does not end with a newline: %q", body)
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return strings.Join(out, ",")
	}
	field := func(body []byte, k string) string {
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		s, _ := m[k].(string)
		return s
	}
	opHeaders := func(r resp, repo string) string {
		t.Helper()
		id := r.header.Get("Operation-Id")
		want := "https://" + acrLogin + "/acr/v1/" + repo + "/_operations/" + id
		if id == "" || r.header.Get("Location") != want || r.header.Get("Operation-Location") != want {
			t.Fatalf("operation headers: %v", r.header)
		}
		return id
	}

	// The repository's configuration.
	r := do(t, srv, call{method: "POST", path: "/acr/v1/team/app/_streaming", body: []byte(`{"convertPushedImages": true, "conversionFormat": "overlaybd", "conversionVersion": "v1"}`)})
	if r.status != 202 || keys(r.body) != "conversionFormat,conversionVersion,convertPushedImages,id,status" || field(r.body, "status") != "Succeeded" {
		t.Fatalf("POST _streaming: %d %s", r.status, r.body)
	}
	if id := opHeaders(r, "team/app"); id != field(r.body, "id") {
		t.Fatalf("operation id %s, body %s", id, r.body)
	}
	r = do(t, srv, call{method: "GET", path: "/acr/v1/team/app/_streaming"})
	if r.status != 200 || !strings.Contains(string(r.body), `"convertPushedImages":true`) {
		t.Fatalf("GET _streaming: %d %s", r.status, r.body)
	}

	// A conversion: none yet, created NotStarted, then Running, canceled, read Canceled.
	art := "/acr/v1/team/app/_streaming/" + acrD1.String()
	if r = do(t, srv, call{method: "GET", path: art}); r.status != 404 || string(r.body) != `{"errors":[{"code":"OPERATION_UNKNOWN","message":"The specified operation does not exist"}]}`+"\n" {
		t.Fatalf("no conversion yet: %d %q", r.status, r.body)
	}
	r = do(t, srv, call{method: "POST", path: art, body: []byte(`{"conversionFormat": "overlaybd", "conversionVersion": "v1"}`)})
	if r.status != 202 || keys(r.body) != "id,status" || field(r.body, "status") != "NotStarted" {
		t.Fatalf("POST conversion: %d %s", r.status, r.body)
	}
	id := opHeaders(r, "team/app")
	if r = do(t, srv, call{method: "GET", path: art}); r.status != 200 || field(r.body, "status") != "Running" || field(r.body, "id") != id {
		t.Fatalf("GET conversion: %d %s", r.status, r.body)
	}
	opHeaders(r, "team/app")
	r = do(t, srv, call{method: "POST", path: "/acr/v1/team/app/_operations/" + id + ":cancel"})
	if r.status != 200 || keys(r.body) != "details,name,progress,resource,startTime,status" || field(r.body, "name") != "Cancel: ArtifactStreamingConversion" ||
		field(r.body, "resource") != "team/app@"+acrD1.String() || field(r.body, "status") != "Canceled" || field(r.body, "progress") != "0%" {
		t.Fatalf("cancel: %d %s", r.status, r.body)
	}
	r = do(t, srv, call{method: "GET", path: "/acr/v1/team/app/_operations/" + id})
	if r.status != 200 || field(r.body, "name") != "ArtifactStreamingConversion" || field(r.body, "status") != "Canceled" {
		t.Fatalf("GET operation: %d %s", r.status, r.body)
	}

	// Another conversion runs to its end as it is read.
	r = do(t, srv, call{method: "POST", path: art, body: []byte(`{}`)})
	id = field(r.body, "id")
	for _, want := range []string{"Running", "Succeeded", "Succeeded"} {
		if r = do(t, srv, call{method: "GET", path: "/acr/v1/team/app/_operations/" + id}); field(r.body, "status") != want {
			t.Fatalf("operation read: %s, want %s", r.body, want)
		}
	}
	if field(r.body, "progress") != "100%" {
		t.Fatalf("a done conversion's progress: %s", r.body)
	}

	for _, c := range []struct {
		desc         string
		method, path string
		body         string
		status       int
		code         string
	}{
		{"unknown repository", "POST", "/acr/v1/nothere/_streaming/" + acrD1.String(), "{}", 404, "NAME_UNKNOWN"},
		{"unknown image", "POST", "/acr/v1/team/app/_streaming/sha256:" + strings.Repeat("0", 64), "{}", 404, "MANIFEST_UNKNOWN"},
		{"another format", "POST", art, `{"conversionFormat":"estargz","conversionVersion":"v1"}`, 400, "INVALID_REQUEST"},
		{"unknown operation", "GET", "/acr/v1/team/app/_operations/" + strings.Repeat("0", 8), "", 404, "OPERATION_UNKNOWN"},
		{"another repository's operation", "GET", "/acr/v1/other/_operations/" + id, "", 404, "OPERATION_UNKNOWN"},
		{"DELETE", "DELETE", "/acr/v1/team/app/_streaming", "", 405, "UNSUPPORTED"},
	} {
		var body []byte
		if c.body != "" {
			body = []byte(c.body)
		}
		if r := do(t, srv, call{method: c.method, path: c.path, body: body}); r.status != c.status || errCode(t, r.body) != c.code {
			t.Errorf("%s: %d %s", c.desc, r.status, r.body)
		}
	}
}

// The scopes a streaming request needs are those az asks for: pull to read, pull and push to
// convert or cancel.
func TestArtifactStreamingAccess(t *testing.T) {
	for path, want := range map[string][2]string{
		"/acr/v1/team/app/_streaming":                   {"pull", "pull,push"},
		"/acr/v1/team/app/_streaming/sha256:" + hex64(): {"pull", "pull,push"},
		"/acr/v1/team/app/_operations/abc":              {"pull", "pull,push"},
		"/acr/v1/team/app/_operations/abc:cancel":       {"pull", "pull,push"},
		"/acr/v1/team/app/_tags":                        {"metadata_read", "metadata_read"},
	} {
		for i, method := range []string{"GET", "POST"} {
			a := registry.RequiredAccess(httptest.NewRequest(method, path, nil))
			if got := a.Type + ":" + a.Name + ":" + strings.Join(a.Actions, ","); got != "repository:team/app:"+want[i] {
				t.Errorf("%s %s: %s", method, path, got)
			}
		}
	}
}

func hex64() string { return strings.Repeat("a", 64) }
