package store

import (
	"testing"
	"time"
)

func TestScopeMapsAndTokens(t *testing.T) {
	s := New()
	if err := s.PutScopeMap(&ScopeMap{Registry: "reg", Name: "pull"}); err != ErrRegistryNotFound {
		t.Fatalf("scope map of a missing registry: %v", err)
	}
	for _, r := range []string{"reg", "other"} {
		if err := s.PutRegistry(&Registry{Name: r}); err != nil {
			t.Fatal(err)
		}
	}
	m := &ScopeMap{Registry: "reg", Name: "Pull-Map", Actions: []string{"repositories/a/content/read"}}
	if err := s.PutScopeMap(m); err != nil {
		t.Fatal(err)
	}
	m.Actions[0] = "changed after the put"
	tok := &Token{Registry: "reg", Name: "CI-Token", ScopeMap: "Pull-Map", Enabled: true,
		Passwords: []TokenPassword{{Name: "password1", Value: "v1", CreatedAt: time.Now()}}}
	if err := s.PutToken(tok); err != nil {
		t.Fatal(err)
	}
	tok.Passwords[0].Value = "changed after the put"
	if err := s.PutToken(&Token{Registry: "other", Name: "ci-token"}); err != nil {
		t.Fatal(err)
	}

	got, _ := s.GetScopeMap("reg", "pull-map")
	if got == nil || got.Name != "Pull-Map" || got.Actions[0] != "repositories/a/content/read" {
		t.Fatalf("scope map = %+v (names compare in any case; the stored value is a copy)", got)
	}
	gt, _ := s.GetToken("reg", "ci-TOKEN")
	if gt == nil || gt.Passwords[0].Value != "v1" {
		t.Fatalf("token = %+v", gt)
	}
	if ts, _ := s.ListTokens("reg"); len(ts) != 1 {
		t.Fatalf("tokens of reg = %d (another registry's token listed?)", len(ts))
	}

	dump, err := s.Dump()
	if err != nil || len(dump.ScopeMaps) != 1 || len(dump.Tokens) != 2 {
		t.Fatalf("dump: %v %d %d", err, len(dump.ScopeMaps), len(dump.Tokens))
	}
	if err := s.DeleteToken("reg", "ci-token"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteScopeMap("reg", "PULL-MAP"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetScopeMap("reg", "pull-map"); got != nil {
		t.Fatal("deleted scope map still there")
	}
	if err := s.Restore(dump); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetToken("reg", "ci-token"); got == nil || got.Passwords[0].Value != "v1" {
		t.Fatalf("restored token = %+v", got)
	}

	// A registry's scope maps and tokens go with it.
	if err := s.DeleteRegistry("reg"); err != nil {
		t.Fatal(err)
	}
	if ms, _ := s.ListScopeMaps("reg"); len(ms) != 0 {
		t.Fatal("scope maps outlived their registry")
	}
	if ts, _ := s.ListTokens("reg"); len(ts) != 0 {
		t.Fatal("tokens outlived their registry")
	}
	if ts, _ := s.ListTokens("other"); len(ts) != 1 {
		t.Fatal("another registry's token went too")
	}
}
