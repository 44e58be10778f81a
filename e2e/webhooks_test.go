package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// delivery is one webhook call a hookListener received.
type delivery struct {
	path   string
	header http.Header
	body   map[string]any
}

// hookListener is a webhook receiver on 127.0.0.1: it answers each path's status (200 by
// default) and keeps what it was sent.
type hookListener struct {
	*httptest.Server
	mu     sync.Mutex
	got    []delivery
	status map[string]int
}

func newHookListener(t *testing.T, status map[string]int) *hookListener {
	l := &hookListener{status: status}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			body = map[string]any{"unparsed": string(b)}
		}
		l.mu.Lock()
		l.got = append(l.got, delivery{r.URL.Path, r.Header.Clone(), body})
		code := l.status[r.URL.Path]
		l.mu.Unlock()
		if code == 0 {
			code = http.StatusOK
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, `{"received":true}`)
	}))
	t.Cleanup(l.Close)
	return l
}

// at lists the deliveries to a path as "action repository:tag".
func (l *hookListener) at(path string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, d := range l.got {
		if d.path == path {
			target, _ := d.body["target"].(map[string]any)
			s := d.body["action"].(string)
			if repo, _ := target["repository"].(string); repo != "" {
				s += " " + repo
				if tag, _ := target["tag"].(string); tag != "" {
					s += ":" + tag
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// waitFor polls until the deliveries to path are want (deliveries are asynchronous).
func (l *hookListener) waitFor(t *testing.T, path string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := l.at(path)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) || len(got) > len(want) {
			t.Fatalf("deliveries to %s: %q, want %q", path, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *hookListener) first(path string) delivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, d := range l.got {
		if d.path == path {
			return d
		}
	}
	return delivery{}
}

// refusedURL is an address on 127.0.0.1 where nothing listens.
func refusedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String() + "/refused"
	l.Close()
	return u
}

// TestWebhooks drives webhooks through armcontainerregistry v1.2.0's WebhooksClient and crane
// against the binary: a listener on 127.0.0.1 receives ACR's payload of a push and a delete
// with the custom headers; scope and action filters hold; a disabled webhook delivers nothing
// (a second webhook that got the same push is the positive control); a listener answering 500
// and an address refusing connections show in listEvents; ping, getCallbackConfig, update and
// delete work as the SDK expects them.
func TestWebhooks(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	ctx := context.Background()
	hooks := armFactory(t, emu).NewWebhooksClient()
	l := newHookListener(t, map[string]int{"/broken": http.StatusInternalServerError})

	create := func(name, uri, scope string, status armcontainerregistry.WebhookStatus, headers map[string]*string, actions ...armcontainerregistry.WebhookAction) {
		t.Helper()
		p, err := hooks.BeginCreate(ctx, "demo-rg", "myregistry", name, armcontainerregistry.WebhookCreateParameters{Location: to.Ptr("eastus"),
			Properties: &armcontainerregistry.WebhookPropertiesCreateParameters{ServiceURI: to.Ptr(uri), Scope: to.Ptr(scope), Status: to.Ptr(status),
				CustomHeaders: headers, Actions: to.SliceOfPtrs(actions...)}}, nil)
		if err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
		w, err := p.PollUntilDone(ctx, nil)
		if err != nil || *w.Name != name || *w.Properties.ProvisioningState != armcontainerregistry.ProvisioningStateSucceeded {
			t.Fatalf("create %s: %v %+v", name, err, w)
		}
	}
	on, off := armcontainerregistry.WebhookStatusEnabled, armcontainerregistry.WebhookStatusDisabled
	push, del := armcontainerregistry.WebhookActionPush, armcontainerregistry.WebhookActionDelete
	create("appevents", l.URL+"/app", "app:*", on, map[string]*string{"Authorization": to.Ptr("Bearer hook-secret"), "X-Team": to.Ptr("e2e")}, push, del)
	create("onlyvone", l.URL+"/v1", "app:v1", on, nil, push)
	create("deletesonly", l.URL+"/deletes", "", on, nil, del)
	create("disabledhook", l.URL+"/disabled", "", off, nil, push, del)
	create("brokenhook", l.URL+"/broken", "app", on, nil, push)
	create("refusedhook", refusedURL(t), "", on, nil, push)

	src := t.TempDir()
	digest := writeLayout(t, src, 1)
	host := emu.RegistryHost()
	for _, ref := range []string{"app:v1", "app:v2", "app:latest", "other:v1"} {
		emu.Run(t, crane, "push", src, host+"/"+ref)
	}
	emu.Run(t, crane, "delete", host+"/app@"+digest.String())

	l.waitFor(t, "/app", "push app:v1", "push app:v2", "push app:latest", "delete app")
	l.waitFor(t, "/v1", "push app:v1")
	l.waitFor(t, "/deletes", "delete app")
	l.waitFor(t, "/broken", "push app:latest")

	// The push as ACR writes it, with the custom headers.
	d := l.first("/app")
	if d.header.Get("Authorization") != "Bearer hook-secret" || d.header.Get("X-Team") != "e2e" ||
		d.header.Get("Content-Type") != "application/json; charset=utf-8" || !strings.HasPrefix(d.header.Get("User-Agent"), "AzureContainerRegistry/") {
		t.Fatalf("push headers: %v", d.header)
	}
	target, _ := d.body["target"].(map[string]any)
	request, _ := d.body["request"].(map[string]any)
	ts, _ := time.Parse(time.RFC3339Nano, d.body["timestamp"].(string))
	if len(d.body["id"].(string)) != 36 || time.Since(ts) > time.Hour || target["digest"] != digest.String() ||
		target["mediaType"] != "application/vnd.docker.distribution.manifest.v2+json" || target["size"] == nil || target["size"] != target["length"] ||
		request["host"] != host || request["method"] != "PUT" || !strings.HasPrefix(request["useragent"].(string), "crane/") || request["id"] == "" {
		t.Fatalf("push payload: %v", d.body)
	}
	deleted := l.first("/deletes").body
	if tg, _ := deleted["target"].(map[string]any); tg["digest"] != digest.String() || tg["tag"] != nil || tg["size"] != nil ||
		deleted["request"].(map[string]any)["method"] != "DELETE" {
		t.Fatalf("delete payload: %v", deleted)
	}

	// listEvents: the 500 and the refused connection are kept with what went wrong.
	events := func(name string) []*armcontainerregistry.Event {
		t.Helper()
		var out []*armcontainerregistry.Event
		for pager := hooks.NewListEventsPager("demo-rg", "myregistry", name, nil); pager.More(); {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatalf("listEvents %s: %v", name, err)
			}
			out = append(out, page.Value...)
		}
		return out
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(events("refusedhook")) < 4 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if ev := events("brokenhook"); len(ev) != 1 || *ev[0].EventResponseMessage.StatusCode != "500" ||
		*ev[0].EventRequestMessage.Content.Target.Tag != "latest" || *ev[0].EventRequestMessage.Method != "POST" {
		t.Fatalf("brokenhook events: %+v", ev)
	}
	if ev := events("refusedhook"); len(ev) != 4 || ev[0].EventResponseMessage.StatusCode != nil ||
		!strings.Contains(*ev[0].EventResponseMessage.ReasonPhrase, "connection refused") {
		t.Fatalf("refusedhook events: %d %+v", len(ev), ev)
	}
	if ev := events("appevents"); len(ev) != 4 || *ev[0].EventRequestMessage.Content.Action != "delete" || *ev[3].EventResponseMessage.StatusCode != "200" ||
		*ev[3].EventRequestMessage.Headers["Authorization"] != "Bearer hook-secret" || *ev[3].EventResponseMessage.Content != `{"received":true}` {
		t.Fatalf("appevents events: %+v", ev)
	}
	if ev := events("disabledhook"); len(ev) != 0 {
		t.Fatalf("a disabled webhook delivered: %+v", ev)
	}
	if got := l.at("/disabled"); len(got) != 0 {
		t.Fatalf("a disabled webhook delivered: %v", got)
	}

	// GET hides the service URI and headers; getCallbackConfig shows them.
	got, err := hooks.Get(ctx, "demo-rg", "myregistry", "appevents", nil)
	if err != nil || *got.Properties.Scope != "app:*" || *got.Properties.Status != on || len(got.Properties.Actions) != 2 || *got.Location != "eastus" {
		t.Fatalf("Get: %v %+v", err, got)
	}
	cb, err := hooks.GetCallbackConfig(ctx, "demo-rg", "myregistry", "appevents", nil)
	if err != nil || *cb.ServiceURI != l.URL+"/app" || *cb.CustomHeaders["X-Team"] != "e2e" {
		t.Fatalf("GetCallbackConfig: %v %+v", err, cb)
	}
	var names []string
	for pager := hooks.NewListPager("demo-rg", "myregistry", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range page.Value {
			names = append(names, *w.Name)
		}
	}
	if len(names) != 6 {
		t.Fatalf("webhooks: %v", names)
	}

	// Ping: delivered before it answers.
	ping, err := hooks.Ping(ctx, "demo-rg", "myregistry", "onlyvone", nil)
	if err != nil || ping.ID == nil {
		t.Fatalf("Ping: %v", err)
	}
	if got := l.at("/v1"); !slices.Equal(got, []string{"push app:v1", "ping"}) {
		t.Fatalf("after ping: %v", got)
	}
	if ev := events("onlyvone"); *ev[0].ID != *ping.ID || *ev[0].EventRequestMessage.Content.Action != "ping" {
		t.Fatalf("ping event: %+v", ev[0])
	}

	// Disabling a webhook stops its deliveries; the other webhook of the same push is the control.
	up, err := hooks.BeginUpdate(ctx, "demo-rg", "myregistry", "appevents", armcontainerregistry.WebhookUpdateParameters{
		Properties: &armcontainerregistry.WebhookPropertiesUpdateParameters{Status: to.Ptr(off)}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if u, err := up.PollUntilDone(ctx, nil); err != nil || *u.Properties.Status != off || *u.Properties.Scope != "app:*" {
		t.Fatalf("update: %v %+v", err, u)
	}
	emu.Run(t, crane, "push", src, host+"/app:v1")
	l.waitFor(t, "/v1", "push app:v1", "ping", "push app:v1")
	l.waitFor(t, "/app", "push app:v1", "push app:v2", "push app:latest", "delete app")

	dp, err := hooks.BeginDelete(ctx, "demo-rg", "myregistry", "appevents", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.PollUntilDone(ctx, nil); err != nil {
		t.Fatal(err)
	}
	var re *azcore.ResponseError
	if _, err := hooks.Get(ctx, "demo-rg", "myregistry", "appevents", nil); !errors.As(err, &re) || re.StatusCode != 404 {
		t.Fatalf("deleted webhook: %v", err)
	}
	// The Basic quota is ACR's.
	bp, err := armFactory(t, emu).NewRegistriesClient().BeginCreate(ctx, "demo-rg", "basichooks", armcontainerregistry.Registry{Location: to.Ptr("eastus"),
		SKU: &armcontainerregistry.SKU{Name: to.Ptr(armcontainerregistry.SKUNameBasic)}}, nil)
	if err == nil {
		_, err = bp.PollUntilDone(ctx, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"basicone", "basictwo", "basicthree"} {
		_, err := hooks.BeginCreate(ctx, "demo-rg", "basichooks", name, armcontainerregistry.WebhookCreateParameters{Location: to.Ptr("eastus"),
			Properties: &armcontainerregistry.WebhookPropertiesCreateParameters{ServiceURI: to.Ptr(l.URL), Actions: to.SliceOfPtrs(push)}}, nil)
		if i < 2 && err != nil || i == 2 && (!errors.As(err, &re) || re.ErrorCode != "QuotaExceeded") {
			t.Fatalf("%s: %v", name, err)
		}
	}
}

// TestAzureCLIWebhooks drives every az acr webhook command of Debian's az 2.45 (create, list,
// show, update, get-config, ping, list-events, delete: all exist there) against the binary,
// with crane pushing what the webhook delivers.
func TestAzureCLIWebhooks(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	_, _, run := azLogin(t, emu)
	l := newHookListener(t, nil)

	if got := run("acr", "webhook", "create", "-r", "myregistry", "-n", "clihook", "--uri", l.URL+"/cli", "--actions", "push", "delete",
		"--headers", "X-Hook=cli", "--scope", "app:*", "--query", "[name, location, status, scope, provisioningState]", "-o", "tsv"); got != "clihook\neastus\nenabled\napp:*\nSucceeded" {
		t.Fatalf("az acr webhook create = %q", got)
	}
	if got := run("acr", "webhook", "list", "-r", "myregistry", "--query", "[].name", "-o", "tsv"); got != "clihook" {
		t.Fatalf("az acr webhook list = %q", got)
	}
	if got := run("acr", "webhook", "show", "-r", "myregistry", "-n", "clihook", "--query", "[actions[0], actions[1], serviceUri]", "-o", "tsv"); got != "push\ndelete\nNone" {
		t.Fatalf("az acr webhook show = %q (the service URI is write-only)", got)
	}
	if got := run("acr", "webhook", "get-config", "-r", "myregistry", "-n", "clihook", "--query", "[serviceUri, customHeaders.\"X-Hook\"]", "-o", "tsv"); got != l.URL+"/cli\ncli" {
		t.Fatalf("az acr webhook get-config = %q", got)
	}

	src := t.TempDir()
	writeLayout(t, src, 1)
	emu.Run(t, crane, "push", src, emu.RegistryHost()+"/app:v1")
	l.waitFor(t, "/cli", "push app:v1")
	if h := l.first("/cli").header.Get("X-Hook"); h != "cli" {
		t.Fatalf("custom header delivered: %q", h)
	}
	ping := run("acr", "webhook", "ping", "-r", "myregistry", "-n", "clihook", "--query", "id", "-o", "tsv")
	l.waitFor(t, "/cli", "push app:v1", "ping")
	var events []struct {
		ID                  string `json:"id"`
		EventRequestMessage struct {
			Content struct {
				Action string `json:"action"`
				Target struct {
					Repository, Tag string
				} `json:"target"`
			} `json:"content"`
		} `json:"eventRequestMessage"`
		EventResponseMessage struct {
			StatusCode string `json:"statusCode"`
		} `json:"eventResponseMessage"`
	}
	if err := json.Unmarshal([]byte(run("acr", "webhook", "list-events", "-r", "myregistry", "-n", "clihook", "-o", "json")), &events); err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || events[0].ID != ping || events[0].EventRequestMessage.Content.Action != "ping" || events[1].EventRequestMessage.Content.Target.Tag != "v1" ||
		events[1].EventResponseMessage.StatusCode != "200" {
		t.Fatalf("az acr webhook list-events = %+v", events)
	}
	// The table output (az's own formatter over the same shape).
	if table := run("acr", "webhook", "list-events", "-r", "myregistry", "-n", "clihook", "-o", "table"); !strings.Contains(table, "app:v1") || !strings.Contains(table, "200 OK") {
		t.Fatalf("list-events table:\n%s", table)
	}

	if got := run("acr", "webhook", "update", "-r", "myregistry", "-n", "clihook", "--status", "disabled", "--scope", "app:v2", "--query", "[status, scope]", "-o", "tsv"); got != "disabled\napp:v2" {
		t.Fatalf("az acr webhook update = %q", got)
	}
	if got := run("acr", "webhook", "get-config", "-r", "myregistry", "-n", "clihook", "--query", "serviceUri", "-o", "tsv"); got != l.URL+"/cli" {
		t.Fatalf("get-config after update = %q", got)
	}
	run("acr", "webhook", "delete", "-r", "myregistry", "-n", "clihook")
	if got := run("acr", "webhook", "list", "-r", "myregistry", "--query", "length(@)", "-o", "tsv"); got != "0" {
		t.Fatalf("after delete: %q", got)
	}
}
