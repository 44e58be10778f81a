package platform

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/fakes/armio"
)

// Workload declares a resource type of a simulated service that runs images: a PUT attaches
// the identities the body asks for, pulls the images it names (Puller), and answers the
// resource in ARM JSON, which GET and the list then return; DELETE forgets it and its
// children. A new service is a declaration of its body type and three functions.
type Workload[T any] struct {
	// Type is the resource type ("Microsoft.ContainerInstance/containerGroups"): what the
	// Server routes, Attach records and 404s name. A child's Type is relative to its parent's
	// ("onlineEndpoints/deployments").
	Type string
	// Children are types under this one (ML's deployments and jobs): they have no identities
	// of their own and pull with this resource's.
	Children []Resource
	// Origin is where identity pulls come from (a network.Service* name); whether it is
	// trusted is the network's decision. PublicOrigin is that of username/password and
	// anonymous pulls ("": Origin).
	Origin, PublicOrigin string
	// Noun is what a resource is called in refusals ("container group").
	Noun string
	// Identity is what a body asks for: a system-assigned identity, user-assigned ones by ARM
	// id. nil: the resource has none (a child has its parent's).
	Identity func(b *T) (system bool, user []string)
	// Prepare, when set, runs after Attach and before the pulls: what the service derives for
	// the resource, kept in its body (AKS creates the kubelet identity). An error refuses the
	// request.
	Prepare func(r Request[T]) error
	// Pulls lists the images a PUT pulls (nil: none); an error (an *Error) refuses the
	// request before anything is kept.
	Pulls func(r Request[T]) ([]Pull, error)
	// Outcome is the resource as ARM answers it (and GET returns it), given what the pulls did.
	Outcome func(r Request[T], pulls []PullResult) any
	// Failure, when set, is the error the PUT's asynchronous operation ends with (nil: it
	// succeeded), as services that provision asynchronously report a failed pull (Container
	// Apps). The resource is kept either way, as ARM keeps a Failed resource.
	Failure func(r Request[T], pulls []PullResult) *Error
	// Deleted, when set, runs after a resource is forgotten (AKS removes the kubelet identity
	// it created).
	Deleted func(p Platform, k *Kept) error
}

// Request is one PUT of a Workload, as its functions see it.
type Request[T any] struct {
	ID   armid.ID // the resource, names as the caller wrote them
	Body *T
	// Identities are the resource's, or for a child its parent's.
	Identities Identities
	// Parent is a child's parent resource (nil for a top-level one).
	Parent       *Kept
	TenantID     string
	CurrentAzure bool
	// Find looks up another kept resource by id (a container app's environment), nil when
	// there is none.
	Find func(id string) *Kept
	// Context is the request's (it carries the ARM caller); Platform is the emulator's.
	Context  context.Context
	Platform Platform
}

// Kept is a resource the Server keeps: the body as it was decoded, the answer, the identities.
type Kept struct {
	ID         string
	Body       any // *T
	JSON       any
	Identities Identities
}

// Resource is a declaration the Server serves (a *Workload).
type Resource interface {
	declaration() (typ string, children []Resource)
	serve(s *Server, c call) error
}

// call is one request for a declared type.
type call struct {
	w     http.ResponseWriter
	r     *http.Request
	id    armid.ID
	typ   string // the full declared type
	child bool   // declared under another type
}

// OperationErrorHeader carries a PUT's asynchronous-operation error from a simulated service
// to the management plane's router, which records it in the operation the client polls and
// drops the header (emulator/arm/router.go reads the same name).
const OperationErrorHeader = "X-Acr-Emulator-Operation-Error"

// Server serves declared resource types and keeps their resources in memory, by lowercase
// id with the caller's casing kept. Errors are written once, in ARM's envelope.
type Server struct {
	p      Platform
	routes map[string]route // by lowercase type
	mu     sync.Mutex
	kept   map[string]*Kept // by lowercase id
	// Extra serves paths under a kept resource that no declaration covers (AKS's
	// runCommand); nil: 404.
	Extra func(w http.ResponseWriter, r *http.Request, id armid.ID) error
}

type route struct {
	res   Resource
	typ   string
	child bool
}

// Serve returns a Server for the declarations (and their children). It panics on a type
// declared twice, a mistake any test that builds it finds.
func Serve(p Platform, rs ...Resource) *Server {
	s := &Server{p: p, routes: map[string]route{}, kept: map[string]*Kept{}}
	var add func(prefix string, r Resource)
	add = func(prefix string, r Resource) {
		typ, children := r.declaration()
		if prefix != "" {
			typ = prefix + "/" + typ
		}
		key := strings.ToLower(typ)
		if _, dup := s.routes[key]; dup {
			panic("platform: type " + typ + " declared twice")
		}
		s.routes[key] = route{res: r, typ: typ, child: prefix != ""}
		for _, c := range children {
			add(typ, c)
		}
	}
	for _, r := range rs {
		add("", r)
	}
	return s
}

// Get returns a kept resource by id (any case), nil when there is none.
func (s *Server) Get(id string) *Kept {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.kept[strings.ToLower(id)]
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := s.route(w, r); err != nil {
		WriteError(w, err)
	}
}

// WriteError answers err in ARM's envelope: an *Error with its status, anything else 500.
func WriteError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Code: "InternalServerError", Message: err.Error()}
	}
	armio.Error(w, e.Status, e.Code, e.Message)
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) error {
	id, err := armid.Parse(r.URL.Path)
	if err != nil {
		return Errorf(http.StatusNotFound, "NotFound", "The requested resource does not exist or is not supported by the emulator: %s %s", r.Method, r.URL.Path)
	}
	rt, ok := s.routes[id.Key()]
	if !ok {
		if s.Extra != nil {
			return s.Extra(w, r, id)
		}
		return Errorf(http.StatusNotFound, "NotFound", "The requested resource does not exist or is not supported by the emulator: %s %s", r.Method, r.URL.Path)
	}
	return rt.res.serve(s, call{w: w, r: r, id: id, typ: rt.typ, child: rt.child})
}

func (wl *Workload[T]) declaration() (string, []Resource) { return wl.Type, wl.Children }

func (wl *Workload[T]) serve(s *Server, c call) error {
	switch {
	case c.id.Collection() && c.r.Method == http.MethodGet:
		return s.list(c)
	case c.id.Collection():
		return methodNotAllowed(c.r.Method)
	}
	switch c.r.Method {
	case http.MethodGet:
		k := s.Get(c.id.String())
		if k == nil {
			return NotFound(c.id)
		}
		armio.WriteJSON(c.w, http.StatusOK, k.JSON)
		return nil
	case http.MethodPut:
		return wl.put(s, c)
	case http.MethodDelete:
		return wl.delete(s, c)
	}
	return methodNotAllowed(c.r.Method)
}

// put attaches, pulls and keeps one resource.
func (wl *Workload[T]) put(s *Server, c call) error {
	var b T
	if err := armio.Read(c.r, &b); err != nil {
		return BadRequest("InvalidRequestContent", "%s", err)
	}
	req := Request[T]{ID: c.id, Body: &b, TenantID: s.p.TenantID(), CurrentAzure: s.p.CurrentAzure(), Find: s.Get,
		Context: c.r.Context(), Platform: s.p}
	id := c.id.String()
	switch {
	case c.child:
		parent := s.ancestor(c.id)
		if parent == nil {
			return NotFound(c.id.Resource(1))
		}
		req.Parent, req.Identities = parent, parent.Identities
	case wl.Identity != nil:
		system, user := wl.Identity(&b)
		ids, err := s.p.Attach(c.r.Context(), c.typ, id, system, user)
		if err != nil {
			return err
		}
		req.Identities = ids
	}
	if wl.Prepare != nil {
		if err := wl.Prepare(req); err != nil {
			return err
		}
	}
	var pulls []Pull
	if wl.Pulls != nil {
		var err error
		if pulls, err = wl.Pulls(req); err != nil {
			return err
		}
	}
	pl := Puller{Platform: s.p, Origin: wl.Origin, PublicOrigin: wl.PublicOrigin, Identities: req.Identities, Noun: wl.Noun}
	results := make([]PullResult, len(pulls))
	for i, p := range pulls {
		results[i] = pl.Pull(c.r.Context(), p)
	}
	k := &Kept{ID: id, Body: &b, JSON: wl.Outcome(req, results), Identities: req.Identities}
	s.mu.Lock()
	_, existed := s.kept[strings.ToLower(id)]
	s.kept[strings.ToLower(id)] = k
	s.mu.Unlock()
	status := http.StatusCreated
	if existed {
		status = http.StatusOK
	}
	if wl.Failure != nil {
		if e := wl.Failure(req, results); e != nil {
			b, _ := json.Marshal(map[string]string{"code": e.Code, "message": e.Message})
			c.w.Header().Set(OperationErrorHeader, string(b))
		}
	}
	armio.WriteJSON(c.w, status, k.JSON)
	return nil
}

// ancestor is the nearest kept resource above id (a child's parent, or its grandparent when
// the level between is not a resource of its own, as ML's onlineEndpoints).
func (s *Server) ancestor(id armid.ID) *Kept {
	for p := id.Parent(); len(p.Types) > 0; p = p.Parent() {
		if !p.Collection() {
			if k := s.Get(p.String()); k != nil {
				return k
			}
		}
	}
	return nil
}

// list answers a collection: the kept resources of its type under its scope, in id order.
func (s *Server) list(c call) error {
	prefix := strings.ToLower(c.id.String()) + "/"
	s.mu.Lock()
	out := []any{}
	var ids []string
	for id := range s.kept {
		if strings.HasPrefix(id, prefix) && !strings.Contains(id[len(prefix):], "/") {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		out = append(out, s.kept[id].JSON)
	}
	s.mu.Unlock()
	armio.WriteJSON(c.w, http.StatusOK, map[string]any{"value": out})
	return nil
}

// delete forgets a resource and everything under it: 200, or 204 when there was none, as ARM
// answers. A resource with identities gives its system-assigned one back.
func (wl *Workload[T]) delete(s *Server, c call) error {
	id := strings.ToLower(c.id.String())
	s.mu.Lock()
	k, ok := s.kept[id]
	for key := range s.kept {
		if key == id || strings.HasPrefix(key, id+"/") {
			delete(s.kept, key)
		}
	}
	s.mu.Unlock()
	if !ok {
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	if wl.Identity != nil && !c.child {
		if err := s.p.Detach(c.id.String()); err != nil {
			return err
		}
	}
	if wl.Deleted != nil {
		if err := wl.Deleted(s.p, k); err != nil {
			return err
		}
	}
	c.w.WriteHeader(http.StatusOK)
	return nil
}

func methodNotAllowed(method string) error {
	return Errorf(http.StatusMethodNotAllowed, "MethodNotAllowed", "The requested resource does not support http method '%s'.", method)
}
