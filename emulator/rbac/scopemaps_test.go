package rbac

import (
	"fmt"
	"strings"
	"testing"
)

// describeToken lists the data-plane actions a grant permits on repo, in a fixed order.
func describeToken(g TokenGrant, repo string) string {
	var out []string
	for _, a := range []string{ActionPull, ActionPush, ActionDelete, ActionMetadataRead, ActionMetadataWrite} {
		if g.Allowed(repo, a) {
			out = append(out, a)
		}
	}
	return strings.Join(out, " ")
}

func TestScopeMapGrant(t *testing.T) {
	// The docs' additive example: sample/* read, sample/teamA/* write, sample/teamA/projectB delete.
	layered := []string{"repositories/sample/*/content/read", "repositories/sample/teamA/*/content/write", "repositories/sample/teamA/projectB/content/delete"}
	tests := []struct {
		desc    string
		actions []string
		repo    string
		want    string
	}{
		{"exact repository", []string{"repositories/foo/content/read"}, "foo", "pull"},
		{"another repository", []string{"repositories/foo/content/read"}, "foobar", ""},
		{"a repository below it", []string{"repositories/foo/content/read"}, "foo/bar", ""},
		{"each permission", []string{"repositories/app/content/read", "repositories/app/content/write", "repositories/app/content/delete",
			"repositories/app/metadata/read", "repositories/app/metadata/write"}, "app", "pull push delete metadata_read metadata_write"},
		{"write alone is push alone", []string{"repositories/app/content/write"}, "app", "push"},
		{"metadata read is not pull", []string{"repositories/app/metadata/read"}, "app", "metadata_read"},
		{"root wildcard", []string{"repositories/*/content/read"}, "any/depth/repo", "pull"},
		{"prefix wildcard, below", []string{"repositories/samples/*/content/read"}, "samples/hello-world", "pull"},
		{"prefix wildcard, deeper", []string{"repositories/samples/*/content/read"}, "samples/a/b", "pull"},
		{"prefix wildcard, the prefix itself", []string{"repositories/samples/*/content/read"}, "samples", ""},
		{"prefix wildcard, a longer name", []string{"repositories/samples/*/content/read"}, "samplesx/app", ""},
		{"additive, projectB", layered, "sample/teama/projectb", "pull push delete"},
		{"additive, projectC", layered, "sample/teama/projectc", "pull push"},
		{"additive, teamB", layered, "sample/teamb/app", "pull"},
		{"case of the scope map", []string{"Repositories/Foo/Content/Read"}, "foo", "pull"},
		{"malformed actions grant nothing", []string{"repositories/foo/content/execute", "repositories/*foo/content/read", "foo/content/read"}, "foo", ""},
		{"gateway actions grant nothing", []string{"gateway/edge1/config/read", "gateway/edge1/message/write"}, "edge1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			if got := describeToken(ScopeMapGrant(tc.actions), tc.repo); got != tc.want {
				t.Fatalf("%v on %q = %q, want %q", tc.actions, tc.repo, got, tc.want)
			}
		})
	}
}

func TestBuiltInScopeMaps(t *testing.T) {
	want := map[string]string{
		"_repositories_admin":               "pull push delete metadata_read metadata_write",
		"_repositories_pull":                "pull",
		"_repositories_pull_metadata_read":  "pull metadata_read",
		"_repositories_push":                "pull push",
		"_repositories_push_metadata_write": "pull push metadata_read metadata_write",
	}
	if got := len(BuiltInScopeMaps()); got != len(want) {
		t.Fatalf("%d built-in scope maps", got)
	}
	for name, perms := range want {
		d, ok := BuiltInScopeMap(strings.ToUpper(name))
		if !ok || d.Name != name || d.Description == "" {
			t.Fatalf("BuiltInScopeMap(%s) = %+v %v", name, d, ok)
		}
		if err := ValidateScopeMapActions(d.Actions); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := describeToken(ScopeMapGrant(d.Actions), "team/app"); got != perms {
			t.Fatalf("%s grants %q, want %q", name, got, perms)
		}
	}
	if _, ok := BuiltInScopeMap("_repositories_delete"); ok {
		t.Fatal("an unknown built-in was found")
	}
}

func TestValidateScopeMapActions(t *testing.T) {
	many := func(n int, format string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf(format, i)
		}
		return out
	}
	tests := []struct {
		desc    string
		actions []string
		wantErr string // substring; "" is valid
	}{
		{"az's form", []string{"repositories/foo/content/read", "repositories/foo/metadata/read"}, ""},
		{"nested repository", []string{"repositories/team/app/content/write"}, ""},
		{"wildcards", []string{"repositories/*/content/read", "repositories/team/*/metadata/write"}, ""},
		{"gateway", []string{"gateway/edge1/config/read", "gateways/edge1/messages/write"}, ""},
		{"none", nil, "at least one"},
		{"unknown permission", []string{"repositories/foo/content/execute"}, "content/read, content/write"},
		{"the old camel case", []string{"repositories/foo/contentWrite"}, "not valid"},
		{"no repository", []string{"repositories/content/read"}, "not valid"},
		{"not a repository", []string{"registry/catalog/read"}, "not valid"},
		{"wildcard in the middle", []string{"repositories/sample/*/teamA/content/read"}, "wildcard"},
		{"wildcard not a segment", []string{"repositories/sample/teamA*/content/read"}, "wildcard"},
		{"two wildcards", []string{"repositories/sample/*/projectB/*/content/read"}, "wildcard"},
		{"bad repository", []string{"repositories/-foo/content/read"}, "repository '-foo'"},
		{"empty segment", []string{"repositories/foo//bar/content/read"}, "not valid"},
		{"500 actions", many(500, "repositories/r%d/content/read"), ""},
		{"501 actions", many(501, "repositories/r%d/content/read"), "at most 500 actions"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			err := ValidateScopeMapActions(tc.actions)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func FuzzScopeMapAction(f *testing.F) {
	for _, s := range []string{"repositories/foo/content/read", "repositories/*/metadata/write", "repositories/a/*/content/delete",
		"gateway/x/config/read", "repositories//content/read", "repositories/*/*/content/read", "/"} {
		f.Add(s, "foo")
	}
	f.Fuzz(func(t *testing.T, action, repo string) {
		err := ValidateScopeMapActions([]string{action})
		g := ScopeMapGrant([]string{action})
		if err != nil && g.Any() {
			t.Fatalf("%q is refused but grants something", action)
		}
		_ = g.Allowed(repo, ActionPull)
	})
}
