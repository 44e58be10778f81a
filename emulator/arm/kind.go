package arm

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Kind declares one ARM resource family; the router serves every request for it the same
// way, so adding a family is one small file: a constructor returning its *Kind, added to the
// list in New (routes.go). Sketch, for Microsoft.ContainerRegistry/registries/webhooks:
//
//	func (a *api) webhooks() *Kind[store.Webhook] {
//		const t = "Microsoft.ContainerRegistry/registries/webhooks"
//		return &Kind[store.Webhook]{Type: "Microsoft.ContainerRegistry/registries/webHooks",
//			Actions: crud(t, "ping", "getCallbackConfig", "listEvents"), LRO: Async,
//			SKU: nil, Max: 500, Get: a.getWebhook, List: a.listWebhooks, Decode: decodeWebhook,
//			Validate: a.validateWebhook, Save: a.saveWebhook, Delete: a.deleteWebhook,
//			JSON: webhookJSON, Do: map[string]func(*Call, *store.Webhook) error{"ping": a.ping}}
//	}
//
// Type is the canonical spelling (it is also how ids are written back); paths match it in
// any case. For every request the router checks the api-version, the token, the
// subscription, the resource group, the parent resource (a registry child's registry must
// exist: ResourceNotFound) and the RBAC action of Actions for the method (a method whose
// function is nil is 405), then:
//   - GET on the collection: List, each item kept only when the caller may read it (ID set);
//   - GET or HEAD on one: Get (nil, nil is 404 ResourceNotFound), JSON;
//   - PUT: the parent registry's SKU rule, Get (the old value, nil on create), Decode (the
//     body merged into a copy of old: shape and values, never writes), Validate (against the
//     rest of the world), Max (on create), Save, and the answer as LRO says;
//   - PATCH: as PUT on an existing resource, with Decode told it is a patch;
//   - DELETE: Get, Delete (absent: 204, as ARM deletes are idempotent), the answer per LRO
//     unless Delete answered itself (c.Reply);
//   - POST (or GET) .../{name}/{action}: Get, then Do[action], which writes its own answer.
//
// Decode, Validate and SKU return *Error values (ARM's code and message); any other error is
// a 500. Leave Validate or SKU nil to have no rule.
type Kind[T any] struct {
	Type    string
	Actions Actions
	LRO     LRO
	// LROFor, when set, chooses the LRO per request (the answers of some families differ by
	// api-version).
	LROFor func(c *Call) LRO
	// WriteLRO, when set, chooses the LRO of a PUT or PATCH from what it changed (a registry
	// PATCH that rotates its encryption key is answered as an operation).
	WriteLRO func(c *Call, old, next *T) LRO
	// SKU, when set, is checked on the parent registry before every write.
	SKU func(reg *store.Registry) error
	// Max bounds how many a parent holds (input bound); 0: no bound.
	Max int
	// ID gives an item's ARM id so that lists show only what the caller may read; nil:
	// lists are authorized once, on the collection.
	ID       func(v *T) string
	Get      func(c *Call) (*T, error)
	List     func(c *Call) ([]*T, error)
	Decode   func(c *Call, old *T, patch bool) (*T, error)
	Validate func(c *Call, old, next *T) error
	Save     func(c *Call, old, next *T) error
	Delete   func(c *Call, v *T) error
	JSON     func(c *Call, v *T) any
	Do       map[string]func(c *Call, v *T) error
	// NotFound answers a missing resource; nil: ARM's ResourceNotFound.
	NotFound func(c *Call) error
}

// Actions are a family's RBAC action names; GET /providers/Microsoft.ContainerRegistry/operations
// lists every declared one. Do maps an action's path segment (listCredentials) to its name
// (…/registries/listCredentials/action); an action whose name ends in /read is a GET.
type Actions struct {
	Read, Write, Delete string
	Do                  map[string]string
}

// crud names the usual actions of type t: t/read, t/write, t/delete and t/<action>/action.
func crud(t string, do ...string) Actions {
	a := Actions{Read: t + "/read", Write: t + "/write", Delete: t + "/delete", Do: map[string]string{}}
	for _, d := range do {
		a.Do[d] = t + "/" + d + "/action"
	}
	return a
}

// names lists the declared action names.
func (a Actions) names() []string {
	var out []string
	for _, n := range []string{a.Read, a.Write, a.Delete} {
		if n != "" {
			out = append(out, n)
		}
	}
	for _, n := range a.Do {
		out = append(out, n)
	}
	return out
}

// forMethod is the action a method needs on a resource or collection ("" when none is declared).
func (a Actions) forMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return a.Read
	case http.MethodPut, http.MethodPatch:
		return a.Write
	case http.MethodDelete:
		return a.Delete
	}
	return ""
}

// doAction finds the action for a path segment and method, case-insensitively.
func (a Actions) doAction(segment, method string) (name, action string, ok bool) {
	for n, act := range a.Do {
		if strings.EqualFold(n, segment) {
			if strings.HasSuffix(act, "/read") != (method == http.MethodGet) {
				return n, act, false
			}
			return n, act, true
		}
	}
	return "", "", false
}

// route is what the router's table holds: a Kind, a Delegate or an Endpoint.
type route interface {
	typeName() string
	actions() Actions
	// action is the RBAC action a request needs: the method's on the resource or
	// collection, or the one declared for …/{name}/{segment}; a method the route does not
	// serve is 405.
	action(method, segment string, collection bool) (string, error)
	serve(c *Call) error
}

// listFilter is a route whose lists show only the items the caller may read, so the router
// does not authorize the list itself.
type listFilter interface {
	filtersList(method string, collection bool) bool
}

// lookuper is a route whose resources can be looked up, for the parent check of its children.
type lookuper interface {
	lookup(c *Call) (any, error)
}

func (k *Kind[T]) typeName() string { return k.Type }
func (k *Kind[T]) actions() Actions { return k.Actions }

func (k *Kind[T]) lookup(c *Call) (any, error) {
	if k.Get == nil {
		return nil, nil
	}
	v, err := k.Get(c)
	if v == nil || err != nil {
		return nil, err
	}
	return v, nil
}

func (k *Kind[T]) action(method, segment string, collection bool) (string, error) {
	if segment != "" {
		name, act, ok := k.Actions.doAction(segment, method)
		if !ok || k.Do[name] == nil || k.Get == nil {
			return "", methodNotAllowed(method)
		}
		return act, nil
	}
	ok := false
	switch method {
	case http.MethodGet:
		ok = (collection && k.List != nil) || (!collection && k.Get != nil)
	case http.MethodHead:
		ok = !collection && k.Get != nil
	case http.MethodPut, http.MethodPatch:
		ok = !collection && k.Decode != nil && k.Save != nil && k.Get != nil
	case http.MethodDelete:
		ok = !collection && k.Delete != nil && k.Get != nil
	}
	if !ok {
		return "", methodNotAllowed(method)
	}
	return k.Actions.forMethod(method), nil
}

func (k *Kind[T]) filtersList(method string, collection bool) bool {
	return k.ID != nil && collection && method == http.MethodGet
}

func (k *Kind[T]) serve(c *Call) error {
	switch {
	case c.Action != "":
		return k.do(c)
	case c.ID.Collection():
		return k.list(c)
	case c.R.Method == http.MethodGet || c.R.Method == http.MethodHead:
		return k.get(c)
	case c.R.Method == http.MethodDelete:
		return k.remove(c)
	}
	return k.write(c)
}

func (k *Kind[T]) get(c *Call) error {
	v, err := k.Get(c)
	if err != nil {
		return err
	}
	if c.R.Method == http.MethodHead {
		status := http.StatusNoContent
		if v == nil {
			status = http.StatusNotFound
		}
		c.W.WriteHeader(status)
		return nil
	}
	if v == nil {
		return k.notFound(c)
	}
	return c.Reply(http.StatusOK, k.JSON(c, v))
}

func (k *Kind[T]) list(c *Call) error {
	vs, err := k.List(c)
	if err != nil {
		return err
	}
	out := []any{}
	for _, v := range vs {
		if k.ID != nil && k.Actions.Read != "" && c.a.authorize(c.Caller, k.ID(v), k.Actions.Read) != nil {
			continue
		}
		out = append(out, k.JSON(c, v))
	}
	return c.Reply(http.StatusOK, map[string]any{"value": out})
}

func (k *Kind[T]) write(c *Call) error {
	patch := c.R.Method == http.MethodPatch
	if reg, ok := c.parent.(*store.Registry); ok && k.SKU != nil {
		if err := k.SKU(reg); err != nil {
			return err
		}
	}
	old, err := k.Get(c)
	if err != nil {
		return err
	}
	if patch && old == nil {
		return k.notFound(c)
	}
	next, err := k.Decode(c, old, patch)
	if err != nil {
		return err
	}
	if k.Validate != nil {
		if err := k.Validate(c, old, next); err != nil {
			return err
		}
	}
	if old == nil && k.Max > 0 && k.List != nil {
		all, err := k.List(c.collection())
		if err != nil {
			return err
		}
		if len(all) >= k.Max {
			return armError(http.StatusConflict, "QuotaExceeded", fmt.Sprintf("The maximum of %d %s has been reached.", k.Max, c.ID.Types[len(c.ID.Types)-1]))
		}
	}
	if err := k.Save(c, old, next); err != nil {
		return err
	}
	mode := k.lro(c)
	if k.WriteLRO != nil {
		mode = k.WriteLRO(c, old, next)
	}
	return c.a.replyWritten(c, mode, old == nil, k.JSON(c, next))
}

func (k *Kind[T]) remove(c *Call) error {
	v, err := k.Get(c)
	if err != nil {
		return err
	}
	if v == nil {
		c.W.WriteHeader(http.StatusNoContent)
		return nil
	}
	if err := k.Delete(c, v); err != nil || c.replied {
		return err
	}
	return c.a.replyDeleted(c, k.lro(c))
}

func (k *Kind[T]) lro(c *Call) LRO {
	if k.LROFor != nil {
		return k.LROFor(c)
	}
	return k.LRO
}

func (k *Kind[T]) notFound(c *Call) error {
	if k.NotFound != nil {
		return k.NotFound(c)
	}
	return c.notFound()
}

func (k *Kind[T]) do(c *Call) error {
	name, _, _ := k.Actions.doAction(c.Action, c.R.Method)
	v, err := k.Get(c)
	if err != nil {
		return err
	}
	if v == nil {
		return k.notFound(c)
	}
	return k.Do[name](c, v)
}

// allActions returns the declared action names of every route, sorted, for the operations list.
func allActions(routes []route) []string {
	var out []string
	for _, r := range routes {
		out = append(out, r.actions().names()...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
