// Package aks simulates Azure Kubernetes Service (Microsoft.ContainerService/managedClusters)
// as far as a registry can tell. A cluster has a kubelet identity: one AKS creates in the
// node resource group (<cluster>-agentpool in MC_<group>_<cluster>_<location>), or a
// user-assigned identity given in identityProfile.kubeletidentity. Pods pull their images
// with it, the way kubelet's ACR credential provider does, from the cluster's outbound IP, or
// from the VNet of its node pool's subnet (agentPoolProfiles[].vnetSubnetID). AKS is not one
// of ACR's trusted services: a network-restricted registry lets it in only by that IP or a
// private endpoint of that VNet. az aks update --attach-acr gives the kubelet identity
// AcrPull (a role assignment for its objectId).
//
// Pods are started the way az aks command invoke does it: POST .../runCommand with a kubectl
// command line, answered 202 with the Location of its commandResults. The emulator
// understands kubectl run NAME --image=IMAGE (the pull happens there), kubectl get pods
// [NAME], kubectl describe pod NAME and kubectl delete pod NAME; other commands exit 1 saying
// so. Nothing runs: a pod is Running once its image is pulled, or ErrImagePull with
// kubelet's event.
package aks

import (
	"context"
	"net/http"
	"strings"
	"sync"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/fakes/armio"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
)

const (
	clusterType  = "Microsoft.ContainerService/managedClusters"
	identityType = "Microsoft.ManagedIdentity/userAssignedIdentities"
)

// Service serves managed clusters, their run commands and the pods those start.
type Service struct {
	p      platform.Platform
	server *platform.Server
	mu     sync.Mutex
	pods   map[string]map[string]*pod // by lowercase cluster id, then pod name
	runs   map[string]any             // command results, by lowercase id
	order  []string                   // command result ids, oldest first (bounded)
	// managed are the kubelet identities AKS created (lowercase ids): a PUT that names one
	// (az aks update sends the cluster back) is not bringing its own.
	managed map[string]bool
}

// maxResults bounds the command results kept: clients read theirs at once.
const maxResults = 1000

// New returns the service.
func New(p platform.Platform) *Service {
	s := &Service{p: p, pods: map[string]map[string]*pod{}, runs: map[string]any{}, managed: map[string]bool{}}
	s.server = platform.Serve(p, s.clusters())
	s.server.Extra = s.extra
	return s
}

// Handler serves the Microsoft.ContainerService provider (already authenticated by ARM).
func (s *Service) Handler() http.Handler { return s.server }

func (s *Service) clusters() *platform.Workload[clusterBody] {
	return &platform.Workload[clusterBody]{Type: clusterType, Noun: "cluster", Origin: network.ServiceAKS,
		Identity: func(b *clusterBody) (bool, []string) {
			system, user := b.Identity.Assigned()
			if b.Identity == nil {
				system = true // az aks create's default: a system-assigned control plane identity
			}
			if k := b.kubeletID(); k != "" && !s.isManaged(k) {
				user = append(user, k) // bring your own kubelet identity
			}
			return system, user
		},
		Prepare: s.prepare, Outcome: clusterJSON,
		Deleted: func(p platform.Platform, k *platform.Kept) error {
			b := k.Body.(*clusterBody)
			s.mu.Lock()
			delete(s.pods, strings.ToLower(k.ID))
			s.mu.Unlock()
			if b.kubeletRef == platform.SystemIdentity {
				s.mu.Lock()
				delete(s.managed, strings.ToLower(b.managedKubelet))
				s.mu.Unlock()
				return p.Detach(b.managedKubelet)
			}
			return nil
		}}
}

type userIdentity struct {
	ResourceID string `json:"resourceId"`
	ClientID   string `json:"clientId,omitempty"`
	ObjectID   string `json:"objectId,omitempty"`
}

type agentPool struct {
	Name         string `json:"name"`
	Count        int    `json:"count,omitempty"`
	VMSize       string `json:"vmSize,omitempty"`
	Mode         string `json:"mode,omitempty"`
	OSType       string `json:"osType,omitempty"`
	VnetSubnetID string `json:"vnetSubnetID,omitempty"`
}

type clusterBody struct {
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Identity   *armio.Identity   `json:"identity"`
	Properties struct {
		KubernetesVersion string                   `json:"kubernetesVersion"`
		DNSPrefix         string                   `json:"dnsPrefix"`
		NodeResourceGroup string                   `json:"nodeResourceGroup"`
		AgentPoolProfiles []agentPool              `json:"agentPoolProfiles"`
		IdentityProfile   map[string]*userIdentity `json:"identityProfile"`
		NetworkProfile    any                      `json:"networkProfile,omitempty"`
	} `json:"properties"`
	// What prepare derived: the AKS-managed kubelet identity's id (computed from the
	// cluster), and the identities and reference the kubelet pulls with.
	managedKubelet string
	kubelet        platform.Identities
	kubeletRef     string
}

func (s *Service) isManaged(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.managed[strings.ToLower(id)]
}

func (b *clusterBody) kubeletID() string {
	if k := b.Properties.IdentityProfile["kubeletidentity"]; k != nil {
		return k.ResourceID
	}
	return ""
}

// vnet is the VNet of the first node pool that has a subnet.
func (b *clusterBody) vnet() string {
	for _, p := range b.Properties.AgentPoolProfiles {
		if v := platform.VNetOf(p.VnetSubnetID); v != "" {
			return v
		}
	}
	return ""
}

// prepare fills in what AKS derives: the node resource group, and the kubelet identity (the
// one given, or one AKS creates and owns, which no caller needs rights on).
func (s *Service) prepare(r platform.Request[clusterBody]) error {
	b := r.Body
	if len(b.Properties.AgentPoolProfiles) == 0 {
		return platform.BadRequest("InvalidParameter", "properties.agentPoolProfiles must have at least one node pool.")
	}
	if b.Properties.NodeResourceGroup == "" {
		b.Properties.NodeResourceGroup = "MC_" + r.ID.ResourceGroup + "_" + r.ID.Name() + "_" + b.Location
	}
	b.managedKubelet = "/subscriptions/" + r.ID.Subscription + "/resourcegroups/" + b.Properties.NodeResourceGroup +
		"/providers/" + identityType + "/" + r.ID.Name() + "-agentpool"
	if b.Properties.IdentityProfile == nil {
		b.Properties.IdentityProfile = map[string]*userIdentity{}
	}
	given := b.Properties.IdentityProfile["kubeletidentity"]
	if given != nil && given.ResourceID != "" && !s.isManaged(given.ResourceID) {
		u := r.Identities.UserIdentity(given.ResourceID)
		if u == nil {
			return platform.BadRequest("InvalidParameter", "The kubelet identity %s is not a user-assigned identity of the cluster.", given.ResourceID)
		}
		b.kubelet, b.kubeletRef = r.Identities, given.ResourceID
		b.Properties.IdentityProfile["kubeletidentity"] = &userIdentity{ResourceID: given.ResourceID, ClientID: u.ClientID, ObjectID: u.PrincipalID}
		return nil
	}
	// The emulator's own request: the identity is AKS's, not the caller's to assign.
	ids, err := r.Platform.Attach(context.Background(), identityType, b.managedKubelet, true, nil)
	if err != nil {
		return err
	}
	b.kubelet, b.kubeletRef = ids, platform.SystemIdentity
	s.mu.Lock()
	s.managed[strings.ToLower(b.managedKubelet)] = true
	s.mu.Unlock()
	b.Properties.IdentityProfile["kubeletidentity"] = &userIdentity{ResourceID: b.managedKubelet, ClientID: ids.System.ClientID, ObjectID: ids.System.PrincipalID}
	return nil
}

func clusterJSON(r platform.Request[clusterBody], _ []platform.PullResult) any {
	b := r.Body
	version := b.Properties.KubernetesVersion
	if version == "" {
		version = "1.30.5"
	}
	dns := b.Properties.DNSPrefix
	if dns == "" {
		dns = r.ID.Name() + "-dns"
	}
	pools := []any{}
	for _, p := range b.Properties.AgentPoolProfiles {
		pool := map[string]any{"name": p.Name, "count": p.Count, "vmSize": p.VMSize, "mode": orDefault(p.Mode, "System"),
			"osType": orDefault(p.OSType, "Linux"), "provisioningState": "Succeeded", "powerState": map[string]string{"code": "Running"},
			"orchestratorVersion": version, "type": "VirtualMachineScaleSets"}
		if p.VnetSubnetID != "" {
			pool["vnetSubnetID"] = p.VnetSubnetID
		}
		pools = append(pools, pool)
	}
	typ := "SystemAssigned"
	if b.Identity != nil {
		typ = b.Identity.Type
	}
	return map[string]any{"id": r.ID.String(), "name": r.ID.Name(), "type": clusterType, "location": b.Location, "tags": b.Tags,
		"identity": r.Identities.JSON(typ, r.TenantID), "sku": map[string]string{"name": "Base", "tier": "Free"},
		"properties": map[string]any{"provisioningState": "Succeeded", "powerState": map[string]string{"code": "Running"},
			"kubernetesVersion": version, "currentKubernetesVersion": version, "dnsPrefix": dns,
			"fqdn": dns + ".hcp." + b.Location + ".azmk8s.io", "nodeResourceGroup": b.Properties.NodeResourceGroup,
			"agentPoolProfiles": pools, "identityProfile": b.Properties.IdentityProfile, "networkProfile": b.Properties.NetworkProfile,
			// What AKS shows for a cluster with a managed identity (az aks show expects the block).
			"servicePrincipalProfile": map[string]string{"clientId": "msi"},
			"enableRBAC":              true}}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// extra serves what is under a cluster: runCommand and its commandResults.
func (s *Service) extra(w http.ResponseWriter, r *http.Request, id armid.ID) error {
	notServed := platform.Errorf(http.StatusNotFound, "NotFound", "The requested resource does not exist or is not supported by the emulator: %s %s", r.Method, r.URL.Path)
	if len(id.Types) != 2 || !strings.EqualFold(id.Types[0], "managedClusters") {
		return notServed
	}
	cluster := s.server.Get(id.Resource(1).String())
	switch t := strings.ToLower(id.Types[1]); {
	case t == "runcommand" && id.Collection() && r.Method == http.MethodPost:
		if cluster == nil {
			return platform.NotFound(id.Resource(1))
		}
		return s.runCommand(w, r, id.Resource(1), cluster)
	case t == "commandresults" && !id.Collection() && r.Method == http.MethodGet:
		s.mu.Lock()
		res, ok := s.runs[strings.ToLower(id.String())]
		s.mu.Unlock()
		if !ok {
			return platform.Errorf(http.StatusNotFound, "NotFound", "The command result '%s' was not found.", id.Name())
		}
		armio.WriteJSON(w, http.StatusOK, res)
		return nil
	}
	return notServed
}
