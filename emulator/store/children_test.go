package store

import "testing"

// Registry children are kept per registry, found by name in any case, carried by a dump, and
// go with their registry.
func TestRegistryChildren(t *testing.T) {
	s := New()
	if err := s.PutAgentPool(&AgentPool{Registry: "reg", Name: "pool"}); err != ErrRegistryNotFound {
		t.Fatalf("a child of a registry that does not exist: %v", err)
	}
	if err := s.PutRegistry(&Registry{Name: "reg", SKU: "Premium"}); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		s.PutAgentPool(&AgentPool{Registry: "reg", Name: "Pool1", Count: 1, Tags: map[string]string{"a": "b"}}),
		s.PutConnectedRegistry(&ConnectedRegistry{Registry: "reg", Name: "edge1", Mode: "ReadOnly", ClientTokens: []string{"t"}}),
		s.PutCredentialSet(&CredentialSet{Registry: "reg", Name: "creds", Credentials: []AuthCredential{{Name: "Credential1"}}}),
		s.PutCacheRule(&CacheRule{Registry: "reg", Name: "hello", SourceRepository: "docker.io/library/hello-world"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if p, _ := s.GetAgentPool("reg", "POOL1"); p == nil || p.Count != 1 {
		t.Fatalf("agent pool by name in another case: %+v", p)
	}
	d, err := s.Dump()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteCacheRule("reg", "hello"); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(d); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.GetCacheRule("reg", "hello"); r == nil {
		t.Fatal("a restore lost a cache rule")
	}
	if err := s.DeleteRegistry("reg"); err != nil {
		t.Fatal(err)
	}
	pools, _ := s.ListAgentPools("reg")
	crs, _ := s.ListConnectedRegistries("reg")
	sets, _ := s.ListCredentialSets("reg")
	rules, _ := s.ListCacheRules("reg")
	if len(pools)+len(crs)+len(sets)+len(rules) != 0 {
		t.Fatalf("children outlived their registry: %v %v %v %v", pools, crs, sets, rules)
	}
}
