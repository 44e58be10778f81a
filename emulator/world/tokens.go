package world

import (
	"fmt"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/rbac"
)

// ScopeMap is a registry's scope map (registries/scopeMaps): repository actions such as
// repositories/<repository>/content/read, checked as ARM checks them. The system-defined scope
// maps (_repositories_pull...) every registry has need no declaring.
type ScopeMap struct {
	Name        string   `json:"name" yaml:"name"`
	Description string   `json:"description,omitempty" yaml:"description,omitempty"`
	Actions     []string `json:"actions" yaml:"actions"`
}

// Token is a registry's repository-scoped token (registries/tokens): its name is the user
// name, password1 and password2 its passwords. Azure only generates token passwords; a world
// names them, so that scripts and compose files can use them as they use the admin user's.
type Token struct {
	Name string `json:"name" yaml:"name"`
	// ScopeMap names one of the registry's scope maps or a system-defined one.
	ScopeMap  string `json:"scopeMap" yaml:"scopeMap"`
	Status    string `json:"status,omitempty" yaml:"status,omitempty"` // enabled (default) or disabled
	Password1 string `json:"password1,omitempty" yaml:"password1,omitempty"`
	Password2 string `json:"password2,omitempty" yaml:"password2,omitempty"`
}

// maxPasswordLength bounds a world token's password (input bound).
const maxPasswordLength = 256

func validateTokens(p *problems, f string, r *Registry) {
	max := rbac.MaxPerRegistry(r.SKU)
	if len(r.ScopeMaps) > max {
		p.add(f+".scopeMaps", "at most %d scope maps on a %s registry", max, r.SKU)
	}
	if len(r.Tokens) > max {
		p.add(f+".tokens", "at most %d tokens on a %s registry", max, r.SKU)
	}
	maps := map[string]bool{}
	for i := range r.ScopeMaps {
		m := &r.ScopeMaps[i]
		mf := fmt.Sprintf("%s.scopeMaps[%d]", f, i)
		_, builtIn := rbac.BuiltInScopeMap(m.Name)
		switch {
		case !taskNameRE.MatchString(m.Name):
			p.add(mf+".name", "%q must be 5-50 letters, digits, hyphens and underscores", m.Name)
		case builtIn:
			p.add(mf+".name", "%q is a system-defined scope map, which every registry has", m.Name)
		case maps[strings.ToLower(m.Name)]:
			p.add(mf+".name", "%q is defined twice", m.Name)
		}
		maps[strings.ToLower(m.Name)] = true
		if len(m.Description) > rbac.MaxScopeMapDescription {
			p.add(mf+".description", "at most %d characters", rbac.MaxScopeMapDescription)
		}
		if err := rbac.ValidateScopeMapActions(m.Actions); err != nil {
			p.add(mf+".actions", "%v", err)
		}
	}
	tokens := map[string]bool{}
	for i := range r.Tokens {
		t := &r.Tokens[i]
		tf := fmt.Sprintf("%s.tokens[%d]", f, i)
		switch {
		case !taskNameRE.MatchString(t.Name):
			p.add(tf+".name", "%q must be 5-50 letters, digits, hyphens and underscores", t.Name)
		case tokens[strings.ToLower(t.Name)]:
			p.add(tf+".name", "%q is defined twice", t.Name)
		}
		tokens[strings.ToLower(t.Name)] = true
		if _, builtIn := rbac.BuiltInScopeMap(t.ScopeMap); !builtIn && !maps[strings.ToLower(t.ScopeMap)] {
			p.add(tf+".scopeMap", "%q is neither a scope map of this registry nor a system-defined one (_repositories_pull...)", t.ScopeMap)
		}
		defaultEnum(p, tf+".status", &t.Status, []string{"enabled", "disabled"})
		for _, pw := range [][2]string{{"password1", t.Password1}, {"password2", t.Password2}} {
			if len(pw[1]) > maxPasswordLength {
				p.add(tf+"."+pw[0], "at most %d characters", maxPasswordLength)
			}
		}
	}
}
