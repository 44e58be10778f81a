package store

import (
	"net/netip"
	"sync"
	"testing"
)

func TestAllocateEndpointIPs(t *testing.T) {
	s := New()
	first := netip.MustParseAddr("10.0.0.5")
	for _, pe := range []*PrivateEndpoint{
		{ID: "/x/privateEndpoints/a", Name: "a", VNet: "corp", Status: "Approved"},
		{ID: "/x/privateEndpoints/b", Name: "b", VNet: "CORP", Status: "Pending"},
		{ID: "/x/privateEndpoints/c", Name: "c", VNet: "other", Status: "Approved"},
	} {
		if err := s.PutPrivateEndpoint(pe); err != nil {
			t.Fatal(err)
		}
	}
	a, err := s.AllocateEndpointIPs("/x/privateEndpoints/a", []string{"registry", "registry_data_eastus"}, first)
	if err != nil || a.IPs["registry"] != "10.0.0.5" || a.IPs["registry_data_eastus"] != "10.0.0.6" {
		t.Fatalf("a: %v %+v", err, a)
	}
	// The VNet's addresses are shared (its name compared in any case); another VNet has its own.
	b, _ := s.AllocateEndpointIPs("/X/PRIVATEENDPOINTS/B", []string{"registry", "registry_data_eastus"}, first)
	c, _ := s.AllocateEndpointIPs("/x/privateEndpoints/c", []string{"registry"}, first)
	if b.IPs["registry"] != "10.0.0.7" || b.IPs["registry_data_eastus"] != "10.0.0.8" || c.IPs["registry"] != "10.0.0.5" {
		t.Fatalf("b %+v, c %+v", b.IPs, c.IPs)
	}
	// A new member (a replication added later) gets the next free address; the others keep theirs.
	a, _ = s.AllocateEndpointIPs("/x/privateEndpoints/a", []string{"registry", "registry_data_eastus", "registry_data_westeurope"}, first)
	if a.IPs["registry"] != "10.0.0.5" || a.IPs["registry_data_westeurope"] != "10.0.0.9" {
		t.Fatalf("a after a replication: %+v", a.IPs)
	}
	// Replacing the endpoint (a PUT through ARM) keeps its addresses; so do a dump and restore.
	if err := s.PutPrivateEndpoint(&PrivateEndpoint{ID: "/x/privateEndpoints/a", Name: "a", VNet: "corp", Status: "Rejected"}); err != nil {
		t.Fatal(err)
	}
	d, err := s.Dump()
	if err != nil {
		t.Fatal(err)
	}
	fresh := New()
	if err := fresh.Restore(d); err != nil {
		t.Fatal(err)
	}
	got, _ := fresh.GetPrivateEndpoint("/x/privateEndpoints/a")
	if got.Status != "Rejected" || got.IPs["registry_data_eastus"] != "10.0.0.6" {
		t.Fatalf("after replace and restore: %+v", got)
	}
	if missing, err := s.AllocateEndpointIPs("/x/privateEndpoints/none", []string{"registry"}, first); missing != nil || err != nil {
		t.Fatalf("unknown endpoint: %+v %v", missing, err)
	}
}

func TestAllocateEndpointIPsConcurrently(t *testing.T) {
	s := New()
	first := netip.MustParseAddr("10.0.0.5")
	const n = 20
	for i := range n {
		id := "/x/privateEndpoints/" + string(rune('a'+i))
		if err := s.PutPrivateEndpoint(&PrivateEndpoint{ID: id, VNet: "corp"}); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := s.AllocateEndpointIPs("/x/privateEndpoints/"+string(rune('a'+i)), []string{"registry", "registry_data_eastus"}, first); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	pes, _ := s.ListPrivateEndpoints()
	for _, pe := range pes {
		for _, ip := range pe.IPs {
			if seen[ip] {
				t.Fatalf("%s handed out twice", ip)
			}
			seen[ip] = true
		}
	}
	if len(seen) != 2*n {
		t.Fatalf("%d addresses for %d members", len(seen), 2*n)
	}
}
