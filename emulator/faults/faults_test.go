package faults

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRoute(t *testing.T) {
	for path, want := range map[string]string{
		"/v2/app/manifests/v1": RouteManifest, "/v2/a/b/blobs/sha256:x": RouteBlob, "/v2/app/blobs/uploads/": RouteUpload,
		"/v2/app/blobs/uploads/123": RouteUpload, "/oauth2/token": RouteToken, "/oauth2/exchange": RouteToken,
		"/acr/v1/_catalog": RouteMetadata, "/v2/": RouteAny, "/v2/_catalog": RouteAny,
	} {
		if got := Route(path); got != want {
			t.Errorf("Route(%s) = %q, want %q", path, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		r    Rule
		want string
	}{
		{Rule{Registry: "r", Status: 503}, ""},
		{Rule{Registry: "r", Latency: "200ms"}, ""},
		{Rule{Registry: "r", Route: RouteUpload, CutUpload: true}, ""},
		{Rule{Status: 503}, "registry is required"},
		{Rule{Registry: "r"}, "needs a status"},
		{Rule{Registry: "r", Status: 200}, "4xx or 5xx"},
		{Rule{Registry: "r", Status: 503, Drop: true}, "one of them"},
		{Rule{Registry: "r", Route: "nope", Status: 500}, "route"},
		{Rule{Registry: "r", Route: RouteBlob, CutUpload: true}, "uploads route"},
		{Rule{Registry: "r", Latency: "1h"}, "up to 5m"},
		{Rule{Registry: "r", Status: 500, Count: -1}, "must not be negative"},
	} {
		err := tc.r.Validate()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.r, err, tc.want)
		}
	}
}

// Rules apply to their registry, method and route, in order, for Count requests each.
func TestMiddleware(t *testing.T) {
	var s Set
	if err := s.Add(Rule{Registry: "myregistry", Method: "GET", Route: RouteManifest, Status: 503, RetryAfter: 2, Count: 2},
		Rule{Registry: "myregistry", Route: RouteManifest, Status: 429, Count: 1}); err != nil {
		t.Fatal(err)
	}
	h := s.Middleware("myregistry", func(w http.ResponseWriter, r *http.Request, status int) { w.WriteHeader(status) },
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "ok") }))
	do := func(method, path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec
	}
	if r := do("GET", "/v2/app/blobs/sha256:x"); r.Code != 200 {
		t.Fatalf("another route: %d", r.Code)
	}
	if r := do("HEAD", "/v2/app/manifests/v1"); r.Code != 429 || r.Header().Get("Retry-After") != "1" {
		t.Fatalf("HEAD takes the second rule: %d %v", r.Code, r.Header())
	}
	for i := range 2 {
		if r := do("GET", "/v2/app/manifests/v1"); r.Code != 503 || r.Header().Get("Retry-After") != "2" {
			t.Fatalf("GET %d: %d %v", i, r.Code, r.Header())
		}
	}
	if r := do("GET", "/v2/app/manifests/v1"); r.Code != 200 {
		t.Fatalf("after the count: %d", r.Code)
	}
	if left := s.List(); len(left) != 0 {
		t.Fatalf("spent rules stay: %+v", left)
	}
	other := s.Middleware("other", nil, http.NotFoundHandler())
	if err := s.Add(Rule{Registry: "myregistry", Status: 500}); err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	other.ServeHTTP(rec, httptest.NewRequest("GET", "/v2/app/manifests/v1", nil))
	if rec.Code != 404 {
		t.Fatalf("another registry: %d", rec.Code)
	}
}
