package arm

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/emulator/webhook"
)

func TestWebhooks(t *testing.T) {
	var mu sync.Mutex
	var pinged []string
	listener := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		pinged = append(pinged, r.Header.Get("X-Token")+" "+string(b))
		mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(listener.Close)
	srv := newAPIConfig(t, func(cfg *Config) {
		s := webhook.New(cfg.Store)
		t.Cleanup(s.Close)
		cfg.Webhooks = s
	})
	hooks := regs + "/myregistry/webHooks"
	create := `{"location":"eastus","properties":{"serviceUri":"` + listener.URL + `","actions":["push","Delete"],"customHeaders":{"X-Token":"t1"}}}`
	for _, c := range []struct {
		desc, method, path, body string
		status                   int
		code                     string
	}{
		{"bad name", "PUT", hooks + "/hook-1", create, 400, "InvalidResourceName"},
		{"short name", "PUT", hooks + "/hook", create, 400, "InvalidResourceName"},
		{"no location", "PUT", hooks + "/hookone", `{"properties":{"serviceUri":"http://127.0.0.1/","actions":["push"]}}`, 400, "LocationRequired"},
		{"no service URI", "PUT", hooks + "/hookone", `{"location":"eastus","properties":{"actions":["push"]}}`, 400, "InvalidRequestContent"},
		{"no actions", "PUT", hooks + "/hookone", `{"location":"eastus","properties":{"serviceUri":"http://127.0.0.1/"}}`, 400, "InvalidRequestContent"},
		{"empty actions", "PUT", hooks + "/hookone", `{"location":"eastus","properties":{"serviceUri":"http://127.0.0.1/","actions":[]}}`, 400, "InvalidRequestContent"},
		{"unknown action", "PUT", hooks + "/hookone", `{"location":"eastus","properties":{"serviceUri":"http://127.0.0.1/","actions":["pull"]}}`, 400, "InvalidRequestContent"},
		{"bad status", "PUT", hooks + "/hookone", `{"location":"eastus","properties":{"serviceUri":"http://127.0.0.1/","actions":["push"],"status":"on"}}`, 400, "InvalidRequestContent"},
		{"not http", "PUT", hooks + "/hookone", `{"location":"eastus","properties":{"serviceUri":"ftp://127.0.0.1/","actions":["push"]}}`, 400, "InvalidRequestContent"},
		{"relative URI", "PUT", hooks + "/hookone", `{"location":"eastus","properties":{"serviceUri":"/hook","actions":["push"]}}`, 400, "InvalidRequestContent"},
		{"bad header", "PUT", hooks + "/hookone", `{"location":"eastus","properties":{"serviceUri":"http://127.0.0.1/","actions":["push"],"customHeaders":{"X Bad":"v"}}}`, 400, "InvalidRequestContent"},
		{"header with CRLF", "PUT", hooks + "/hookone", `{"location":"eastus","properties":{"serviceUri":"http://127.0.0.1/","actions":["push"],"customHeaders":{"X":"a\r\nB: c"}}}`, 400, "InvalidRequestContent"},
		{"header not a string", "PUT", hooks + "/hookone", `{"location":"eastus","properties":{"serviceUri":"http://127.0.0.1/","actions":["push"],"customHeaders":{"X":1}}}`, 400, "InvalidRequestContent"},
		{"not a replication's location", "PUT", hooks + "/hookone", `{"location":"westus","properties":{"serviceUri":"http://127.0.0.1/","actions":["push"]}}`, 400, "InvalidWebhookLocation"},
		{"reader", "PUT", hooks + "/hookone", create, 403, "AuthorizationFailed"},
		{"missing registry", "PUT", regs + "/nothere/webhooks/hookone", create, 404, "ResourceNotFound"},
		{"create", "PUT", hooks + "/HookOne", create, 201, ""},
		{"move", "PUT", hooks + "/hookone", `{"location":"westus","properties":{"serviceUri":"http://127.0.0.1/","actions":["push"]}}`, 400, "InvalidResourceLocation"},
		{"patch missing", "PATCH", hooks + "/hooktwo", `{"properties":{"scope":"app"}}`, 404, "ResourceNotFound"},
		{"replica in westus", "PUT", regs + "/myregistry/replications/westus", `{"location":"westus"}`, 201, ""},
		{"in the replica's location", "PUT", hooks + "/hooktwo", `{"location":"West US","tags":{"a":"b"},"properties":{"serviceUri":"https://example.com","actions":["quarantine"],"status":"disabled","scope":"app:*"}}`, 201, ""},
		{"replace", "PUT", hooks + "/hooktwo", `{"location":"westus","tags":{"a":"b"},"properties":{"serviceUri":"https://example.com","actions":["quarantine"],"status":"disabled","scope":"app:*"}}`, 200, ""},
	} {
		token := "owner"
		if c.desc == "reader" {
			token = "reader"
		}
		if r := call(t, srv, c.method, c.path+v, token, c.body); r.status != c.status || errCode(r) != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.desc, r.status, r.body, c.status, c.code)
		}
	}

	// GET shows neither the service URI nor the headers; getCallbackConfig does.
	r := call(t, srv, "GET", hooks+"/hookone"+v, "reader", "")
	if r.status != 200 || r.body["id"] != regs+"/myregistry/webhooks/HookOne" || r.body["name"] != "HookOne" || r.body["type"] != webhookType ||
		r.body["location"] != "eastus" || prop(r, "properties", "status") != "enabled" || prop(r, "properties", "scope") != "" ||
		prop(r, "properties", "provisioningState") != "Succeeded" || prop(r, "properties", "serviceUri") != nil || prop(r, "properties", "customHeaders") != nil ||
		prop(r, "systemData", "createdBy") != owner {
		t.Fatalf("GET: %d %v", r.status, r.body)
	}
	if acts, _ := prop(r, "properties", "actions").([]any); len(acts) != 2 || acts[0] != "push" || acts[1] != "delete" {
		t.Fatalf("actions: %v", acts)
	}
	if r := call(t, srv, "POST", hooks+"/hookone/getCallbackConfig"+v, "reader", ""); r.status != 403 {
		t.Fatalf("a reader read the callback config: %d", r.status)
	}
	r = call(t, srv, "POST", hooks+"/hookone/getCallbackConfig"+v, "contrib", "")
	if r.status != 200 || r.body["serviceUri"] != listener.URL || prop(r, "customHeaders", "X-Token") != "t1" {
		t.Fatalf("getCallbackConfig: %d %v", r.status, r.body)
	}
	// PATCH changes what it names and keeps the rest (as az acr webhook update sends it).
	if r := call(t, srv, "PATCH", hooks+"/hookone"+v, "owner", `{"properties":{"scope":"hello-world","customHeaders":{"X-Token":"t2"}}}`); r.status != 201 ||
		prop(r, "properties", "scope") != "hello-world" || prop(r, "systemData", "createdBy") != owner {
		t.Fatalf("PATCH: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "POST", hooks+"/hookone/getCallbackConfig"+v, "owner", ""); r.body["serviceUri"] != listener.URL || prop(r, "customHeaders", "X-Token") != "t2" {
		t.Fatalf("after PATCH: %v", r.body)
	}
	r = call(t, srv, "GET", hooks+"/hooktwo"+v, "reader", "")
	if r.body["location"] != "westus" || prop(r, "properties", "status") != "disabled" || prop(r, "properties", "scope") != "app:*" || prop(r, "tags", "a") != "b" {
		t.Fatalf("hooktwo: %v", r.body)
	}
	if r := call(t, srv, "POST", hooks+"/hooktwo/getCallbackConfig"+v, "owner", ""); r.body["serviceUri"] != "https://example.com" || r.body["customHeaders"] == nil {
		t.Fatalf("hooktwo's callback config: %v", r.body)
	}
	if r := call(t, srv, "GET", hooks+v, "reader", ""); r.status != 200 || len(r.body["value"].([]any)) != 2 {
		t.Fatalf("list: %d %v", r.status, r.body)
	}

	// A ping is delivered (with the headers) before it answers, and listed.
	r = call(t, srv, "POST", hooks+"/hookone/ping"+v, "owner", "")
	id, _ := r.body["id"].(string)
	if r.status != 200 || len(id) != 36 {
		t.Fatalf("ping: %d %v", r.status, r.body)
	}
	mu.Lock()
	if len(pinged) != 1 || !strings.HasPrefix(pinged[0], `t2 {"id":"`+id+`","timestamp":"`) || !strings.HasSuffix(pinged[0], `","action":"ping"}`) {
		t.Fatalf("delivered: %v", pinged)
	}
	mu.Unlock()
	r = call(t, srv, "POST", hooks+"/hookone/listEvents"+v, "owner", "")
	events, _ := r.body["value"].([]any)
	if r.status != 200 || len(events) != 1 {
		t.Fatalf("listEvents: %d %v", r.status, r.body)
	}
	ev := result{200, events[0].(map[string]any)}
	if ev.body["id"] != id || prop(ev, "eventRequestMessage", "content", "action") != "ping" || prop(ev, "eventRequestMessage", "method") != "POST" ||
		prop(ev, "eventRequestMessage", "headers", "X-Token") != "t2" || prop(ev, "eventResponseMessage", "statusCode") != "418" ||
		prop(ev, "eventResponseMessage", "reasonPhrase") != "I'm a teapot" {
		t.Fatalf("event: %v", ev.body)
	}
	if r := call(t, srv, "POST", hooks+"/hookone/listEvents"+v, "reader", ""); r.status != 403 {
		t.Fatalf("a reader listed events: %d", r.status)
	}

	// The Basic SKU's quota is 2.
	basic := regs + "/basicregistry/webhooks/"
	for i, name := range []string{"basicone", "basictwo", "basicthree"} {
		want, code := 201, ""
		if i == 2 {
			want, code = 409, "QuotaExceeded"
		}
		if r := call(t, srv, "PUT", basic+name+v, "owner", create); r.status != want || errCode(r) != code {
			t.Fatalf("%s: %d %v", name, r.status, r.body)
		}
	}
	if r := call(t, srv, "PUT", basic+"basicone"+v, "owner", create); r.status != 200 {
		t.Fatalf("updating at the quota: %d %v", r.status, r.body)
	}
	r = call(t, srv, "GET", regs+"/basicregistry/listUsages"+v, "reader", "")
	var usage map[string]any
	for _, u := range r.body["value"].([]any) {
		if m := u.(map[string]any); m["name"] == "Webhooks" {
			usage = m
		}
	}
	if usage["limit"] != float64(2) || usage["currentValue"] != float64(2) {
		t.Fatalf("webhook usage: %v", usage)
	}

	// DELETE answers 202, then 204; the deliveries go with the webhook; the registry's delete
	// takes its webhooks.
	if r := call(t, srv, "DELETE", hooks+"/hookone"+v, "owner", ""); r.status != 202 {
		t.Fatalf("delete: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "DELETE", hooks+"/hookone"+v, "owner", ""); r.status != 204 {
		t.Fatalf("delete again: %d", r.status)
	}
	if r := call(t, srv, "POST", hooks+"/hookone/listEvents"+v, "owner", ""); r.status != 404 || errCode(r) != "ResourceNotFound" {
		t.Fatalf("events of a deleted webhook: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "PUT", hooks+"/hookone"+v, "owner", create); r.status != 201 {
		t.Fatal(r.status)
	}
	if r := call(t, srv, "POST", hooks+"/hookone/listEvents"+v, "owner", ""); len(r.body["value"].([]any)) != 0 {
		t.Fatalf("a webhook made again inherited deliveries: %v", r.body)
	}
	if r := call(t, srv, "DELETE", regs+"/basicregistry"+v, "owner", ""); r.status != 200 {
		t.Fatal(r.status)
	}
	if r := call(t, srv, "PUT", regs+"/basicregistry"+v, "owner", `{"location":"eastus","sku":{"name":"Basic"}}`); r.status != 201 {
		t.Fatal(r.status)
	}
	if r := call(t, srv, "GET", regs+"/basicregistry/webhooks"+v, "reader", ""); len(r.body["value"].([]any)) != 0 {
		t.Fatalf("a new registry of the same name inherited webhooks: %v", r.body)
	}
}

// FuzzWebhookBody: a webhook PUT body is refused with a 4xx ARM error, or gives a webhook the
// delivery service can send: an http(s) service URI, known actions, HTTP header names.
func FuzzWebhookBody(f *testing.F) {
	for _, s := range []string{
		`{"location":"eastus","properties":{"serviceUri":"http://127.0.0.1:9090/x","actions":["push","delete"],"scope":"app:*","customHeaders":{"A":"b"}}}`,
		`{"location":"East US","properties":{"serviceUri":"https://example.com","actions":["chart_push"],"status":"disabled"}}`,
		`{"location":"eastus","properties":{"serviceUri":"http://[::1]:0","actions":["push","push"]}}`,
		`{"properties":null}`, `[]`, `{`, `{"location":"eastus","properties":{"serviceUri":"//x","actions":["PUSH"]}}`,
	} {
		f.Add(s)
	}
	st := store.New()
	reg := &store.Registry{Name: "myregistry", SKU: "Premium", Location: "eastus", ID: regs + "/myregistry"}
	if err := st.PutRegistry(reg); err != nil {
		f.Fatal(err)
	}
	a := build(Config{Store: st, Location: "eastus"})
	id, err := armid.Parse(regs + "/myregistry/webhooks/fuzzhook")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body string) {
		c := &Call{R: httptest.NewRequest(http.MethodPut, "/", strings.NewReader(body)), ID: id, a: a, parent: reg}
		w, err := decodeWebhook(c, nil, false)
		if err == nil {
			err = a.validateWebhook(c, nil, w)
		}
		if err != nil {
			var ae *Error
			if !errors.As(err, &ae) || ae.Status < 400 || ae.Status > 499 {
				t.Fatalf("body %q: %v, want a 4xx ARM error", body, err)
			}
			return
		}
		u, perr := url.Parse(w.ServiceURI)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || len(w.Actions) == 0 || w.UID == "" {
			t.Fatalf("body %q accepted as %+v", body, w)
		}
		for _, act := range w.Actions {
			if !slices.Contains(webhook.Actions, act) {
				t.Fatalf("body %q: action %q", body, act)
			}
		}
		for k := range w.CustomHeaders {
			if !headerName(k) {
				t.Fatalf("body %q: header %q", body, k)
			}
		}
	})
}
