package arm

import (
	"net/http"
	"strconv"
	"strings"
	"unicode"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/cache"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Microsoft.ContainerRegistry/registries/cacheRules: the artifact cache's rules, an upstream
// repository cached under a repository of the registry
// (https://learn.microsoft.com/azure/container-registry/artifact-cache-overview). This file is
// the rules' ARM resource only; what a pull through a rule does is the data plane's. Shapes
// are the az CLI's recording (test_acr_cache): PUT and PATCH 201 with an Azure-AsyncOperation,
// no location. A target repository has one rule; a rule names a credential set of its
// registry or none (PATCH credentialSetResourceId null removes it). The refusals' texts are
// UNCONFIRMED.

const cacheRuleType = "Microsoft.ContainerRegistry/registries/cacheRules"

func (a *api) cacheRules() *Kind[store.CacheRule] {
	st := a.cfg.Store
	return &Kind[store.CacheRule]{Type: cacheRuleType, Actions: crud(cacheRuleType), LRO: AsyncLocation, Max: 1000,
		Get: func(c *Call) (*store.CacheRule, error) { return st.GetCacheRule(c.Registry().Name, c.ID.Name()) },
		List: func(c *Call) ([]*store.CacheRule, error) {
			return st.ListCacheRules(c.Registry().Name)
		},
		Decode:   decodeCacheRule,
		Validate: a.validateCacheRule,
		Save: func(c *Call, old, next *store.CacheRule) error {
			next.System = touch(next.System, c.Caller, old == nil)
			return st.PutCacheRule(next)
		},
		Delete: func(_ *Call, r *store.CacheRule) error { return st.DeleteCacheRule(r.Registry, r.Name) },
		JSON:   func(c *Call, r *store.CacheRule) any { return cacheRuleJSON(c.Registry(), r) }}
}

type cacheRuleBody struct {
	Properties *struct {
		SourceRepository *string `json:"sourceRepository"`
		TargetRepository *string `json:"targetRepository"`
		// credentialSetResourceId: absent keeps it, null removes it.
		CredentialSetID nullable `json:"credentialSetResourceId"`
	} `json:"properties"`
}

// nullable tells a JSON null (Set, Value "") from an absent field (not Set): encoding/json
// calls UnmarshalJSON for a null only on a field that is not a pointer.
type nullable struct {
	Set   bool
	Value string
}

func (n *nullable) UnmarshalJSON(b []byte) error {
	n.Set = true
	if string(b) == "null" {
		return nil
	}
	return unmarshalBody(b, &n.Value)
}

// decodeCacheRule: a PUT names the source and target repositories, set once; a PATCH changes
// the credential set.
func decodeCacheRule(c *Call, old *store.CacheRule, _ bool) (*store.CacheRule, error) {
	var b cacheRuleBody
	if err := c.Decode(&b); err != nil {
		return nil, err
	}
	bad := func(msg string) error { return armError(http.StatusBadRequest, "InvalidRequestContent", msg) }
	next := &store.CacheRule{Registry: c.Registry().Name, Name: c.ID.Name()}
	if old != nil {
		next = old.Copy()
	}
	p := b.Properties
	if old == nil {
		if !childNameOK(c.ID.Name(), 5, 50) {
			return nil, armError(http.StatusBadRequest, "InvalidResourceName", "Resource name "+c.ID.Name()+
				" is invalid. The name can contain only alphanumeric characters and hyphens and must be between 5 and 50 characters.")
		}
		if p == nil || p.SourceRepository == nil || p.TargetRepository == nil {
			return nil, bad("properties.sourceRepository and properties.targetRepository are required.")
		}
		next.CreatedAt = nowUTC()
	}
	if p == nil {
		return next, nil
	}
	for _, f := range []struct {
		field string
		v     *string
		dst   *string
		ok    func(string) bool
	}{
		{"sourceRepository", p.SourceRepository, &next.SourceRepository, upstreamRepository},
		{"targetRepository", p.TargetRepository, &next.TargetRepository, targetRepository},
	} {
		if f.v == nil {
			continue
		}
		if !f.ok(*f.v) {
			return nil, bad("The value '" + *f.v + "' of properties." + f.field + " is not a valid repository.")
		}
		if old != nil && *f.v != *f.dst {
			return nil, bad("The property '" + f.field + "' of a cache rule cannot be updated.")
		}
		*f.dst = *f.v
	}
	_, wildSource := cache.Wildcard(next.SourceRepository[strings.Index(next.SourceRepository, "/")+1:])
	if _, wildTarget := cache.Wildcard(next.TargetRepository); wildSource != wildTarget {
		return nil, bad("A wildcard cache rule needs wildcards in both properties.sourceRepository and properties.targetRepository.")
	}
	if p.CredentialSetID.Set {
		next.CredentialSetID = p.CredentialSetID.Value
	}
	return next, nil
}

// upstreamRepository is host/path, the host a domain with an optional port, the path a
// repository or a wildcard: docker.io/library/nginx, mcr.microsoft.com/*, 127.0.0.1:5000/app.
func upstreamRepository(s string) bool {
	host, path, ok := strings.Cut(s, "/")
	if h, port, found := strings.Cut(host, ":"); found {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return false
		}
		host = h
	}
	return ok && (strings.Contains(host, ".") || host == "localhost") && !strings.ContainsAny(host, " :@") && targetRepository(path)
}

// targetRepository is a repository name or a wildcard ("*", "library/*").
func targetRepository(s string) bool {
	if prefix, ok := cache.Wildcard(s); ok {
		return prefix == "" || repositoryName(strings.TrimSuffix(prefix, "/"))
	}
	return repositoryName(s)
}

// repositoryName is a repository name the distribution spec allows.
func repositoryName(s string) bool {
	if s == "" || len(s) > 256 || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/") || strings.Contains(s, "//") {
		return false
	}
	for _, r := range s {
		if !(unicode.IsLower(r) || unicode.IsDigit(r) || strings.ContainsRune("._-/", r)) {
			return false
		}
	}
	return true
}

// validateCacheRule: one rule a target repository, and a credential set of this registry that
// exists.
func (a *api) validateCacheRule(c *Call, old, next *store.CacheRule) error {
	reg := c.Registry()
	if old == nil {
		rules, err := a.cfg.Store.ListCacheRules(reg.Name)
		if err != nil {
			return err
		}
		_, wild := cache.Wildcard(next.TargetRepository)
		for _, r := range rules {
			if r.TargetRepository == next.TargetRepository {
				return armError(http.StatusConflict, "CacheRuleTargetInUse", "The cache rule '"+r.Name+"' already caches into the repository '"+next.TargetRepository+"'.")
			}
			// Wildcard rules may not overlap one another (a rule for one repository may sit
			// under one). UNCONFIRMED text.
			if _, other := cache.Wildcard(r.TargetRepository); wild && other && cache.Overlap(r.TargetRepository, next.TargetRepository) {
				return armError(http.StatusConflict, "CacheRuleTargetInUse", "The wildcard cache rule '"+r.Name+"' ("+r.TargetRepository+") overlaps '"+next.TargetRepository+"'.")
			}
		}
	}
	if next.CredentialSetID == "" {
		return nil
	}
	id, err := armid.Parse(next.CredentialSetID)
	if err != nil || id.Collection() || !strings.EqualFold(id.Key(), strings.ToLower(credentialSetType)) || !strings.EqualFold(id.Resource(1).String(), reg.ID) {
		return armError(http.StatusBadRequest, "InvalidRequestContent", "'"+next.CredentialSetID+"' is not a credential set of registry '"+reg.Name+"'.")
	}
	set, err := a.cfg.Store.GetCredentialSet(reg.Name, id.Name())
	if err != nil {
		return err
	}
	if set == nil {
		return armError(http.StatusNotFound, "ResourceNotFound", "The credential set '"+id.Name()+"' was not found.")
	}
	return nil
}

func cacheRuleJSON(reg *store.Registry, r *store.CacheRule) map[string]any {
	props := map[string]any{"sourceRepository": r.SourceRepository, "targetRepository": r.TargetRepository,
		"creationDate": armTime(r.CreatedAt), "provisioningState": "Succeeded"}
	if r.CredentialSetID != "" {
		props["credentialSetResourceId"] = r.CredentialSetID
	}
	return map[string]any{"id": reg.ID + "/cacheRules/" + r.Name, "name": r.Name, "type": cacheRuleType,
		"systemData": systemDataJSON(r.System), "properties": props}
}
