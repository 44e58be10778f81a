// Package fidelity holds the facts the fidelity test compares the emulator against, derived
// from the Azure CLI's recordings of real Azure (Azure/azure-cli,
// src/azure-cli/azure/cli/command_modules/acr/tests/latest/recordings): per interaction the
// method, the path with its names and the path template with them abstracted, the
// api-version, the request body az sent (flattened to key paths, so it can be replayed), the
// response status and the response body's key paths with their JSON types. No response value
// is kept but the error code of a failed call: the shape is the contract.
//
// Derive (derive.go) turns a recording into that data; Compare (compare.go) checks an answer
// against it. cmd derive (derive/) writes testdata/shapes.json, the committed data file.
package fidelity

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// JSON types as the shape records them.
const (
	TypeString = "string"
	TypeNumber = "number"
	TypeBool   = "bool"
	TypeObject = "object"
	TypeArray  = "array"
	TypeNull   = "null"
	// TypeEmpty is a response without a body.
	TypeEmpty = "empty"
	// TypeText is a body that is not JSON.
	TypeText = "text"
)

// Shape is a JSON document's key paths and the type at each: "" is the root, objects add
// ".key", array elements "[]" (the union over the elements). Keys that are data rather than
// schema (tags, login servers, resource ids keying a map) are written "{}".
type Shape map[string]string

// identKey is a key the schema names; anything else is data.
var identKey = regexp.MustCompile(`^[A-Za-z_$@][A-Za-z0-9_$@-]*$`)

// dataMaps are objects whose keys are always data, whatever they look like.
var dataMaps = []string{"tags", "userAssignedIdentities", "customRegistries", "value[].tags"}

// ShapeOf derives the shape of a response body.
func ShapeOf(body []byte) Shape {
	s := Shape{}
	if len(strings.TrimSpace(string(body))) == 0 {
		s[""] = TypeEmpty
		return s
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		s[""] = TypeText
		return s
	}
	walk(s, "", v)
	return s
}

func walk(s Shape, path string, v any) {
	switch x := v.(type) {
	case map[string]any:
		s[path] = TypeObject
		dataMap := slices.ContainsFunc(dataMaps, func(m string) bool { return path == m || strings.HasSuffix(path, "."+m) })
		for k, e := range x {
			key := k
			if dataMap || !identKey.MatchString(k) {
				key = "{}"
			}
			walk(s, join(path, key), e)
		}
	case []any:
		s[path] = TypeArray
		for _, e := range x {
			walk(s, path+"[]", e)
		}
	case string:
		s[path] = TypeString
	case float64:
		s[path] = TypeNumber
	case bool:
		s[path] = TypeBool
	case nil:
		s[path] = TypeNull
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Paths are the shape's key paths, sorted.
func (s Shape) Paths() []string {
	out := make([]string, 0, len(s))
	for p := range s {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// Flatten writes a request body as its scalar leaves by key path ("properties.sku.name":
// "Premium"; arrays as "[0]", "[1]"), so the data file holds what az sent without holding a
// JSON document, and Unflatten rebuilds it for the replay. Empty objects and arrays are kept
// as {} and [] leaves.
func Flatten(body []byte) (map[string]any, error) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, err
	}
	out := map[string]any{}
	flatten(out, "", v)
	return out, nil
}

func flatten(out map[string]any, path string, v any) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 0 {
			out[path] = map[string]any{}
		}
		for k, e := range x {
			flatten(out, flatKey(path, k), e)
		}
	case []any:
		if len(x) == 0 {
			out[path] = []any{}
		}
		for i, e := range x {
			flatten(out, fmt.Sprintf("%s[%d]", path, i), e)
		}
	default:
		out[path] = x
	}
}

// flatKey joins a key, quoting one with a dot or a bracket ("customRegistries.'a.azurecr.io'").
func flatKey(path, k string) string {
	if strings.ContainsAny(k, ".[]'") {
		k = "'" + k + "'"
	}
	if path == "" {
		return k
	}
	return path + "." + k
}

// Unflatten rebuilds the JSON document Flatten took apart.
func Unflatten(flat map[string]any) ([]byte, error) {
	if flat == nil {
		return nil, nil
	}
	var root any
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		steps, err := splitFlat(k)
		if err != nil {
			return nil, err
		}
		root = set(root, steps, flat[k])
	}
	return json.Marshal(root)
}

// step is one key ("" index -1) or array index of a flattened path.
type step struct {
	key   string
	index int
}

func splitFlat(k string) ([]step, error) {
	var out []step
	for len(k) > 0 {
		switch {
		case k[0] == '.':
			k = k[1:]
		case k[0] == '[':
			end := strings.IndexByte(k, ']')
			if end < 0 {
				return nil, fmt.Errorf("fidelity: bad flattened key %q", k)
			}
			var i int
			if _, err := fmt.Sscanf(k[1:end], "%d", &i); err != nil {
				return nil, fmt.Errorf("fidelity: bad index in %q", k)
			}
			out = append(out, step{index: i})
			k = k[end+1:]
		case k[0] == '\'':
			end := strings.IndexByte(k[1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("fidelity: unterminated quote in %q", k)
			}
			out = append(out, step{key: k[1 : end+1], index: -1})
			k = k[end+2:]
		default:
			end := strings.IndexAny(k, ".[")
			if end < 0 {
				end = len(k)
			}
			out = append(out, step{key: k[:end], index: -1})
			k = k[end:]
		}
	}
	return out, nil
}

func set(node any, steps []step, v any) any {
	if len(steps) == 0 {
		if node != nil { // an empty container leaf under keys already set
			return node
		}
		return v
	}
	s := steps[0]
	if s.index < 0 {
		m, _ := node.(map[string]any)
		if m == nil {
			m = map[string]any{}
		}
		m[s.key] = set(m[s.key], steps[1:], v)
		return m
	}
	a, _ := node.([]any)
	for len(a) <= s.index {
		a = append(a, nil)
	}
	a[s.index] = set(a[s.index], steps[1:], v)
	return a
}
