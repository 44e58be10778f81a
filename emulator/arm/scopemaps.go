package arm

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/rbac"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Microsoft.ContainerRegistry/registries/scopeMaps: the repository permissions of tokens
// (https://learn.microsoft.com/azure/container-registry/container-registry-repository-scoped-permissions),
// on every tier. Every registry also has the system-defined scope maps (rbac.BuiltInScopeMaps),
// listed with the others, type SystemDefined, which cannot be changed or deleted. Shapes and
// statuses follow the az CLI's recording test_repository_token_create (api-version
// 2020-11-01-preview): a PUT is answered 200 with the scope map, nothing to poll; the type is
// UserDefined; a description appears only when there is one. The refusals' codes and texts are
// UNCONFIRMED.

const scopeMapType = registryType + "/scopeMaps"

func (a *api) scopeMaps() *Kind[store.ScopeMap] {
	return &Kind[store.ScopeMap]{Type: scopeMapType, Actions: crud(scopeMapType), LRO: Done,
		Get:      a.getScopeMap,
		List:     func(c *Call) ([]*store.ScopeMap, error) { return a.scopeMapsOf(c.Registry()) },
		Decode:   a.decodeScopeMap,
		Validate: a.validateScopeMap,
		Save: func(c *Call, old, next *store.ScopeMap) error {
			next.System = touch(next.System, c.Caller, old == nil)
			return a.cfg.Store.PutScopeMap(next)
		},
		Delete: func(c *Call, m *store.ScopeMap) error {
			if err := refuseSystemDefined(m.Name); err != nil {
				return err
			}
			return a.cfg.Store.DeleteScopeMap(m.Registry, m.Name)
		},
		JSON:     func(c *Call, m *store.ScopeMap) any { return scopeMapJSON(c.Registry(), m) },
		NotFound: childNotFound,
	}
}

// childNotFound is a missing scope map or token, with the envelope's "status":"Failed" the
// recording shows (2020-11-01-preview).
func childNotFound(c *Call) error {
	e := armError(http.StatusNotFound, "ResourceNotFound", "The resource "+c.ID.Name()+" could not be found.")
	e.EnvelopeStatus = "Failed"
	return e
}

// builtInScopeMap is a system-defined scope map as a registry has it: created with the registry.
func builtInScopeMap(reg *store.Registry, d rbac.ScopeMapDef) *store.ScopeMap {
	return &store.ScopeMap{Registry: reg.Name, Name: d.Name, Description: d.Description, Actions: d.Actions,
		CreatedAt: reg.CreatedAt, System: store.SystemData{CreatedAt: registrySystem(reg).CreatedAt}}
}

func (a *api) getScopeMap(c *Call) (*store.ScopeMap, error) {
	if d, ok := rbac.BuiltInScopeMap(c.ID.Name()); ok {
		return builtInScopeMap(c.Registry(), d), nil
	}
	return a.cfg.Store.GetScopeMap(c.Registry().Name, c.ID.Name())
}

// scopeMapsOf lists a registry's scope maps, the system-defined ones included, by name.
func (a *api) scopeMapsOf(reg *store.Registry) ([]*store.ScopeMap, error) {
	ms, err := a.cfg.Store.ListScopeMaps(reg.Name)
	for _, d := range rbac.BuiltInScopeMaps() {
		ms = append(ms, builtInScopeMap(reg, d))
	}
	slices.SortFunc(ms, func(x, y *store.ScopeMap) int {
		return strings.Compare(strings.ToLower(x.Name), strings.ToLower(y.Name))
	})
	return ms, err
}

func refuseSystemDefined(name string) error {
	if _, ok := rbac.BuiltInScopeMap(name); ok {
		return armError(http.StatusBadRequest, "SystemDefinedScopeMapNotEditable", "The scope map '"+name+"' is system defined: it cannot be changed or deleted.")
	}
	return nil
}

// tokenNameOK is the rule for scope map and token names: 5 to 50 letters, digits, - and _.
func tokenNameOK(n string) bool {
	if len(n) < 5 || len(n) > 50 {
		return false
	}
	for _, c := range n {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func invalidChildName(name string) error {
	return armError(http.StatusBadRequest, "InvalidResourceName", "Resource name "+name+" is invalid. The name can contain only "+
		"alphanumeric characters, hyphens and underscores, and must be between 5 and 50 characters.")
}

type scopeMapBody struct {
	Properties *struct {
		Description *string   `json:"description"`
		Actions     *[]string `json:"actions"`
	} `json:"properties"`
}

// decodeScopeMap: a PUT gives the whole scope map (actions required), a PATCH changes the
// description or the actions it names. Actions are kept as given, in order (Terraform reads
// them back as a list).
func (a *api) decodeScopeMap(c *Call, old *store.ScopeMap, patch bool) (*store.ScopeMap, error) {
	if err := refuseSystemDefined(c.ID.Name()); err != nil {
		return nil, err
	}
	var b scopeMapBody
	if err := c.Decode(&b); err != nil {
		return nil, err
	}
	var next *store.ScopeMap
	switch {
	case old == nil:
		if !tokenNameOK(c.ID.Name()) {
			return nil, invalidChildName(c.ID.Name())
		}
		next = &store.ScopeMap{Registry: c.Registry().Name, Name: c.ID.Name(), CreatedAt: time.Now().UTC()}
	default:
		next = old.Copy()
	}
	p := b.Properties
	if p == nil || (p.Actions == nil && !patch) {
		if !patch {
			return nil, armError(http.StatusBadRequest, "InvalidRequestContent", "The property 'properties.actions' is required.")
		}
		return next, nil
	}
	if p.Description != nil || !patch {
		next.Description = ""
		if p.Description != nil {
			next.Description = *p.Description
		}
	}
	if len(next.Description) > rbac.MaxScopeMapDescription {
		return nil, armError(http.StatusBadRequest, "InvalidRequestContent", fmt.Sprintf("The description can have at most %d characters.", rbac.MaxScopeMapDescription))
	}
	if p.Actions != nil {
		if err := rbac.ValidateScopeMapActions(*p.Actions); err != nil {
			return nil, armError(http.StatusBadRequest, "InvalidScopeMapActions", capitalize(err.Error())+".")
		}
		next.Actions = slices.Clone(*p.Actions)
	}
	return next, nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// validateScopeMap bounds how many scope maps a registry holds (the system-defined ones not
// counted, UNCONFIRMED).
func (a *api) validateScopeMap(c *Call, old, next *store.ScopeMap) error {
	if old != nil {
		return nil
	}
	ms, err := a.cfg.Store.ListScopeMaps(next.Registry)
	if err != nil {
		return err
	}
	return withinTierLimit(c.Registry(), len(ms), "scope maps")
}

// withinTierLimit is the bound on scope maps and on tokens per registry, by service tier.
func withinTierLimit(reg *store.Registry, have int, what string) error {
	if max := rbac.MaxPerRegistry(reg.SKU); have >= max {
		return armError(http.StatusConflict, "QuotaExceeded", fmt.Sprintf("The maximum of %d %s for a %s registry has been reached.", max, what, reg.SKU))
	}
	return nil
}

func scopeMapJSON(reg *store.Registry, m *store.ScopeMap) map[string]any {
	typ := "UserDefined"
	if _, ok := rbac.BuiltInScopeMap(m.Name); ok {
		typ = "SystemDefined"
	}
	props := map[string]any{"type": typ, "creationDate": armTime(m.CreatedAt), "provisioningState": "Succeeded", "actions": nonNilStrings(m.Actions)}
	if m.Description != "" {
		props["description"] = m.Description
	}
	return map[string]any{"type": scopeMapType, "id": reg.ID + "/scopeMaps/" + m.Name, "name": m.Name,
		"systemData": systemDataJSON(m.System), "properties": props}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
