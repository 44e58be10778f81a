package tasks

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/storage"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
)

// stallPlatform gives runs a network on which every request waits until it is cancelled, so a
// run stays Running until the test decides.
type stallPlatform struct {
	platform.Platform // only Transport is used by these runs
	reached           chan struct{}
}

func (p stallPlatform) Transport(platform.From) http.RoundTripper { return stall(p.reached) }

type stall chan struct{}

func (s stall) RoundTrip(r *http.Request) (*http.Response, error) {
	select {
	case s <- struct{}{}:
	default:
	}
	<-r.Context().Done()
	return nil, r.Context().Err()
}

type oneRegistry string

func (o oneRegistry) LoginServer(string) string     { return string(o) }
func (o oneRegistry) AgentPool(string, string) bool { return false }

// A run is Running while its step works, and az acr task cancel-run ends it Canceled, with the
// log and its Complete metadata saying so.
func TestCancelRun(t *testing.T) {
	reached := make(chan struct{}, 1)
	blobs := storage.New()
	s := New(stallPlatform{reached: reached}, oneRegistry("reg.example"), nil, blobs)
	defer s.Close()
	h := s.Handler()
	const reg = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/reg"
	do := func(method, path, body string) (int, map[string]any, http.Header) {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, path, strings.NewReader(body)))
		var out map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &out)
		return w.Code, out, w.Header()
	}
	status := func() string {
		t.Helper()
		code, out, _ := do(http.MethodGet, reg+"/runs/ca1", "")
		if code != 200 {
			t.Fatalf("GET run: %d %v", code, out)
		}
		return out["properties"].(map[string]any)["status"].(string)
	}
	logBlob := func() (string, string) {
		t.Helper()
		w := blobCall(blobs, http.MethodGet, logLinkOf(t, s, "ca1"), nil)
		return w.Body.String(), strings.Join(w.Header()["x-ms-meta-Complete"], ",") // as set, not canonicalised
	}

	yaml := base64.StdEncoding.EncodeToString([]byte("steps:\n  - cmd: reg.example/app:v1\n"))
	if code, out, _ := do(http.MethodPost, reg+"/scheduleRun", `{"type":"EncodedTaskRunRequest","encodedTaskContent":"`+yaml+`"}`); code != 200 ||
		out["properties"].(map[string]any)["status"] != "Queued" {
		t.Fatalf("scheduleRun: %d %v", code, out)
	}
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		t.Fatal("the run never reached the registry")
	}
	if got := status(); got != "Running" {
		t.Fatalf("status while the step pulls: %s", got)
	}
	if log, complete := logBlob(); complete != "" || !strings.Contains(log, "Executing step ID: acb_step_0") {
		t.Fatalf("log while running (Complete %q):\n%s", complete, log)
	}

	if code, out, _ := do(http.MethodPost, reg+"/runs/ca1/cancel", ""); code != 200 {
		t.Fatalf("cancel: %d %v", code, out)
	}
	deadline := time.Now().Add(30 * time.Second)
	for status() == "Running" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := status(); got != "Canceled" {
		t.Fatalf("status after cancel: %s", got)
	}
	if log, complete := logBlob(); complete != "canceled" || !strings.HasSuffix(log, "Run ID: ca1 was canceled after 0s\r\n") {
		t.Fatalf("log after cancel (Complete %q):\n%q", complete, log)
	}
	// Cancelling an ended run changes nothing; an unknown run is not found.
	if code, _, _ := do(http.MethodPost, reg+"/runs/ca1/cancel", ""); code != 200 || status() != "Canceled" {
		t.Fatalf("second cancel: %d %s", code, status())
	}
	if code, out, _ := do(http.MethodPost, reg+"/runs/ca9/cancel", ""); code != 404 || out["error"].(map[string]any)["code"] != "RunNotFound" {
		t.Fatalf("cancel of an unknown run: %d %v", code, out)
	}
}
