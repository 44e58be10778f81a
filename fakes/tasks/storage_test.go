package tasks

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// A run's log blob is readable while the run goes on, without the Complete metadata that tells
// az acr task run to stop reading; it gets it, with the outcome, when the run ends.
func TestLogBlobWhileRunning(t *testing.T) {
	const regID = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/reg"
	s := New(nil, nil, nil)
	rn := &run{res: map[string]any{"name": "ca1", "properties": map[string]any{"status": "Running"}}}
	s.runs["/subscriptions/s1/resourcegroups/rg/providers/microsoft.containerregistry/registries/reg"] = []*run{rn}
	_, _ = io.WriteString(&rn.log, "step 1\n")

	blob := "/logs/s1/rg/reg/ca1/rawtext.log"
	do := func(method, rng string) *httptest.ResponseRecorder {
		t.Helper()
		r := httptest.NewRequest(method, blob, nil)
		if rng != "" {
			r.Header.Set("x-ms-range", rng)
		}
		w := httptest.NewRecorder()
		s.Storage().ServeHTTP(w, r)
		return w
	}
	head := func(wantLen int, wantComplete string) {
		t.Helper()
		w := do(http.MethodHead, "")
		if w.Code != http.StatusOK || w.Header().Get("Content-Length") != strconv.Itoa(wantLen) {
			t.Fatalf("HEAD: %d, length %q, want %d", w.Code, w.Header().Get("Content-Length"), wantLen)
		}
		got, set := w.Header()["X-Ms-Meta-Complete"]
		if wantComplete == "" && set || wantComplete != "" && (len(got) != 1 || got[0] != wantComplete) {
			t.Fatalf("Complete metadata %q, want %q", got, wantComplete)
		}
	}

	head(len("step 1\r\n"), "")
	_, _ = io.WriteString(&rn.log, "step 2\n")
	head(len("step 1\r\nstep 2\r\n"), "")
	// A reader resumes where it stopped; lines end in CRLF, as az's reader needs.
	if w := do(http.MethodGet, "bytes=8-100"); w.Code != http.StatusPartialContent || w.Body.String() != "step 2\r\n" {
		t.Fatalf("ranged GET: %d %q", w.Code, w.Body.String())
	}
	// Nothing new yet past the end.
	if w := do(http.MethodGet, "bytes=16-100"); w.Code != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("GET past the end: %d %q", w.Code, w.Body.String())
	}

	s.mu.Lock()
	rn.res = map[string]any{"name": "ca1", "properties": map[string]any{"status": "Failed"}}
	rn.done = true
	s.mu.Unlock()
	head(len("step 1\r\nstep 2\r\n"), "failed")
}
