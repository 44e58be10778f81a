package fidelity

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
)

// Data is the committed data file: the recordings the facts come from and, per recording, its
// interactions in recorded order.
type Data struct {
	// About says where the facts come from and how they were derived.
	About      string      `json:"about"`
	Recordings []Recording `json:"recordings"`
}

// Recording is one recording's derived interactions.
type Recording struct {
	Name string `json:"name"` // the file name without .yaml
	// Source is the repository and commit the recording was read at.
	Source string `json:"source,omitempty"`
	// Excerpt, when set, says which part of the recording the interactions cover.
	Excerpt      string        `json:"excerpt,omitempty"`
	Interactions []Interaction `json:"interactions"`
}

// Interaction is one request and the shape of its answer.
type Interaction struct {
	Method string `json:"method"`
	// Path is the request path with the subscription written {subscriptionId} and the names
	// as the recording has them (the replay uses them); Template abstracts the names too.
	Path       string `json:"path"`
	Template   string `json:"template"`
	APIVersion string `json:"apiVersion,omitempty"`
	// Query is the rest of the query string the request needs ($filter, $top).
	Query string `json:"query,omitempty"`
	// Family is the resource family the interaction belongs to (registries/agentPools).
	Family string `json:"family"`
	// Request is the request body, flattened (Flatten); RequestPaths are its key paths.
	Request      map[string]any `json:"request,omitempty"`
	RequestPaths []string       `json:"requestPaths,omitempty"`
	Status       int            `json:"status"`
	// Shape is the response body's key paths and types; ErrorCode the error.code of a failure.
	Shape     Shape  `json:"shape"`
	ErrorCode string `json:"errorCode,omitempty"`
	// Poll marks a GET of an async operation's URL: the replay polls the URL the emulator
	// handed out (Azure-AsyncOperation or Location) instead of Path.
	Poll string `json:"poll,omitempty"`
	// Setup marks a request of another provider that the recording's ACR requests need (the
	// virtual network and private endpoint of a private endpoint connection): replayed, its
	// status compared, its answer's shape not derived.
	Setup bool `json:"setup,omitempty"`
}

// setupFamilies are the other providers' resources an ACR request needs, replayed as setup.
var setupFamilies = map[string]bool{"Microsoft.Network/virtualNetworks": true, "Microsoft.Network/virtualNetworks/subnets": true,
	"Microsoft.Network/privateEndpoints": true}

// The subscription of every recording (the azure-cli test framework's placeholder).
const recordedSubscription = "00000000-0000-0000-0000-000000000000"

// vcr is the part of a vcrpy cassette the derivation reads.
type vcr struct {
	Source       string `yaml:"source"`
	Excerpt      string `yaml:"excerpt"`
	Interactions []struct {
		Request struct {
			Method string `yaml:"method"`
			URI    string `yaml:"uri"`
			Body   any    `yaml:"body"`
		} `yaml:"request"`
		Response struct {
			Status struct {
				Code int `yaml:"code"`
			} `yaml:"status"`
			Body struct {
				String any `yaml:"string"`
			} `yaml:"body"`
		} `yaml:"response"`
	} `yaml:"interactions"`
}

// Derive reads a vcrpy cassette and returns the interactions of the management plane's
// Microsoft.ContainerRegistry provider, user-assigned identities (Microsoft.ManagedIdentity, which
// a registry's identity names), resource groups, the generic resources list and, as setup
// (setupFamilies), the network resources a private endpoint connection needs, in
// order, each consecutive repeat of the same request with the same status and shape (az
// polling) kept once. Other providers (Microsoft.Network, Key Vault, Graph...) and storage
// are left out: the emulator's own families are what the test compares.
func Derive(name string, cassette []byte) (Recording, error) {
	var c vcr
	if err := yaml.Unmarshal(cassette, &c); err != nil {
		return Recording{}, fmt.Errorf("%s: %w", name, err)
	}
	rec := Recording{Name: name, Source: c.Source, Excerpt: c.Excerpt}
	for i, it := range c.Interactions {
		u, err := url.Parse(it.Request.URI)
		if err != nil {
			return rec, fmt.Errorf("%s: interaction %d: %w", name, i, err)
		}
		if !strings.EqualFold(u.Host, "management.azure.com") {
			continue
		}
		family, template, poll := Classify(u.Path)
		if family == "" {
			continue
		}
		in := Interaction{Method: strings.ToUpper(it.Request.Method), Path: subscriptionOut(u.EscapedPath()), Template: template,
			APIVersion: u.Query().Get("api-version"), Query: keptQuery(u.Query()), Family: family, Poll: poll,
			Status: it.Response.Status.Code}
		if body := text(it.Request.Body); body != "" {
			flat, err := Flatten([]byte(body))
			if err != nil {
				return rec, fmt.Errorf("%s: interaction %d: request body: %w", name, i, err)
			}
			in.Request = subscriptionOutAll(flat)
			for _, p := range ShapeOf([]byte(body)).Paths() {
				if p != "" {
					in.RequestPaths = append(in.RequestPaths, p)
				}
			}
		}
		resp := []byte(text(it.Response.Body.String))
		if in.Setup = setupFamilies[family]; in.Setup {
			resp = nil
		}
		in.Shape = ShapeOf(resp)
		if in.Status >= 400 {
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			_ = json.Unmarshal(resp, &e)
			in.ErrorCode = e.Error.Code
		}
		if n := len(rec.Interactions); n > 0 && same(rec.Interactions[n-1], in) {
			continue
		}
		rec.Interactions = append(rec.Interactions, in)
	}
	return rec, nil
}

// same tells a repeated poll or read from a new step.
func same(a, b Interaction) bool {
	if a.Method != b.Method || a.Template != b.Template || a.Status != b.Status || a.Method != "GET" || a.Query != b.Query {
		return false
	}
	ja, _ := json.Marshal(a.Shape)
	jb, _ := json.Marshal(b.Shape)
	return bytes.Equal(ja, jb)
}

func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return ""
}

func subscriptionOut(p string) string {
	return strings.ReplaceAll(p, "/subscriptions/"+recordedSubscription, "/subscriptions/{subscriptionId}")
}

// subscriptionOutAll writes the subscription {subscriptionId} in a flattened body's values and
// keys (a user-assigned identity's id is a key of identity.userAssignedIdentities).
func subscriptionOutAll(flat map[string]any) map[string]any {
	out := make(map[string]any, len(flat))
	for k, v := range flat {
		if s, ok := v.(string); ok {
			v = subscriptionOut(s)
		}
		out[subscriptionOut(k)] = v
	}
	return out
}

// keptQuery is the query a replay needs: everything but api-version and the signature of an
// operation URL (t, c, s, h).
func keptQuery(q url.Values) string {
	for _, k := range []string{"api-version", "t", "c", "s", "h"} {
		q.Del(k)
	}
	return q.Encode()
}

var guidRE = regexp.MustCompile(`(?i)^([a-z]+-)?[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// Classify names the family of a management path, its template (subscription, group and
// resource names abstracted) and, for an operation URL, how it is polled ("async" for
// …/operationStatuses/{id}, "location" for an operation result). "" is a path the test does
// not compare.
func Classify(path string) (family, template, poll string) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	var t []string
	i := 0
	if len(segs) >= 2 && strings.EqualFold(segs[0], "subscriptions") {
		t = append(t, "subscriptions", "{subscriptionId}")
		i = 2
	} else {
		return "", "", ""
	}
	rest := segs[i:]
	switch {
	case len(rest) == 1 && strings.EqualFold(rest[0], "resources"):
		return "resources", "/" + strings.Join(append(t, "resources"), "/"), ""
	case len(rest) >= 2 && strings.EqualFold(rest[0], "resourceGroups"):
		t = append(t, "resourceGroups", "{resourceGroupName}")
		rest = rest[2:]
		if len(rest) == 0 {
			return "resourceGroups", "/" + strings.Join(t, "/"), ""
		}
	}
	if len(rest) == 4 && strings.EqualFold(rest[0], "providers") && strings.EqualFold(rest[1], "Microsoft.ManagedIdentity") &&
		strings.EqualFold(rest[2], "userAssignedIdentities") {
		// the identities a registry is given (az identity create, then az acr create --identity)
		const typ = "Microsoft.ManagedIdentity/userAssignedIdentities"
		return typ, "/" + strings.Join(append(t, "providers", typ, "{resourceName}"), "/"), ""
	}
	if len(rest) >= 4 && strings.EqualFold(rest[0], "providers") && strings.EqualFold(rest[1], "Microsoft.Network") {
		for typ := range setupFamilies {
			segs := strings.Split(strings.TrimPrefix(typ, "Microsoft.Network/"), "/")
			if len(rest) != 2+2*len(segs) {
				continue
			}
			tmpl, ok := append(t, "providers", "Microsoft.Network"), true
			for j, seg := range segs {
				ok = ok && strings.EqualFold(rest[2+2*j], seg)
				tmpl = append(tmpl, seg, "{"+singular(seg)+"Name}")
			}
			if ok {
				return typ, "/" + strings.Join(tmpl, "/"), ""
			}
		}
		return "", "", ""
	}
	if len(rest) < 2 || !strings.EqualFold(rest[0], "providers") || !strings.EqualFold(rest[1], "Microsoft.ContainerRegistry") {
		return "", "", ""
	}
	t = append(t, "providers", "Microsoft.ContainerRegistry")
	rest = rest[2:]
	var types []string
	for j := 0; j < len(rest); j += 2 {
		typ := rest[j]
		t = append(t, typ)
		if j+1 >= len(rest) {
			types = append(types, typ) // a collection or an action
			break
		}
		name := rest[j+1]
		switch {
		case strings.EqualFold(typ, "operationStatuses"), strings.EqualFold(typ, "operationResults"), strings.HasSuffix(typ, "OperationResults"):
			t = append(t, "{operationId}")
			types = append(types, typ)
			if strings.EqualFold(typ, "operationStatuses") {
				poll = "async"
			} else {
				poll = "location"
			}
			if j+2 < len(rest) { // agentPoolsOperationResults/{id}/status
				t = append(t, rest[j+2:]...)
				types = append(types, rest[j+2:]...)
			}
			j = len(rest)
			continue
		case guidRE.MatchString(name):
			t = append(t, "{id}")
		default:
			t = append(t, "{"+singular(typ)+"Name}")
		}
		types = append(types, typ)
	}
	return strings.Join(types, "/"), "/" + strings.Join(t, "/"), poll
}

// singular names a type's name parameter as the REST specs do (registries → registryName).
func singular(typ string) string {
	switch {
	case strings.HasSuffix(typ, "ies"):
		return strings.TrimSuffix(typ, "ies") + "y"
	case strings.HasSuffix(typ, "s"):
		return strings.TrimSuffix(typ, "s")
	}
	return typ
}
