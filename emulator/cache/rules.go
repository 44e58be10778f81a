package cache

import (
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Rule matching, as ACR documents it
// (https://learn.microsoft.com/azure/container-registry/wildcards-artifact-cache): a rule maps
// a target repository to a source repository, or with wildcards a target prefix ("*" or
// "dotnet/*") to a source prefix ("mcr.microsoft.com/*", "mcr.microsoft.com/dotnet/*").
// Wildcard rules cannot overlap one another; a rule for one repository may sit under a
// wildcard rule and wins for that repository.

// Wildcard reports whether s is a wildcard pattern ("*" or "prefix/*") and returns its prefix
// ("" or "prefix/").
func Wildcard(s string) (prefix string, ok bool) {
	if s == "*" {
		return "", true
	}
	if p, found := strings.CutSuffix(s, "/*"); found && p != "" && !strings.Contains(p, "*") {
		return p + "/", true
	}
	return "", false
}

// Overlap reports whether two wildcard targets' prefixes overlap.
func Overlap(a, b string) bool {
	pa, _ := Wildcard(a)
	pb, _ := Wildcard(b)
	return strings.HasPrefix(pa, pb) || strings.HasPrefix(pb, pa)
}

// Match finds the rule that covers repo and the upstream repository (host/path) it maps repo
// to.
func Match(rules []*store.CacheRule, repo string) (*store.CacheRule, string, bool) {
	var best *store.CacheRule
	var bestPrefix string
	for _, r := range rules {
		if r.TargetRepository == repo {
			return r, r.SourceRepository, true
		}
		prefix, ok := Wildcard(r.TargetRepository)
		if ok && strings.HasPrefix(repo, prefix) && (best == nil || len(prefix) > len(bestPrefix)) {
			best, bestPrefix = r, prefix
		}
	}
	if best == nil {
		return nil, "", false
	}
	srcPrefix, ok := Wildcard(best.SourceRepository)
	if !ok {
		return nil, "", false
	}
	return best, srcPrefix + strings.TrimPrefix(repo, bestPrefix), true
}
