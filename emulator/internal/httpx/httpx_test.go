package httpx

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestWriteRegistryError(t *testing.T) {
	tests := []struct {
		desc, method string
		err          error
		status       int
		body         string
		header       [2]string
	}{
		{desc: "registry error with detail", method: "GET", err: NewRegistryError(404, "MANIFEST_UNKNOWN", "gone").WithDetail(map[string]string{"Tag": "v1"}),
			status: 404, body: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"gone","detail":{"Tag":"v1"}}]}` + "\n"},
		{desc: "extra header", method: "GET", err: NewRegistryError(401, "UNAUTHORIZED", "auth").WithHeader("Www-Authenticate", `Bearer realm="x"`),
			status: 401, body: `{"errors":[{"code":"UNAUTHORIZED","message":"auth"}]}` + "\n", header: [2]string{"Www-Authenticate", `Bearer realm="x"`}},
		{desc: "internal errors do not leak", method: "GET", err: errors.New("secret path /etc/x"),
			status: 500, body: `{"errors":[{"code":"UNKNOWN","message":"unknown error"}]}` + "\n"},
		{desc: "HEAD has no body", method: "HEAD", err: NewRegistryError(404, "BLOB_UNKNOWN", "x"), status: 404, body: ""},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			rec := httptest.NewRecorder()
			WriteRegistryError(rec, httptest.NewRequest(tc.method, "/v2/", nil), tc.err)
			if rec.Code != tc.status || rec.Body.String() != tc.body {
				t.Fatalf("got %d %q, want %d %q", rec.Code, rec.Body.String(), tc.status, tc.body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if tc.header[0] != "" && rec.Header().Get(tc.header[0]) != tc.header[1] {
				t.Errorf("%s = %q", tc.header[0], rec.Header().Get(tc.header[0]))
			}
		})
	}
	// WithHeader must not alias the sentinel's headers.
	base := NewRegistryError(401, "UNAUTHORIZED", "x")
	_ = base.WithHeader("A", "1")
	if base.Header != nil {
		t.Fatal("WithHeader modified the original error")
	}
}

func TestObserveRecoversAndSetsHeaders(t *testing.T) {
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	h := Observe(log, func(w http.ResponseWriter, r *http.Request) {
		WriteRegistryError(w, r, errors.New("panic"))
	})(ACRHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/boom" {
			panic("kaboom")
		}
		_, _ = io.WriteString(w, CorrelationID(r.Context()))
	})))
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := http.Get(srv.URL + "/ok")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if id := res.Header.Get("X-Ms-Correlation-Request-Id"); id == "" || id != string(body) {
		t.Fatalf("correlation id header %q, handler saw %q", id, body)
	}
	if res.Header.Get("Docker-Distribution-Api-Version") != "registry/2.0" || len(res.Header.Values("Access-Control-Expose-Headers")) != 4 {
		t.Fatalf("ACR headers missing: %v", res.Header)
	}
	if _, ok := res.Header["X-Ms-Request-Id"]; ok {
		t.Fatal("a read carries X-Ms-Request-Id")
	}
	res, err = http.Post(srv.URL+"/write", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("X-Ms-Request-Id") == "" || len(res.Header.Values("X-Ms-Client-Request-Id")) != 1 {
		t.Fatalf("write operation headers missing: %v", res.Header)
	}
	res, err = http.Get(srv.URL + "/boom")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusInternalServerError || !strings.Contains(logs.String(), "kaboom") {
		t.Fatalf("panic: status %d, logs %s", res.StatusCode, logs.String())
	}
}

// Capability parameters never reach the logs: a SAS link's signature is a password.
func TestRedactedURI(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/v2/app/manifests/v1", "/v2/app/manifests/v1"},
		{"/v2/_catalog?n=10&last=a", "/v2/_catalog?n=10&last=a"},
		{"/acrtasklogs/runs/ca1.log?sv=2020-10-02&sp=r&se=2026-01-01&sig=c2VjcmV0", "/acrtasklogs/runs/ca1.log?se=2026-01-01&sig=REDACTED&sp=r&sv=2020-10-02"},
		{"/oauth2/token?refresh_token=eyJ&scope=x", "/oauth2/token?refresh_token=REDACTED&scope=x"},
	} {
		u, err := url.ParseRequestURI(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := RedactedURI(u); got != tc.want {
			t.Errorf("RedactedURI(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
