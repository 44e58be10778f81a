package store

import "maps"

// AgentPool is a dedicated pool of ACR Tasks agents (registries/agentPools).
type AgentPool struct {
	Registry string
	Name     string // as created
	Location string
	Tags     map[string]string
	Count    int
	Tier     string // S1, S2, S3, I6
	OS       string // Linux
	SubnetID string // the virtual network subnet the agents run in ("" for none)
	System   SystemData
	// Deleting marks the copy ARM answers once after the pool's DELETE; never stored true.
	Deleting bool
}

// Copy returns a copy safe to modify.
func (p *AgentPool) Copy() *AgentPool {
	c := *p
	c.Tags = maps.Clone(p.Tags)
	return &c
}

// PutAgentPool inserts or replaces an agent pool.
func (s *Store) PutAgentPool(p *AgentPool) error {
	return putChild(s, TableAgentPools, p.Registry, p.Copy())
}

// GetAgentPool returns a registry's agent pool by name (any case), nil when absent.
func (s *Store) GetAgentPool(registry, name string) (*AgentPool, error) {
	return getChild[AgentPool](s, TableAgentPools, registry, name)
}

// ListAgentPools returns a registry's agent pools by name.
func (s *Store) ListAgentPools(registry string) ([]*AgentPool, error) {
	return listChildren[AgentPool](s, TableAgentPools, registry)
}

// DeleteAgentPool removes an agent pool.
func (s *Store) DeleteAgentPool(registry, name string) error {
	return deleteChild(s, TableAgentPools, registry, name)
}
