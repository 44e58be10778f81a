package cache

import (
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

func TestMatch(t *testing.T) {
	rules := []*store.CacheRule{
		{Name: "all", TargetRepository: "*", SourceRepository: "mcr.microsoft.com/*"},
		{Name: "python", TargetRepository: "library/python/*", SourceRepository: "docker.io/library/python/*"},
		{Name: "hello", TargetRepository: "hello-world", SourceRepository: "docker.io/library/hello-world"},
		{Name: "pinned", TargetRepository: "library/python/special", SourceRepository: "ghcr.io/acme/special"},
	}
	for _, tc := range []struct{ repo, rule, source string }{
		{"hello-world", "hello", "docker.io/library/hello-world"},
		{"dotnet/sdk", "all", "mcr.microsoft.com/dotnet/sdk"},
		{"library/python/app3", "python", "docker.io/library/python/app3"},
		{"library/python/special", "pinned", "ghcr.io/acme/special"},
		{"library/pythonic", "all", "mcr.microsoft.com/library/pythonic"},
	} {
		r, source, ok := Match(rules, tc.repo)
		if !ok || r.Name != tc.rule || source != tc.source {
			t.Errorf("%s: got %v %q %v, want rule %s source %s", tc.repo, r, source, ok, tc.rule, tc.source)
		}
	}
	if _, _, ok := Match(rules[1:3], "other"); ok {
		t.Error("a repository no rule covers matched")
	}
}

func TestWildcardAndOverlap(t *testing.T) {
	for s, want := range map[string]bool{"*": true, "a/*": true, "a/b/*": true, "a*": false, "a/*/b": false, "/*": false, "a": false, "a/**": false} {
		if _, ok := Wildcard(s); ok != want {
			t.Errorf("Wildcard(%q) = %v, want %v", s, ok, want)
		}
	}
	for _, tc := range []struct {
		a, b string
		want bool
	}{{"*", "a/*", true}, {"a/*", "a/b/*", true}, {"a/*", "ab/*", false}, {"a/b/*", "a/c/*", false}} {
		if got := Overlap(tc.a, tc.b); got != tc.want {
			t.Errorf("Overlap(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}
