package arm

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// The router: one table of routes by type key (lowercase "microsoft.containerregistry/registries"),
// matched after the path is parsed once (armid), so every spelling of a provider or type
// segment reaches the same route, and ids are written back with the declared spelling and the
// caller's names. The same table names the spellings handed to delegates and the actions
// GET …/operations lists.

// Call is one request as a route sees it.
type Call struct {
	W http.ResponseWriter
	R *http.Request
	// ID is the resource (or collection) the request is about: types spelled as declared,
	// names as the caller wrote them. For an action (…/registries/r/listCredentials) it is
	// the resource the action is on, and Action is the action's segment as declared.
	ID      armid.ID
	Action  string
	Caller  *Identity // nil on anonymous endpoints
	a       *api
	parent  any  // the parent resource, looked up by the router (a registry child's *store.Registry)
	replied bool // a route answered itself
	// opLocation is the region a DELETE's operation is under (a replication's); "": the registry's.
	opLocation string
}

// Registry is the parent registry of a registry child resource, nil for other resources.
func (c *Call) Registry() *store.Registry {
	reg, _ := c.parent.(*store.Registry)
	return reg
}

// APIVersion is the request's api-version.
func (c *Call) APIVersion() string { return c.R.URL.Query().Get("api-version") }

// Decode reads the JSON body into v (bounded; ARM's 400 InvalidRequestContent when malformed).
func (c *Call) Decode(v any) error { return decode(c.R, v) }

// Reply answers v as JSON.
func (c *Call) Reply(status int, v any) error {
	c.replied = true
	return writeJSON(c.W, status, v)
}

// authorize checks an action on the call's resource; "" needs no role.
func (c *Call) authorize(action string) error {
	if action == "" {
		return nil
	}
	return c.a.authorize(c.Caller, c.ID.String(), action)
}

// at is the call about another resource (a parent, a collection).
func (c *Call) at(id armid.ID) *Call {
	cc := *c
	cc.ID, cc.Action = id, ""
	return &cc
}

// collection is the call about the collection c's resource is in.
func (c *Call) collection() *Call {
	id := c.ID
	id.Names = id.Names[:len(id.Types)-1]
	return c.at(id)
}

// notFound is ARM's 404 for the call's resource.
func (c *Call) notFound() error { return resourceNotFound(c.ID) }

func resourceNotFound(id armid.ID) error {
	if id.Key() == "microsoft.resources/resourcegroups" {
		return resourceGroupNotFound(id.ResourceGroup)
	}
	path := id.Namespace
	for i, t := range id.Types {
		path += "/" + t
		if i < len(id.Names) {
			path += "/" + id.Names[i]
		}
	}
	where := " under resource group '" + id.ResourceGroup + "'"
	if id.ResourceGroup == "" {
		where = ""
	}
	return armError(http.StatusNotFound, "ResourceNotFound", "The Resource '"+path+"'"+where+
		" was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")
}

func resourceGroupNotFound(name string) error {
	return armError(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '"+name+"' could not be found.")
}

func methodNotAllowed(method string) error {
	return armError(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '"+method+"'.")
}

// Delegate is a resource family served by another handler (ACR Tasks, the simulated services'
// providers). The router routes, authenticates and authorizes it as it does a Kind (the
// action for the method, or Actions.Do for …/{name}/{action}), checks its parent, then hands
// the request over with the path spelled as declared (so the handler's own routes need one
// spelling) and the caller in its context (CallerFrom). A Delegate declaring only Do adds
// actions to another route's type (Tasks' scheduleRun on registries). With LRO Async, a created or updated resource is answered with
// Azure-AsyncOperation, as ACR does; deletes are answered as the handler answers them.
type Delegate struct {
	Type    string
	Actions Actions
	LRO     LRO
	Handler http.Handler
}

func (d *Delegate) typeName() string { return d.Type }
func (d *Delegate) actions() Actions { return d.Actions }

func (d *Delegate) action(method, segment string, _ bool) (string, error) {
	act := d.Actions.forMethod(method)
	if segment != "" {
		var ok bool
		if _, act, ok = d.Actions.doAction(segment, method); !ok {
			return "", methodNotAllowed(method)
		}
	}
	if act == "" {
		return "", methodNotAllowed(method)
	}
	return act, nil
}

func (d *Delegate) serve(c *Call) error {
	path := c.ID.String()
	if c.Action != "" {
		path += "/" + c.Action
	}
	r := c.R.Clone(withCaller(c.R.Context(), c.Caller))
	r.URL.Path, r.URL.RawPath = path, ""
	// Who calls, for the provider's systemData, as ARM tells its providers (never what the
	// client sent).
	r.Header.Del(armid.HeaderClientObjectID)
	r.Header.Del(armid.HeaderClientAppID)
	if c.Caller != nil {
		r.Header.Set(armid.HeaderClientObjectID, c.Caller.ObjectID)
		if c.Caller.AppID != "" {
			r.Header.Set(armid.HeaderClientAppID, c.Caller.AppID)
		}
	}
	w := c.W
	if r.Method == http.MethodPut || r.Method == http.MethodPatch {
		w = &asyncWriter{ResponseWriter: c.W, c: c, async: d.LRO == Async}
	}
	d.Handler.ServeHTTP(w, r)
	return nil
}

// operationErrorHeader is how a simulated service tells that a write's asynchronous operation
// failed ({"code","message"}); fakes/platform.OperationErrorHeader is the same name. The
// header is consumed here and never reaches the client.
const operationErrorHeader = "X-Acr-Emulator-Operation-Error"

// asyncWriter adds the async-operation headers to a delegate's successful write (async), with
// the operation's error when the delegate reports one.
type asyncWriter struct {
	http.ResponseWriter
	c     *Call
	async bool
	wrote bool
}

func (w *asyncWriter) WriteHeader(status int) {
	report := w.Header().Get(operationErrorHeader)
	w.Header().Del(operationErrorHeader)
	if !w.wrote && w.async && (status == http.StatusOK || status == http.StatusCreated) {
		var failed *Error
		var e struct{ Code, Message string }
		if report != "" && json.Unmarshal([]byte(report), &e) == nil {
			failed = armError(status, e.Code, e.Message)
		}
		w.c.a.ops.accept(w.c, w.c.a.ops.statusOf(w.c, failed))
	}
	w.wrote = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *asyncWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Endpoint is one operation at one collection-shaped path that is not a resource family: the
// operations list, checkNameAvailability, the generic resources lists.
type Endpoint struct {
	Type   string
	Method string
	// Action is checked on the path; "": any authenticated caller.
	Action    string
	Anonymous bool
	Serve     func(c *Call) error
}

func (e *Endpoint) typeName() string { return e.Type }
func (e *Endpoint) actions() Actions {
	if e.Action == "" {
		return Actions{}
	}
	return Actions{Do: map[string]string{"": e.Action}}
}

func (e *Endpoint) action(method, segment string, collection bool) (string, error) {
	if method != e.Method || !collection || segment != "" {
		return "", methodNotAllowed(method)
	}
	return e.Action, nil
}

func (e *Endpoint) serve(c *Call) error { return e.Serve(c) }

// table is the router's: routes by type key, actions other routes add to a type, spellings.
type table struct {
	routes  map[string]route
	actions map[string]map[string]route // type key → lowercase action segment → route serving it
	spell   map[string]string           // lowercase segment → declared spelling
	all     []route
}

func newTable(routes ...route) *table {
	t := &table{routes: map[string]route{}, actions: map[string]map[string]route{}, spell: map[string]string{}}
	for _, r := range routes {
		t.add(r)
	}
	return t
}

// add registers a route; it panics on a type declared twice, an action declared twice or a
// segment spelled two ways, mistakes that any test building the table finds.
func (t *table) add(r route) {
	key := strings.ToLower(r.typeName())
	acts := r.actions()
	_, actionsOnly := r.(*Delegate)
	actionsOnly = actionsOnly && acts.Read == "" && acts.Write == "" && acts.Delete == ""
	if !actionsOnly {
		if _, dup := t.routes[key]; dup {
			panic("arm: type " + r.typeName() + " declared twice")
		}
		t.routes[key] = r
	}
	for seg := range acts.Do {
		if seg == "" {
			continue
		}
		if t.actions[key] == nil {
			t.actions[key] = map[string]route{}
		}
		if _, dup := t.actions[key][strings.ToLower(seg)]; dup {
			panic("arm: action " + seg + " of " + r.typeName() + " declared twice")
		}
		t.actions[key][strings.ToLower(seg)] = r
		t.spelling(seg)
	}
	for _, seg := range strings.Split(r.typeName(), "/") {
		t.spelling(seg)
	}
	t.all = append(t.all, r)
}

func (t *table) spelling(seg string) {
	low := strings.ToLower(seg)
	if s, ok := t.spell[low]; ok && s != seg {
		panic("arm: segment " + seg + " also spelled " + s)
	}
	t.spell[low] = seg
}

func (t *table) respell(low string) string { return t.spell[low] }

// resolve finds the route for a parsed path: the type itself (a resource or a collection), or
// an action on a resource (…/{name}/{action}), whose resource id it returns.
func (t *table) resolve(id armid.ID) (r route, action string, resource armid.ID, ok bool) {
	if r, ok := t.routes[id.Key()]; ok {
		return r, "", id, true
	}
	if id.Collection() && len(id.Names) > 0 {
		parent := id.Parent()
		seg := id.Types[len(id.Types)-1]
		if r, ok := t.actions[parent.Key()][strings.ToLower(seg)]; ok {
			return r, t.spell[strings.ToLower(seg)], parent, true
		}
	}
	return nil, "", id, false
}

// unknownType answers a path no route declares, as ARM does for a type or namespace it does
// not know (InvalidResourceType is ARM's; its answer for an unknown namespace is UNCONFIRMED).
func (t *table) unknownType(id armid.ID, apiVersion string) error {
	ns := strings.ToLower(id.Namespace) + "/"
	for key := range t.routes {
		if strings.HasPrefix(key, ns) {
			return armError(http.StatusNotFound, "InvalidResourceType", fmt.Sprintf("The resource type '%s' could not be found in the namespace '%s' for api version '%s'.",
				strings.Join(id.Types, "/"), id.Namespace, apiVersion))
		}
	}
	return armError(http.StatusNotFound, "InvalidResourceNamespace", "The resource namespace '"+id.Namespace+"' is invalid.")
}

// decision is how the router serves a request: the route, the resource (or collection) it is
// about, the action segment of …/{name}/{action}, and the RBAC action it needs.
type decision struct {
	route   route
	id      armid.ID
	segment string
	action  string
}

// decide routes a method and path: 404 for what no route declares, 405 for a method the route
// does not serve. It is the router's whole routing and RBAC decision, without the store.
func (t *table) decide(method, path, apiVersion string) (decision, error) {
	id, err := armid.Parse(path)
	if err != nil {
		return decision{}, armError(http.StatusNotFound, "NotFound", "The requested resource does not exist or is not supported by the emulator: "+method+" "+path)
	}
	id = id.Respell(t.respell)
	rt, segment, resource, ok := t.resolve(id)
	if !ok {
		return decision{}, t.unknownType(id, apiVersion)
	}
	need, err := rt.action(method, segment, resource.Collection())
	return decision{route: rt, id: resource, segment: segment, action: need}, err
}

// serve routes one request: api-version, route and method, token, subscription, resource
// group, parent, RBAC; then the route. Operation URLs go to the keeper.
func (a *api) serve(w http.ResponseWriter, r *http.Request) error {
	if strings.Trim(r.URL.Path, "/") == "metadata/endpoints" {
		return a.metadataEndpoints(w, r)
	}
	version, err := apiVersion(r)
	if err != nil {
		return err
	}
	if id, err := armid.Parse(r.URL.Path); err == nil && isOperationPoll(id) {
		caller, err := a.authenticate(w, r)
		if err != nil {
			return err
		}
		return a.ops.poll(&Call{W: w, R: r, ID: id, Caller: caller, a: a})
	}
	d, derr := a.routes.decide(r.Method, r.URL.Path, version)
	c := &Call{W: w, R: r, ID: d.id, Action: d.segment, a: a}
	if e, ok := d.route.(*Endpoint); derr != nil || !ok || !e.Anonymous {
		// ARM authenticates before it routes: a token is needed even to learn a path is wrong.
		if c.Caller, err = a.authenticate(w, r); err != nil {
			return err
		}
	}
	if derr != nil {
		return derr
	}
	if err := a.checkScope(c); err != nil {
		return err
	}
	if f, ok := d.route.(listFilter); !ok || !f.filtersList(r.Method, c.ID.Collection()) {
		if err := c.authorize(d.action); err != nil {
			return err
		}
	}
	return d.route.serve(c)
}

// checkScope requires the subscription, the resource group (but for a PUT or HEAD of the
// group itself) and the parent resource of a child to exist.
func (a *api) checkScope(c *Call) error {
	id := c.ID
	if id.Subscription != "" && !strings.EqualFold(id.Subscription, a.cfg.SubscriptionID) {
		return armError(http.StatusNotFound, "SubscriptionNotFound", "The subscription '"+id.Subscription+"' could not be found.")
	}
	isGroup := id.Key() == "microsoft.resources/resourcegroups" && !id.Collection() && c.Action == ""
	if id.ResourceGroup != "" && !(isGroup && (c.R.Method == http.MethodPut || c.R.Method == http.MethodHead)) {
		rg, err := a.cfg.Store.GetResourceGroup(id.ResourceGroup)
		if err != nil {
			return err
		}
		if rg == nil {
			return resourceGroupNotFound(id.ResourceGroup)
		}
	}
	if len(id.Types) < 2 {
		return nil
	}
	parent := id.Parent()
	l, ok := a.routes.routes[parent.Key()].(lookuper)
	if !ok {
		return nil
	}
	v, err := l.lookup(c.at(parent))
	if err != nil {
		return err
	}
	if v == nil {
		return resourceNotFound(parent)
	}
	c.parent = v
	return nil
}

// decode reads a JSON body strictly: unknown fields are tolerated (clients send read-only
// ones back) but malformed JSON and wrong types are 400 naming the problem.
func decode(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return armError(http.StatusBadRequest, "InvalidRequestContent", "The request content could not be read.")
	}
	return unmarshalBody(b, v)
}

// unmarshalBody reads a request body's JSON into v, or returns ARM's 400 InvalidRequestContent.
func unmarshalBody(b []byte, v any) error {
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(v); err != nil {
		return armError(http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "+err.Error())
	}
	return nil
}
