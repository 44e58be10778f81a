package store

import (
	"errors"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/opencontainers/go-digest"
)

// ErrConflict: a record with the same identity already exists.
var ErrConflict = errors.New("conflict")

// PutPrincipal inserts or replaces a principal.
func (s *Store) PutPrincipal(p *Principal) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		c := *p
		return nil, txn.Insert(TablePrincipals, &c)
	})
}

// GetPrincipal returns a principal by object id, nil when absent.
func (s *Store) GetPrincipal(objectID string) (*Principal, error) {
	return first[Principal](s.db.Txn(false), TablePrincipals, indexID, strings.ToLower(objectID))
}

// PrincipalByAppID returns a principal by client id, nil when absent.
func (s *Store) PrincipalByAppID(appID string) (*Principal, error) {
	return first[Principal](s.db.Txn(false), TablePrincipals, indexAppID, strings.ToLower(appID))
}

// ListPrincipals returns every principal.
func (s *Store) ListPrincipals() ([]*Principal, error) {
	return all[Principal](s.db.Txn(false), TablePrincipals, indexID)
}

// DeletePrincipal removes a principal and its role assignments (Azure removes the assignments of
// a deleted identity too, in effect).
func (s *Store) DeletePrincipal(objectID string) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		p, err := first[Principal](txn, TablePrincipals, indexID, strings.ToLower(objectID))
		if err != nil || p == nil {
			return nil, err
		}
		if _, err := txn.DeleteAll(TableAssignments, indexPrinc, strings.ToLower(objectID)); err != nil {
			return nil, err
		}
		return nil, txn.Delete(TablePrincipals, p)
	})
}

// PutRoleAssignment creates a role assignment. An existing assignment of the same role to the
// same principal at the same scope is ErrConflict (ARM's RoleAssignmentExists).
func (s *Store) PutRoleAssignment(a *RoleAssignment) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		existing, err := all[RoleAssignment](txn, TableAssignments, indexPrinc, strings.ToLower(a.PrincipalID))
		if err != nil {
			return nil, err
		}
		for _, e := range existing {
			if strings.EqualFold(e.Scope, a.Scope) && strings.EqualFold(e.RoleDefinitionID, a.RoleDefinitionID) &&
				!strings.EqualFold(e.ID, a.ID) && e.Condition == a.Condition {
				return nil, ErrConflict
			}
		}
		c := *a
		if c.CreatedAt.IsZero() {
			c.CreatedAt = s.now()
		}
		c.UpdatedAt = s.now()
		return nil, txn.Insert(TableAssignments, &c)
	})
}

// GetRoleAssignment returns an assignment by full id, nil when absent.
func (s *Store) GetRoleAssignment(id string) (*RoleAssignment, error) {
	return first[RoleAssignment](s.db.Txn(false), TableAssignments, indexID, strings.ToLower(id))
}

// DeleteRoleAssignment removes an assignment by full id; it reports whether one was removed.
func (s *Store) DeleteRoleAssignment(id string) (bool, error) {
	removed := false
	err := s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		a, err := first[RoleAssignment](txn, TableAssignments, indexID, strings.ToLower(id))
		if err != nil || a == nil {
			return nil, err
		}
		removed = true
		return nil, txn.Delete(TableAssignments, a)
	})
	return removed, err
}

// ListRoleAssignments returns every assignment.
func (s *Store) ListRoleAssignments() ([]*RoleAssignment, error) {
	return all[RoleAssignment](s.db.Txn(false), TableAssignments, indexID)
}

// RoleAssignmentsOf returns a principal's assignments.
func (s *Store) RoleAssignmentsOf(principalID string) ([]*RoleAssignment, error) {
	return all[RoleAssignment](s.db.Txn(false), TableAssignments, indexPrinc, strings.ToLower(principalID))
}

// PrincipalByResourceID returns the managed identity whose ARM id (or owner's) is id.
func (s *Store) PrincipalByResourceID(id string) (*Principal, error) {
	return first[Principal](s.db.Txn(false), TablePrincipals, indexResID, strings.ToLower(id))
}

// PutResource inserts or replaces a resource.
func (s *Store) PutResource(r *Resource) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		c := *r
		c.UserAssigned = append([]string(nil), r.UserAssigned...)
		return nil, txn.Insert(TableResources, &c)
	})
}

// ResourceByIdentityHeader finds the resource a managed-identity request speaks for.
func (s *Store) ResourceByIdentityHeader(header string) (*Resource, error) {
	if header == "" {
		return nil, nil
	}
	return first[Resource](s.db.Txn(false), TableResources, indexHeader, header)
}

// IMDSResource returns the resource the plain IMDS endpoint speaks for, nil when none.
func (s *Store) IMDSResource() (*Resource, error) {
	rs, err := all[Resource](s.db.Txn(false), TableResources, indexID)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.IMDS {
			return r, nil
		}
	}
	return nil, nil
}

// ListResources returns every resource.
func (s *Store) ListResources() ([]*Resource, error) {
	return all[Resource](s.db.Txn(false), TableResources, indexID)
}

// PutPrivateEndpoint inserts or replaces a private endpoint. Member IPs already handed out are
// kept when pe carries none (a replacement through ARM keeps its addresses).
func (s *Store) PutPrivateEndpoint(pe *PrivateEndpoint) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		c := pe.Copy()
		if len(c.IPs) == 0 {
			old, err := first[PrivateEndpoint](txn, TableEndpoints, indexID, strings.ToLower(pe.ID))
			if err != nil {
				return nil, err
			}
			if old != nil {
				c.IPs = maps.Clone(old.IPs)
			}
		}
		return nil, txn.Insert(TableEndpoints, c)
	})
}

// AllocateEndpointIPs gives the named members of a private endpoint that have no address yet
// the next free ones of its VNet, counting up from first (the VNet's addresses are shared by
// all its private endpoints), in one transaction so that concurrent allocations never hand out
// an address twice. It returns the endpoint as stored, nil when there is none.
func (s *Store) AllocateEndpointIPs(id string, members []string, first netip.Addr) (*PrivateEndpoint, error) {
	var out *PrivateEndpoint
	err := s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		pe, err := firstOf(txn, id)
		if err != nil || pe == nil {
			return nil, err
		}
		missing := slices.DeleteFunc(slices.Clone(members), func(m string) bool { return pe.IPs[m] != "" })
		if len(missing) == 0 {
			out = pe
			return nil, nil
		}
		vnet, err := all[PrivateEndpoint](txn, TableEndpoints, indexID)
		if err != nil {
			return nil, err
		}
		used := map[netip.Addr]bool{}
		for _, other := range vnet {
			if strings.EqualFold(other.VNet, pe.VNet) {
				for _, ip := range other.IPs {
					if a, err := netip.ParseAddr(ip); err == nil {
						used[a] = true
					}
				}
			}
		}
		next := pe.Copy()
		if next.IPs == nil {
			next.IPs = map[string]string{}
		}
		ip := first
		for _, m := range missing {
			for used[ip] {
				ip = ip.Next()
			}
			next.IPs[m], used[ip] = ip.String(), true
		}
		out = next
		return nil, txn.Insert(TableEndpoints, next)
	})
	return out, err
}

func firstOf(txn *memdb.Txn, id string) (*PrivateEndpoint, error) {
	return first[PrivateEndpoint](txn, TableEndpoints, indexID, strings.ToLower(id))
}

// GetPrivateEndpoint returns a private endpoint by ARM id, nil when absent.
func (s *Store) GetPrivateEndpoint(id string) (*PrivateEndpoint, error) {
	return first[PrivateEndpoint](s.db.Txn(false), TableEndpoints, indexID, strings.ToLower(id))
}

// DeletePrivateEndpoint removes a private endpoint by ARM id.
func (s *Store) DeletePrivateEndpoint(id string) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		_, err := txn.DeleteAll(TableEndpoints, indexID, strings.ToLower(id))
		return nil, err
	})
}

// ListPrivateEndpoints returns every private endpoint.
func (s *Store) ListPrivateEndpoints() ([]*PrivateEndpoint, error) {
	return all[PrivateEndpoint](s.db.Txn(false), TableEndpoints, indexID)
}

// ApprovedEndpoints returns the ARM ids of the registries a VNet reaches through approved
// private endpoint connections.
func (s *Store) ApprovedEndpoints(vnet string) ([]string, error) {
	pes, err := s.ListPrivateEndpoints()
	var out []string
	for _, pe := range pes {
		if strings.EqualFold(pe.VNet, vnet) && pe.Status == "Approved" {
			out = append(out, pe.RegistryID)
		}
	}
	return out, err
}

// DeleteResource forgets a resource and its system-assigned identity.
func (s *Store) DeleteResource(id string) error {
	return s.write(func(txn *memdb.Txn) ([]digest.Digest, error) {
		r, err := first[Resource](txn, TableResources, indexID, strings.ToLower(id))
		if err != nil || r == nil {
			return nil, err
		}
		if r.SystemPrincipalID != "" {
			if _, err := txn.DeleteAll(TableAssignments, indexPrinc, strings.ToLower(r.SystemPrincipalID)); err != nil {
				return nil, err
			}
			if _, err := txn.DeleteAll(TablePrincipals, indexID, strings.ToLower(r.SystemPrincipalID)); err != nil {
				return nil, err
			}
		}
		return nil, txn.Delete(TableResources, r)
	})
}

// GetResource returns a resource by ARM id, nil when absent.
func (s *Store) GetResource(id string) (*Resource, error) {
	return first[Resource](s.db.Txn(false), TableResources, indexID, strings.ToLower(id))
}
