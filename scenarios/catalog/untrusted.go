package catalog

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/scenarios"
	"github.com/google/go-containerregistry/pkg/authn"
)

// The services users most often take for trusted: Azure Container Apps and AKS. Neither is
// on ACR's trusted-services list, so "Allow trusted Microsoft services" does nothing for
// them; their outbound IP in the firewall, or a private endpoint in their VNet, does.

const (
	acaAPI = "?api-version=2024-03-01"
	aksAPI = "?api-version=2024-05-01"
)

// deniedIn finds a denied request of origin in the registry's audit and returns its client IP.
func deniedIn(ctx context.Context, s *scenarios.Session, origin string) (string, error) {
	entries, err := s.Audit(ctx, registry, "denied")
	if err != nil {
		return "", err
	}
	for i := len(entries) - 1; i >= 0; i-- {
		if entries[i].Origin == origin {
			return entries[i].ClientIP, nil
		}
	}
	return "", fmt.Errorf("the audit has no denied request from %s", origin)
}

// containerAppsNotTrusted: a container app pulls with its identity's AcrPull from an open
// registry, fails with ACR's 403 for its outbound IP once public access is disabled (trusted
// services on), and succeeds once that IP is allowed in the firewall.
func containerAppsNotTrusted() scenarios.Scenario {
	var ref, login, principal string
	var auth authn.Authenticator
	env := func(s *scenarios.Session) string {
		return s.ResourceGroupPath() + "/providers/Microsoft.App/managedEnvironments/scenario-aca-env"
	}
	app := func(s *scenarios.Session) string {
		return s.ResourceGroupPath() + "/providers/Microsoft.App/containerApps/scenario-aca"
	}
	// deploy (re)creates the app and returns its provisioning state and its operation's error.
	deploy := func(ctx context.Context, s *scenarios.Session) (string, string, error) {
		status, h, body, err := s.ARMResponse(ctx, http.MethodPut, app(s)+acaAPI, map[string]any{
			"location": "eastus", "identity": map[string]any{"type": "SystemAssigned"},
			"properties": map[string]any{"managedEnvironmentId": env(s),
				"configuration": map[string]any{"registries": []any{map[string]any{"server": login, "identity": "system"}}},
				"template":      map[string]any{"containers": []any{map[string]any{"name": "web", "image": ref}}}}})
		if err != nil {
			return "", "", err
		}
		if status != http.StatusCreated && status != http.StatusOK {
			return "", "", fmt.Errorf("PUT container app: %d %v", status, body["error"])
		}
		principal, _ = scenarios.Prop(body, "identity", "principalId").(string)
		op, err := s.Operation(ctx, h)
		if err != nil {
			return "", "", err
		}
		state, _ := scenarios.Prop(body, "properties", "provisioningState").(string)
		msg, _ := scenarios.Prop(op, "error", "message").(string)
		return state, msg, nil
	}
	return scenarios.Scenario{
		Name: "containerapps-not-trusted",
		Cleanup: reopen("/providers/Microsoft.App/containerApps/scenario-aca"+acaAPI,
			"/providers/Microsoft.App/managedEnvironments/scenario-aca-env"+acaAPI),
		Summary: "Azure Container Apps is not a trusted service: its pulls pass network rules only by its outbound IP (or a private endpoint)",
		Steps: func() []scenarios.Step {
			return []scenarios.Step{
				pushStep(&ref, &login, &auth, "scenarios/aca"),
				{Do: "create a Container Apps environment and an app with a system-assigned identity pulling with it; give the identity AcrPull",
					Expect: "the app is Succeeded (the registry is open)",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						status, body, err := s.ARM(ctx, http.MethodPut, env(s)+acaAPI, map[string]any{"location": "eastus", "properties": map[string]any{}})
						if err != nil {
							return "", err
						}
						if status != http.StatusCreated && status != http.StatusOK {
							return "", fmt.Errorf("PUT environment: %d %v", status, body["error"])
						}
						if _, _, err := deploy(ctx, s); err != nil { // creates the identity
							return "", err
						}
						if err := assignAcrPull(ctx, s, principal); err != nil {
							return "", err
						}
						state, msg, err := deploy(ctx, s)
						if err == nil {
							err = expectState(state, msg, "Succeeded", "")
						}
						return state, err
					}},
				deployStep("disable public network access; trusted services stay allowed; redeploy",
					"Failed: ContainerAppOperationError, DENIED: client with IP '<Container Apps outbound IP>'",
					map[string]any{"publicNetworkAccess": "Disabled", "networkRuleBypassOptions": "AzureServices"}, deploy, "Failed",
					"is not allowed access. Refer https://aka.ms/acr/firewall to grant access."),
				{Do: "read the registry's audit", Expect: "the denied requests came from the containerapps origin, with its outbound IP",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						ip, err := deniedIn(ctx, s, "containerapps")
						return "denied: containerapps from " + ip, err
					}},
				{Do: "turn public access on with default action Deny, allowing only the app's outbound IP (properties.outboundIpAddresses)",
					Expect: "the redeployed app is Succeeded",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						_, body, err := s.ARM(ctx, http.MethodGet, app(s)+acaAPI, nil)
						if err != nil {
							return "", err
						}
						ips, _ := scenarios.Prop(body, "properties", "outboundIpAddresses").([]any)
						if len(ips) == 0 {
							return "", fmt.Errorf("the app shows no outboundIpAddresses")
						}
						ip := fmt.Sprint(ips[0])
						if err := s.PatchRegistry(ctx, registry, map[string]any{"publicNetworkAccess": "Enabled",
							"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": []any{map[string]string{"action": "Allow", "value": ip}}}}); err != nil {
							return "", err
						}
						state, msg, err := deploy(ctx, s)
						if err == nil {
							err = expectState(state, msg, "Succeeded", "")
						}
						return "ipRules [" + ip + "]: " + state, err
					}},
			}
		},
	}
}

// aksPrivateEndpoint: an AKS cluster whose node pool is in the VNet appvnet pulls with its
// kubelet identity (AcrPull, as az aks update --attach-acr assigns it); with public access
// disabled its pods fail to pull (trusted services on), until appvnet has a private endpoint
// to the registry.
func aksPrivateEndpoint() scenarios.Scenario {
	var ref, login string
	var auth authn.Authenticator
	const cluster, pe = "scenario-aks", "scenario-aks-pe"
	path := func(s *scenarios.Session) string {
		return s.ResourceGroupPath() + "/providers/Microsoft.ContainerService/managedClusters/" + cluster
	}
	// kubectl runs a command line on the cluster as az aks command invoke does.
	kubectl := func(ctx context.Context, s *scenarios.Session, command string) (string, error) {
		status, h, body, err := s.ARMResponse(ctx, http.MethodPost, path(s)+"/runCommand"+aksAPI, map[string]any{"command": command})
		if err != nil {
			return "", err
		}
		if status != http.StatusAccepted {
			return "", fmt.Errorf("runCommand: %d %v", status, body["error"])
		}
		res, err := s.Operation(ctx, h)
		logs, _ := scenarios.Prop(res, "properties", "logs").(string)
		return logs, err
	}
	runPod := func(name, want string) func(context.Context, *scenarios.Session) (string, error) {
		return func(ctx context.Context, s *scenarios.Session) (string, error) {
			logs, err := kubectl(ctx, s, "kubectl run "+name+" --image="+ref+" && kubectl get pod "+name)
			if err != nil {
				return "", err
			}
			if !strings.Contains(logs, want) {
				return logs, fmt.Errorf("pod %s is not %s", name, want)
			}
			return strings.TrimSpace(logs), nil
		}
	}
	return scenarios.Scenario{
		Name: "aks-private-endpoint",
		Cleanup: reopen("/providers/Microsoft.ContainerService/managedClusters/"+cluster+aksAPI,
			"/providers/Microsoft.Network/privateEndpoints/"+pe+peAPI),
		Summary: "AKS is not a trusted service: its kubelet pulls through a registry with public access disabled only from a VNet with a private endpoint",
		Steps: func() []scenarios.Step {
			steps := lockdownSteps(&ref, &login, &auth, "scenarios/aks")
			return append(steps,
				scenarios.Step{Do: "create a cluster whose node pool is in " + vnet + "; give its kubelet identity AcrPull (az aks update --attach-acr)",
					Expect: "the cluster exists, its kubelet identity holds AcrPull",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						status, body, err := s.ARM(ctx, http.MethodPut, path(s)+aksAPI, map[string]any{"location": "eastus", "identity": map[string]any{"type": "SystemAssigned"},
							"properties": map[string]any{"dnsPrefix": cluster, "agentPoolProfiles": []any{map[string]any{"name": "nodepool1", "count": 1, "mode": "System",
								"vmSize": "Standard_DS2_v2", "vnetSubnetID": s.ResourceGroupPath() + "/providers/Microsoft.Network/virtualNetworks/" + vnet + "/subnets/default"}}}})
						if err != nil {
							return "", err
						}
						if status != http.StatusCreated && status != http.StatusOK {
							return "", fmt.Errorf("PUT cluster: %d %v", status, body["error"])
						}
						kubelet, _ := scenarios.Prop(body, "properties", "identityProfile", "kubeletidentity", "objectId").(string)
						return "AcrPull for the kubelet identity " + kubelet, assignAcrPull(ctx, s, kubelet)
					}},
				scenarios.Step{Do: "run a pod with the image (kubectl run, through az aks command invoke's runCommand)", Expect: "ErrImagePull: the registry refuses AKS's outbound IP",
					Run: runPod("app", "ErrImagePull")},
				scenarios.Step{Do: "read the registry's audit", Expect: "the denied requests came from the aks origin",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						ip, err := deniedIn(ctx, s, "aks")
						return "denied: aks from " + ip, err
					}},
				scenarios.Step{Do: "create a private endpoint in " + vnet + " to " + registry + " (approved automatically)", Expect: "a new pod pulls its image: Running",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						status, body, err := s.ARM(ctx, http.MethodPut, s.ResourceGroupPath()+"/providers/Microsoft.Network/privateEndpoints/"+pe+peAPI, map[string]any{
							"location": "eastus", "properties": map[string]any{
								"subnet": map[string]any{"id": s.ResourceGroupPath() + "/providers/Microsoft.Network/virtualNetworks/" + vnet + "/subnets/default"},
								"privateLinkServiceConnections": []any{map[string]any{"name": pe, "properties": map[string]any{
									"privateLinkServiceId": s.RegistryPath(registry), "groupIds": []any{"registry"}}}}}})
						if err != nil {
							return "", err
						}
						if status != http.StatusCreated && status != http.StatusOK {
							return "", fmt.Errorf("PUT private endpoint: %d %v", status, body["error"])
						}
						return runPod("app2", "Running")(ctx, s)
					}},
			)
		},
	}
}
