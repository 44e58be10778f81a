package rbac

import (
	"errors"
	"fmt"
	"strings"
)

// Scope maps: the permissions of ACR's repository-scoped ("non-Entra") tokens
// (https://learn.microsoft.com/azure/container-registry/container-registry-repository-scoped-permissions).
// A scope map lists actions of the form repositories/<repository>/<content|metadata>/<verb>;
// <repository> may be *, every repository, or end in /*, every repository under that prefix.
// Rules add up: a repository gets the actions of every rule that matches it. Tokens never list
// the catalog ("Repository-scoped permissions do not support the ability to list the catalog
// of all repositories in the registry"). gateway/<connected registry>/<config|message>/<verb>
// actions are accepted and kept (connected registries) but grant nothing on the data plane.

// ScopeMapDef is a scope map's definition: what the system-defined ones are and what a token
// is evaluated against.
type ScopeMapDef struct {
	Name, Description string
	Actions           []string
}

// Bounds on a scope map (the same for every tier: container-registry-skus.md).
const (
	MaxScopeMapActions      = 500
	MaxScopeMapRepositories = 500
	MaxScopeMapDescription  = 256
)

// MaxPerRegistry is how many scope maps, and how many tokens, a registry of a service tier
// holds (container-registry-skus.md: 100 on Basic, 500 on Standard, 50,000 on Premium).
func MaxPerRegistry(sku string) int {
	switch sku {
	case "Basic":
		return 100
	case "Standard":
		return 500
	}
	return 50000
}

const (
	allRead  = "repositories/*/content/read"
	allWrite = "repositories/*/content/write"
	metaRead = "repositories/*/metadata/read"
	metaWrt  = "repositories/*/metadata/write"
)

// BuiltInScopeMaps are the system-defined scope maps every registry has, with the names,
// descriptions and actions Azure lists for them (as exported from a real registry).
func BuiltInScopeMaps() []ScopeMapDef {
	return []ScopeMapDef{
		{Name: "_repositories_admin", Description: "Can perform all read, write and delete operations on the registry",
			Actions: []string{metaRead, metaWrt, allRead, allWrite, "repositories/*/content/delete"}},
		{Name: "_repositories_pull", Description: "Can pull any repository of the registry", Actions: []string{allRead}},
		{Name: "_repositories_pull_metadata_read", Description: "Can perform all read operations on the registry",
			Actions: []string{allRead, metaRead}},
		{Name: "_repositories_push", Description: "Can push to any repository of the registry", Actions: []string{allRead, allWrite}},
		{Name: "_repositories_push_metadata_write", Description: "Can perform all read and write operations on the registry",
			Actions: []string{metaRead, metaWrt, allRead, allWrite}},
	}
}

// BuiltInScopeMap finds a system-defined scope map by name, in any case.
func BuiltInScopeMap(name string) (ScopeMapDef, bool) {
	for _, d := range BuiltInScopeMaps() {
		if strings.EqualFold(d.Name, name) {
			return d, true
		}
	}
	return ScopeMapDef{}, false
}

// The data-plane action each repository permission grants.
var permissionActions = map[string]string{
	"content/read": ActionPull, "content/write": ActionPush, "content/delete": ActionDelete,
	"metadata/read": ActionMetadataRead, "metadata/write": ActionMetadataWrite,
}

var gatewayPermissions = map[string]bool{"config/read": true, "config/write": true, "message/read": true, "message/write": true,
	"messages/read": true, "messages/write": true}

// scopeRule is one parsed repository action.
type scopeRule struct {
	repo   string // lowercase; "" with all
	prefix bool   // repo ends with "/" and matches every repository below it
	all    bool   // repositories/*
	action string // the data-plane action (pull, push...)
}

// pattern is the repository part of the rule as written (lowercase).
func (r scopeRule) pattern() string {
	switch {
	case r.all:
		return "*"
	case r.prefix:
		return r.repo + "*"
	}
	return r.repo
}

func (r scopeRule) matches(repo string) bool {
	repo = strings.ToLower(repo)
	switch {
	case r.all:
		return true
	case r.prefix:
		return strings.HasPrefix(repo, r.repo)
	}
	return repo == r.repo
}

var errNotRepository = errors.New("not a repository action")

// parseScopeAction parses one action; a gateway action gives no rule and no error.
func parseScopeAction(a string) (scopeRule, error) {
	low := strings.ToLower(a)
	rest, isRepo := strings.CutPrefix(low, "repositories/")
	if !isRepo {
		rest, ok := strings.CutPrefix(low, "gateway/")
		if !ok {
			rest, ok = strings.CutPrefix(low, "gateways/")
		}
		if ok {
			name, perm, found := cutLastTwo(rest)
			if found && name != "" && !strings.Contains(name, "/") && gatewayPermissions[perm] {
				return scopeRule{}, errNotRepository
			}
		}
		return scopeRule{}, fmt.Errorf("the action '%s' is not valid: actions are repositories/<repository>/<content|metadata>/<permission>", a)
	}
	repo, perm, found := cutLastTwo(rest)
	action, known := permissionActions[perm]
	if !found || !known {
		return scopeRule{}, fmt.Errorf("the action '%s' is not valid: the permissions are content/read, content/write, content/delete, metadata/read and metadata/write", a)
	}
	switch {
	case repo == "*":
		return scopeRule{all: true, action: action}, nil
	case strings.Count(repo, "*") > 1 || (strings.Contains(repo, "*") && !strings.HasSuffix(repo, "/*")):
		return scopeRule{}, fmt.Errorf("the repository '%s' of the action '%s' is not valid: a wildcard must be the last segment (<prefix>/*) and appear once", repo, a)
	case strings.HasSuffix(repo, "/*"):
		prefix := strings.TrimSuffix(repo, "*")
		if !repositoryNameOK(strings.TrimSuffix(prefix, "/")) {
			return scopeRule{}, fmt.Errorf("the repository '%s' of the action '%s' is not valid", repo, a)
		}
		return scopeRule{repo: prefix, prefix: true, action: action}, nil
	}
	if !repositoryNameOK(repo) {
		return scopeRule{}, fmt.Errorf("the repository '%s' of the action '%s' is not valid", repo, a)
	}
	return scopeRule{repo: repo, action: action}, nil
}

// cutLastTwo splits "a/b/c/d" into "a/b" and "c/d".
func cutLastTwo(s string) (head, tail string, ok bool) {
	i := strings.LastIndex(s, "/")
	if i <= 0 {
		return "", "", false
	}
	j := strings.LastIndex(s[:i], "/")
	if j <= 0 {
		return "", "", false
	}
	return s[:j], s[j+1:], true
}

// repositoryNameOK accepts a (lowercased) repository path: slash-separated components of
// letters, digits and the separators . _ -, each starting and ending with a letter or digit.
func repositoryNameOK(repo string) bool {
	if repo == "" || len(repo) > 256 {
		return false
	}
	for _, comp := range strings.Split(repo, "/") {
		if comp == "" {
			return false
		}
		for i, c := range comp {
			alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
			if !alnum && (i == 0 || i == len(comp)-1 || (c != '.' && c != '_' && c != '-')) {
				return false
			}
		}
	}
	return true
}

// ValidateScopeMapActions checks a scope map's actions as ARM does before storing them: at
// least one, every one well formed, within the bounds on actions and repositories.
func ValidateScopeMapActions(actions []string) error {
	if len(actions) == 0 {
		return errors.New("a scope map needs at least one action")
	}
	if len(actions) > MaxScopeMapActions {
		return fmt.Errorf("a scope map can have at most %d actions; %d were given", MaxScopeMapActions, len(actions))
	}
	repos := map[string]bool{}
	for _, a := range actions {
		r, err := parseScopeAction(a)
		if errors.Is(err, errNotRepository) {
			continue
		}
		if err != nil {
			return err
		}
		repos[r.pattern()] = true
	}
	if len(repos) > MaxScopeMapRepositories {
		return fmt.Errorf("a scope map can name at most %d repositories; %d were given", MaxScopeMapRepositories, len(repos))
	}
	return nil
}

// TokenGrant is what a repository-scoped token may do on its registry's data plane.
type TokenGrant struct {
	rules []scopeRule
}

// ScopeMapGrant evaluates a scope map's actions; malformed ones grant nothing.
func ScopeMapGrant(actions []string) TokenGrant {
	var g TokenGrant
	for _, a := range actions {
		if r, err := parseScopeAction(a); err == nil {
			g.rules = append(g.rules, r)
		}
	}
	return g
}

// Allowed reports whether a data-plane action (pull, push, delete, metadata_read,
// metadata_write) is permitted on repository repo.
func (g TokenGrant) Allowed(repo, action string) bool {
	for _, r := range g.rules {
		if r.action == action && r.matches(repo) {
			return true
		}
	}
	return false
}

// Any reports whether the token may do anything at all.
func (g TokenGrant) Any() bool { return len(g.rules) > 0 }
