package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/emulator/webhook"
	"github.com/opencontainers/go-digest"
)

// received is what a listener on 127.0.0.1 was sent.
type received struct {
	header http.Header
	body   []byte
}

type listener struct {
	*httptest.Server
	mu  sync.Mutex
	got []received
}

// listen serves status to every delivery and keeps what it was sent.
func listen(t *testing.T, status int) *listener {
	l := &listener{}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		l.mu.Lock()
		l.got = append(l.got, received{r.Header.Clone(), b})
		l.mu.Unlock()
		w.Header().Set("X-Listener", "yes")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, strings.Repeat("x", 5000))
	}))
	t.Cleanup(l.Close)
	return l
}

func (l *listener) received() []received {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]received(nil), l.got...)
}

func setup(t *testing.T, opts ...webhook.Option) (*store.Store, *webhook.Service) {
	st := store.New()
	if err := st.PutRegistry(&store.Registry{Name: "myregistry", SKU: "Premium"}); err != nil {
		t.Fatal(err)
	}
	s := webhook.New(st, opts...)
	t.Cleanup(s.Close)
	return st, s
}

func pushEvent(repo string, tags ...string) registry.Event {
	return registry.Event{Action: registry.EventPush, Repo: repo, Digest: digest.FromString(repo), MediaType: "application/vnd.oci.image.manifest.v1+json",
		Size: 7, Tags: tags, Request: registry.EventRequest{ID: "r1", Host: "localhost:8443", Method: "PUT", UserAgent: "crane/0.20"}}
}

// A push reaches the listener with ACR's body, Content-Type, user agent and the custom
// headers, and the attempt is kept with both messages; a failing and an absent listener are
// kept too.
func TestDelivery(t *testing.T) {
	st, s := setup(t)
	ok, broken := listen(t, http.StatusOK), listen(t, http.StatusInternalServerError)
	refused, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refusedURL := "http://" + refused.Addr().String() + "/hook"
	refused.Close()
	hooks := map[string]*store.Webhook{
		"ok":      {Registry: "myregistry", Name: "okhook", UID: "u-ok", ServiceURI: ok.URL, CustomHeaders: map[string]string{"Authorization": "Bearer s3cret"}, Enabled: true, Actions: []string{"push"}},
		"broken":  {Registry: "myregistry", Name: "brokenhook", UID: "u-broken", ServiceURI: broken.URL + "/x?y=1", Enabled: true, Actions: []string{"push"}},
		"refused": {Registry: "myregistry", Name: "refusedhook", UID: "u-refused", ServiceURI: refusedURL, Enabled: true, Actions: []string{"push"}},
		"off":     {Registry: "myregistry", Name: "offhook", UID: "u-off", ServiceURI: ok.URL, Enabled: false, Actions: []string{"push"}},
	}
	for _, w := range hooks {
		if err := st.PutWebhook(w); err != nil {
			t.Fatal(err)
		}
	}
	s.Notify("myregistry", pushEvent("app", "v1"))
	s.Notify("nothere", pushEvent("app", "v1"))
	s.Wait()

	got := ok.received()
	if len(got) != 1 {
		t.Fatalf("the listener got %d deliveries", len(got))
	}
	h := got[0].header
	if h.Get("Authorization") != "Bearer s3cret" || h.Get("Content-Type") != "application/json; charset=utf-8" || h.Get("User-Agent") != "AzureContainerRegistry/1.0" {
		t.Fatalf("delivery headers: %v", h)
	}
	var body map[string]any
	if err := json.Unmarshal(got[0].body, &body); err != nil {
		t.Fatal(err)
	}
	target, _ := body["target"].(map[string]any)
	if body["action"] != "push" || target["repository"] != "app" || target["tag"] != "v1" || target["size"] != float64(7) {
		t.Fatalf("delivered body: %s", got[0].body)
	}

	events := s.Events(hooks["ok"])
	if len(events) != 1 {
		t.Fatalf("ok hook events: %+v", events)
	}
	e := events[0]
	if e.ID != body["id"] || e.Request.Content.ID != e.ID || e.Request.Method != "POST" || e.Request.RequestURI != ok.URL+"/" ||
		e.Request.Headers["Authorization"] != "Bearer s3cret" || e.Request.Headers["Content-Length"] == "" ||
		e.Response.StatusCode != "200" || e.Response.ReasonPhrase != "OK" || e.Response.Headers["X-Listener"] != "yes" || len(e.Response.Content) != 4096 {
		t.Fatalf("kept delivery: %+v %+v", e.Request, e.Response)
	}
	if ev := s.Events(hooks["broken"]); len(ev) != 1 || ev[0].Response.StatusCode != "500" || ev[0].Response.ReasonPhrase != "Internal Server Error" ||
		ev[0].Request.RequestURI != broken.URL+"/x?y=1" {
		t.Fatalf("broken hook events: %+v", ev)
	}
	if ev := s.Events(hooks["refused"]); len(ev) != 1 || ev[0].Response.StatusCode != "" || !strings.Contains(ev[0].Response.ReasonPhrase, "connection refused") {
		t.Fatalf("refused hook events: %+v", ev[0].Response)
	}
	if ev := s.Events(hooks["off"]); len(ev) != 0 {
		t.Fatalf("a disabled webhook delivered: %+v", ev)
	}

	// A ping is delivered before Ping returns, and listed first.
	id := s.Ping(context.Background(), hooks["ok"])
	ev := s.Events(hooks["ok"])
	if len(ev) != 2 || ev[0].ID != id || ev[0].Request.Content.Action != "ping" || ev[0].Request.Content.Target != nil || ev[0].Response.StatusCode != "200" {
		t.Fatalf("after ping: %+v", ev)
	}
	if got := ok.received(); len(got) != 2 || !strings.HasPrefix(string(got[1].body), `{"id":"`+id+`","timestamp":"`) || !strings.HasSuffix(string(got[1].body), `","action":"ping"}`) {
		t.Fatalf("ping body: %s", got[len(got)-1].body)
	}
	s.Forget(hooks["ok"])
	if ev := s.Events(hooks["ok"]); len(ev) != 0 {
		t.Fatalf("forgotten: %+v", ev)
	}
}

// A custom Content-Type replaces ACR's; an invalid service URI is an attempt that failed.
func TestDeliveryHeadersAndBadURI(t *testing.T) {
	st, s := setup(t)
	l := listen(t, http.StatusAccepted)
	typed := &store.Webhook{Registry: "myregistry", Name: "typed", UID: "t", ServiceURI: l.URL, Enabled: true, Actions: []string{"push"},
		CustomHeaders: map[string]string{"content-type": "text/plain"}}
	bad := &store.Webhook{Registry: "myregistry", Name: "badhook", UID: "b", ServiceURI: "ftp://127.0.0.1/", Enabled: true, Actions: []string{"push"}}
	for _, w := range []*store.Webhook{typed, bad} {
		if err := st.PutWebhook(w); err != nil {
			t.Fatal(err)
		}
	}
	s.Notify("myregistry", pushEvent("app"))
	s.Wait()
	if got := l.received(); len(got) != 1 || got[0].header.Get("Content-Type") != "text/plain" {
		t.Fatalf("typed delivery: %+v", got)
	}
	if ev := s.Events(typed); ev[0].Request.Headers["Content-Type"] != "" || ev[0].Request.Headers["content-type"] != "text/plain" {
		t.Fatalf("kept headers: %v", ev[0].Request.Headers)
	}
	if ev := s.Events(bad); len(ev) != 1 || ev[0].Response == nil || ev[0].Response.StatusCode != "" || ev[0].Response.ReasonPhrase == "" {
		t.Fatalf("bad URI: %+v", ev)
	}
}

// A full queue drops deliveries instead of blocking the push that made them: with every
// worker waiting on a listener that does not answer, Notify still returns at once, and only
// what the workers and the queue hold is delivered; the history keeps its bound.
func TestDeliveryBounds(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	calls := 0
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	st, s := setup(t, webhook.WithQueue(2), webhook.WithHistory(3, 1000))
	w := &store.Webhook{Registry: "myregistry", Name: "slowhook", UID: "s", ServiceURI: slow.URL, Enabled: true, Actions: []string{"push"}}
	if err := st.PutWebhook(w); err != nil {
		t.Fatal(err)
	}
	for range 50 {
		s.Notify("myregistry", pushEvent("app", "v1"))
	}
	close(release)
	s.Wait()
	mu.Lock()
	defer mu.Unlock()
	if calls == 0 || calls > webhook.DefaultWorkers+2 {
		t.Fatalf("%d deliveries made, want between 1 and the workers plus the queue (%d)", calls, webhook.DefaultWorkers+2)
	}
	if ev := s.Events(w); len(ev) != min(calls, 3) {
		t.Fatalf("kept %d deliveries of %d, want the bound of 3", len(ev), calls)
	}
}
