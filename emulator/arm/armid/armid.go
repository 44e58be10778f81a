// Package armid parses Azure Resource Manager paths and resource ids. ARM compares the
// resource provider namespace and the type segments of a path without regard to case
// (resourceGroups and resourcegroups, Microsoft.ContainerRegistry and
// microsoft.containerregistry, webHooks and webhooks are the same), while names keep the
// caller's spelling (https://github.com/Azure/azure-resource-manager-rpc, "MUST preserve the
// casing provided by the user"). An ID keeps every segment as written; Key gives the
// case-insensitive type key to route on, and Respell rewrites the structural segments to
// a canonical spelling.
//
// The package has no dependencies beyond the standard library, so the simulated services'
// providers (fakes/...) can parse the ids they are given.
package armid

import (
	"errors"
	"strings"
)

// ResourcesNamespace is ARM's own provider: subscriptions, tenants, resource groups, the
// resources lists and the provider registrations, whose paths carry no providers segment.
const ResourcesNamespace = "Microsoft.Resources"

// ID is a parsed ARM path: the scope (subscription, resource group), then a resource type
// path under a provider namespace and the names along it.
//
//	/subscriptions/s/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/r/replications
//	  Subscription "s", ResourceGroup "rg", Namespace "Microsoft.ContainerRegistry",
//	  Types ["registries", "replications"], Names ["r"]: the replications collection of r.
//
// ARM's own paths (/subscriptions/s/resourceGroups/rg, /subscriptions/s/resources,
// /subscriptions/s/providers/NS) parse as Microsoft.Resources types: resourceGroups (named
// rg), resources, providers (named NS). An extension resource, such as a role assignment on a
// registry, has Scope set to the resource it extends.
type ID struct {
	Subscription  string
	ResourceGroup string
	Namespace     string
	// Types are the resource type segments; Names has one name per type, or one fewer when
	// the path ends at a collection (a list) or at an action on a resource (listCredentials).
	Types []string
	Names []string
	// Scope is the resource an extension resource lives on; nil for plain resources.
	Scope *ID
	// bare marks ARM's own paths, written without /providers/Microsoft.Resources.
	bare bool
}

// ErrNotARMPath means the path is not an ARM resource path.
var ErrNotARMPath = errors.New("not an ARM resource path")

// Parse parses an ARM path such as r.URL.Path. Leading slashes are collapsed: Azure SDKs
// send //subscriptions/... when a scope parameter begins with a slash, and ARM accepts it.
func Parse(path string) (ID, error) {
	p := strings.Trim(path, "/")
	if p == "" {
		return ID{}, ErrNotARMPath
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if s == "" {
			return ID{}, ErrNotARMPath
		}
	}
	switch {
	case eq(segs[0], "subscriptions"):
		return parseSubscription(segs[1:])
	case eq(segs[0], "tenants"):
		return builtin(ID{}, segs)
	case eq(segs[0], "providers"):
		return parseProvider(ID{}, segs)
	}
	return ID{}, ErrNotARMPath
}

func eq(a, b string) bool { return strings.EqualFold(a, b) }

func parseSubscription(segs []string) (ID, error) {
	if len(segs) == 0 {
		return ID{Namespace: ResourcesNamespace, Types: []string{"subscriptions"}, bare: true}, nil
	}
	id := ID{Subscription: segs[0]}
	rest := segs[1:]
	switch {
	case len(rest) == 0:
		return ID{Subscription: id.Subscription, Namespace: ResourcesNamespace, Types: []string{"subscriptions"},
			Names: []string{id.Subscription}, bare: true}, nil
	case eq(rest[0], "resourceGroups") && len(rest) >= 2:
		id.ResourceGroup = rest[1]
		if len(rest) > 2 && eq(rest[2], "providers") {
			return parseProvider(id, rest[2:])
		}
		return builtin(id, rest)
	case eq(rest[0], "providers") && len(rest) <= 2:
		// /subscriptions/s/providers lists the registrations, /providers/NS is one of them.
		return builtin(id, rest)
	case eq(rest[0], "providers") && len(rest) == 3 && (eq(rest[2], "register") || eq(rest[2], "unregister")):
		return builtin(id, rest)
	case eq(rest[0], "providers"):
		return parseProvider(id, rest)
	}
	return builtin(id, rest)
}

// builtin fills an ARM-own path (type, name, type, name...) into id.
func builtin(id ID, segs []string) (ID, error) {
	id.Namespace, id.bare = ResourcesNamespace, true
	return alternate(id, segs)
}

// parseProvider parses "providers/NS/type/name/type..." after the scope already in id; a
// further "providers" segment after a name starts an extension resource on what came before.
func parseProvider(id ID, segs []string) (ID, error) {
	if len(segs) < 2 {
		return ID{}, ErrNotARMPath
	}
	id.Namespace = segs[1]
	rest := segs[2:]
	for i := 0; i < len(rest); i += 2 {
		if i > 0 && eq(rest[i], "providers") {
			scope, err := alternate(id, rest[:i])
			if err != nil {
				return ID{}, err
			}
			return parseProvider(ID{Subscription: id.Subscription, ResourceGroup: id.ResourceGroup, Scope: &scope}, rest[i:])
		}
	}
	return alternate(id, rest)
}

func alternate(id ID, segs []string) (ID, error) {
	id.Types, id.Names = nil, nil
	for i, s := range segs {
		if i%2 == 0 {
			id.Types = append(id.Types, s)
		} else {
			id.Names = append(id.Names, s)
		}
	}
	return id, nil
}

// TypeName is the resource type as written, e.g. "Microsoft.ContainerRegistry/registries/replications".
func (id ID) TypeName() string {
	return strings.Join(append([]string{id.Namespace}, id.Types...), "/")
}

// Key is the type key to route on: the type name in lower case.
func (id ID) Key() string { return strings.ToLower(id.TypeName()) }

// Collection reports whether the path ends at a collection or an action (no name for the last type).
func (id ID) Collection() bool { return len(id.Names) < len(id.Types) }

// Name is the resource's own name ("" for a collection).
func (id ID) Name() string {
	if id.Collection() || len(id.Names) == 0 {
		return ""
	}
	return id.Names[len(id.Names)-1]
}

// Parent drops the last type (and its name): the replication's registry, the action's resource.
func (id ID) Parent() ID {
	p := id
	if len(p.Types) == 0 {
		return p
	}
	p.Types = p.Types[:len(p.Types)-1]
	if len(p.Names) > len(p.Types) {
		p.Names = p.Names[:len(p.Types)]
	}
	return p
}

// Resource is the id of the resource depth types deep along id (1: the top-level resource, the
// registry of …/registries/r/tasks/t); an extension resource's scope is kept.
func (id ID) Resource(depth int) ID {
	r := id
	depth = min(depth, len(id.Types), len(id.Names))
	r.Types, r.Names = id.Types[:depth:depth], id.Names[:depth:depth]
	return r
}

// Child returns the id of a child resource of type typ named name under id.
func (id ID) Child(typ, name string) ID {
	c := id
	c.Types = append(append([]string(nil), id.Types...), typ)
	c.Names = append(append([]string(nil), id.Names...), name)
	return c
}

// ScopePath is the scope a provider resource lives in: the resource an extension extends, or
// the resource group, the subscription, or "/" for tenant-level paths.
func (id ID) ScopePath() string {
	switch {
	case id.Scope != nil:
		return id.Scope.String()
	case id.ResourceGroup != "":
		return "/subscriptions/" + id.Subscription + "/resourceGroups/" + id.ResourceGroup
	case id.Subscription != "":
		return "/subscriptions/" + id.Subscription
	}
	return "/"
}

// String writes the path back: the structural words subscriptions, resourceGroups and
// providers as ARM writes them, namespace, types and names as they are in id.
func (id ID) String() string {
	var b strings.Builder
	switch {
	case !id.bare:
		if scope := id.ScopePath(); scope != "/" {
			b.WriteString(scope)
		}
		b.WriteString("/providers/" + id.Namespace)
	case id.Subscription != "" && (len(id.Types) == 0 || !eq(id.Types[0], "subscriptions")):
		b.WriteString("/subscriptions/" + id.Subscription)
	}
	for i, t := range id.Types {
		b.WriteString("/" + t)
		if i < len(id.Names) {
			b.WriteString("/" + id.Names[i])
		}
	}
	return b.String()
}

// Respell returns id with its namespace and types (and those of its scope) spelled by spell,
// which gets each in lower case and returns "" when it has no spelling for it. Names stay.
func (id ID) Respell(spell func(lower string) string) ID {
	out := id
	pick := func(s string) string {
		if v := spell(strings.ToLower(s)); v != "" {
			return v
		}
		return s
	}
	if !id.bare {
		out.Namespace = pick(id.Namespace)
	}
	out.Types = make([]string, len(id.Types))
	for i, t := range id.Types {
		out.Types[i] = pick(t)
	}
	if id.Scope != nil {
		s := id.Scope.Respell(spell)
		out.Scope = &s
	}
	return out
}
