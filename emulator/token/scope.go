package token

import (
	"sort"
	"strings"
)

// Scope is a token scope: "repository:team/app:pull,push", "registry:catalog:*".
type Scope struct {
	Type    string
	Name    string
	Actions []string
}

// ParseScope parses one scope. Repository names contain '/' but never ':', so the type ends at
// the first ':' and the actions start after the last one (spec section 3.3).
func ParseScope(s string) (Scope, bool) {
	i, j := strings.Index(s, ":"), strings.LastIndex(s, ":")
	if i <= 0 || j == i || j == len(s)-1 {
		return Scope{}, false
	}
	var actions []string
	for _, a := range strings.Split(s[j+1:], ",") {
		if a = strings.TrimSpace(a); a != "" {
			actions = append(actions, a)
		}
	}
	return Scope{Type: s[:i], Name: s[i+1 : j], Actions: actions}, len(actions) > 0
}

// ParseScopes reads scopes given as repeated parameters and/or space-joined in one value (both
// forms occur: containers/image repeats, docker/ggcr/oras join with spaces). Invalid ones are
// dropped, as a registry grants only what it understands.
func ParseScopes(values []string) []Scope {
	var out []Scope
	for _, v := range values {
		for _, f := range strings.Fields(v) {
			if s, ok := ParseScope(f); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func (s Scope) String() string {
	return s.Type + ":" + s.Name + ":" + strings.Join(s.Actions, ",")
}

// AccessEntry is one element of an access token's "access" claim (docker distribution form).
type AccessEntry struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// covers reports whether entries grant every action of need on its resource; "*" grants all.
func covers(entries []AccessEntry, need Scope) bool {
	for _, action := range need.Actions {
		ok := false
		for _, e := range entries {
			if e.Type == need.Type && e.Name == need.Name && (contains(e.Actions, action) || contains(e.Actions, "*")) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// sortedActions returns the actions in the order ACR lists them in 401 details (pull before push).
func sortedActions(actions []string) []string {
	out := append([]string(nil), actions...)
	sort.Strings(out)
	return out
}
