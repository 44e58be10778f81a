package arm

import (
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync"

	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// Microsoft.ContainerRegistry/registries/agentPools: dedicated ACR Tasks agents of a Premium
// registry, optionally in a virtual network's subnet
// (https://learn.microsoft.com/azure/container-registry/tasks-agent-pools). The emulator keeps
// the resource; a run naming the pool (agentPoolName) runs as any other. Shapes and answers
// are those of the az CLI's recording (test_acr_agentpool): PUT 201 with an
// Azure-AsyncOperation, DELETE 202 with a Location at
// registries/{registry}/agentPoolsOperationResults/{id}/status. Right after the DELETE, one GET
// still shows the pool, provisioningState Deleting, as ACR does: az 2.45's agentpool delete
// reads the pool then (and fails on a 404), and reads it again 30 seconds later. The SKU
// refusal's text and the bounds (tier, count) are UNCONFIRMED.

const agentPoolType = "Microsoft.ContainerRegistry/registries/agentPools"

// agentPoolTiers are the agent sizes (https://aka.ms/acr/tasks/agentpool).
var agentPoolTiers = []string{"S1", "S2", "S3", "I6"}

func (a *api) agentPools() *Kind[store.AgentPool] {
	return &Kind[store.AgentPool]{Type: agentPoolType, Actions: crud(agentPoolType, "listQueueStatus"), LRO: Async, Max: 100,
		SKU: premiumOnly("AgentPoolNotSupported", "Agent pools", "https://aka.ms/acr/tasks/agentpool"),
		Get: func(c *Call) (*store.AgentPool, error) {
			p, err := a.cfg.Store.GetAgentPool(c.Registry().Name, c.ID.Name())
			if p == nil && err == nil && c.R.Method == http.MethodGet && c.Action == "" {
				p = a.deleting.take(c.ID.String())
			}
			return p, err
		},
		List: func(c *Call) ([]*store.AgentPool, error) {
			return a.cfg.Store.ListAgentPools(c.Registry().Name)
		},
		Decode: a.decodeAgentPool,
		Save: func(c *Call, old, next *store.AgentPool) error {
			next.System = touch(next.System, c.Caller, old == nil)
			return a.cfg.Store.PutAgentPool(next)
		},
		Delete: a.deleteAgentPool,
		JSON:   func(c *Call, p *store.AgentPool) any { return agentPoolJSON(c.Registry(), p) },
		Do: map[string]func(*Call, *store.AgentPool) error{
			// The queue of runs waiting for the pool: none wait, runs start at once.
			"listQueueStatus": func(c *Call, _ *store.AgentPool) error { return c.Reply(http.StatusOK, map[string]int{"count": 0}) },
		}}
}

type agentPoolBody struct {
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties *struct {
		Count    *int    `json:"count"`
		Tier     *string `json:"tier"`
		OS       *string `json:"os"`
		SubnetID *string `json:"virtualNetworkSubnetResourceId"`
	} `json:"properties"`
}

// decodeAgentPool: a PUT names the tier (S1 when absent, as az does), the OS (Linux) and the
// count (1); tier, OS and subnet are set once; a PATCH changes the count and tags.
func (a *api) decodeAgentPool(c *Call, old *store.AgentPool, patch bool) (*store.AgentPool, error) {
	var b agentPoolBody
	if err := c.Decode(&b); err != nil {
		return nil, err
	}
	next := &store.AgentPool{Registry: c.Registry().Name, Name: c.ID.Name(), Count: 1, Tier: "S1", OS: "Linux"}
	if old != nil {
		next = old.Copy()
	}
	if old == nil {
		if !childNameOK(c.ID.Name(), 3, 20) {
			return nil, armError(http.StatusBadRequest, "InvalidResourceName", "Resource name "+c.ID.Name()+
				" is invalid. The name can contain only alphanumeric characters and hyphens and must be between 3 and 20 characters.")
		}
		loc := b.Location
		if loc == "" {
			loc = a.location(c.Registry())
		}
		var err error
		if next.Location, err = a.checkLocation(loc, agentPoolType); err != nil {
			return nil, err
		}
	}
	if !patch || b.Tags != nil {
		next.Tags = maps.Clone(b.Tags)
	}
	p := b.Properties
	if p == nil {
		return next, nil
	}
	if p.Count != nil {
		if *p.Count < 0 || *p.Count > 100 {
			return nil, armError(http.StatusBadRequest, "InvalidRequestContent", fmt.Sprintf("The value '%d' of properties.count is not valid: use 0 to 100.", *p.Count))
		}
		next.Count = *p.Count
	}
	setOnce := func(field string, v *string, dst *string, canon func(string) (string, error)) error {
		if v == nil {
			return nil
		}
		got, err := canon(*v)
		if err != nil {
			return err
		}
		if old != nil && !strings.EqualFold(got, *dst) {
			return armError(http.StatusBadRequest, "InvalidRequestContent", "The property '"+field+"' of an agent pool cannot be updated.")
		}
		*dst = got
		return nil
	}
	for _, f := range []struct {
		field string
		v     *string
		dst   *string
		canon func(string) (string, error)
	}{
		{"tier", p.Tier, &next.Tier, func(v string) (string, error) { return enumValue("properties.tier", v, agentPoolTiers...) }},
		{"os", p.OS, &next.OS, func(v string) (string, error) { return enumValue("properties.os", v, "Linux", "Windows") }},
		{"virtualNetworkSubnetResourceId", p.SubnetID, &next.SubnetID, func(v string) (string, error) {
			if v != "" && (vnetOfSubnet(v) == "" || !strings.Contains(strings.ToLower(v), "/subnets/")) {
				return "", armError(http.StatusBadRequest, "InvalidRequestContent", "The value '"+v+"' of properties.virtualNetworkSubnetResourceId is not a subnet's resource id.")
			}
			return v, nil
		}},
	} {
		if err := setOnce(f.field, f.v, f.dst, f.canon); err != nil {
			return nil, err
		}
	}
	return next, nil
}

// deleteAgentPool answers as ACR does: 202 and a Location under the registry,
// agentPoolsOperationResults/{id}/status, whose poll is done.
func (a *api) deleteAgentPool(c *Call, p *store.AgentPool) error {
	if err := a.cfg.Store.DeleteAgentPool(p.Registry, p.Name); err != nil {
		return err
	}
	gone := p.Copy()
	gone.Deleting = true
	a.deleting.add(c.ID.String(), gone)
	id := ids.NewGUID()
	op := a.ops.record(&operation{id: id, path: c.Registry().ID + "/agentPoolsOperationResults/" + id + "/status", header: headerLocation})
	a.ops.accept(c, op)
	c.W.WriteHeader(http.StatusAccepted)
	c.replied = true
	return nil
}

func agentPoolJSON(reg *store.Registry, p *store.AgentPool) map[string]any {
	props := map[string]any{"count": p.Count, "tier": p.Tier, "os": p.OS, "provisioningState": status(p.Deleting, "Deleting", "Succeeded")}
	if p.SubnetID != "" {
		props["virtualNetworkSubnetResourceId"] = p.SubnetID
	}
	out := map[string]any{"id": reg.ID + "/agentPools/" + p.Name, "name": p.Name, "type": agentPoolType, "location": p.Location,
		"systemData": systemDataJSON(p.System), "properties": props}
	if len(p.Tags) > 0 {
		out["tags"] = p.Tags
	}
	return out
}

// deletingPools hold the agent pools whose DELETE was answered until one GET has shown them.
type deletingPools struct {
	mu sync.Mutex
	m  map[string]*store.AgentPool // by lowercase id
}

// maxDeleting bounds the pools kept (a client that never reads them back).
const maxDeleting = 1000

func (d *deletingPools) add(id string, p *store.AgentPool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil || len(d.m) >= maxDeleting {
		d.m = map[string]*store.AgentPool{}
	}
	d.m[strings.ToLower(id)] = p
}

func (d *deletingPools) take(id string) *store.AgentPool {
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.m[strings.ToLower(id)]
	delete(d.m, strings.ToLower(id))
	return p
}

// childNameOK is the usual rule for a registry child's name: letters, digits and hyphens,
// starting with a letter or digit, min to max characters.
func childNameOK(n string, min, max int) bool {
	if len(n) < min || len(n) > max || n[0] == '-' {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}
