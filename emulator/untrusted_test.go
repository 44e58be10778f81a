package emulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const (
	registryID = rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	subnet     = rg + "/providers/Microsoft.Network/virtualNetworks/appvnet/subnets/default"
	acrPull    = "/subscriptions/22222222-2222-2222-2222-222222222222/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d"
)

// pushed pushes a small image to the default registry as its admin and returns its reference.
func pushedRef(t *testing.T, emu *emulatortest.Emulator, repo string) string {
	t.Helper()
	ref := emu.Registry().Host + "/" + repo + ":v1"
	u, p := emu.Admin()
	img, _ := random.Image(512, 1)
	r, _ := name.ParseReference(ref)
	if err := remote.Write(r, img, remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: u, Password: p})); err != nil {
		t.Fatal(err)
	}
	return ref
}

// deniedFor reports whether the audit holds a denied manifest or token request of origin from ip.
func deniedFor(t *testing.T, emu *emulatortest.Emulator, origin, ip string) bool {
	t.Helper()
	res, err := http.Get(emu.HTTPURL() + "/_emulator/audit?registry=myregistry&decision=denied")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var audit struct {
		Entries []struct{ Origin, ClientIP, Decision string } `json:"entries"`
	}
	_ = json.NewDecoder(res.Body).Decode(&audit)
	for _, e := range audit.Entries {
		if e.Origin == origin && e.ClientIP == ip {
			return true
		}
	}
	return false
}

func lockdown(t *testing.T, arm func(string, string, any) (int, map[string]any), props map[string]any) {
	t.Helper()
	if status, out := arm("PATCH", registryID, map[string]any{"properties": props}); status != 200 {
		t.Fatalf("PATCH registry: %d %v", status, out)
	}
}

func privateEndpoint(t *testing.T, arm func(string, string, any) (int, map[string]any), name string) {
	t.Helper()
	status, out := arm("PUT", rg+"/providers/Microsoft.Network/privateEndpoints/"+name, map[string]any{"location": "eastus", "properties": map[string]any{
		"subnet": map[string]any{"id": subnet},
		"privateLinkServiceConnections": []any{map[string]any{"name": name, "properties": map[string]any{
			"privateLinkServiceId": registryID, "groupIds": []any{"registry"}}}}}})
	if status != 201 && status != 200 {
		t.Fatalf("PUT private endpoint: %d %v", status, out)
	}
}

func assignPull(t *testing.T, arm func(string, string, any) (int, map[string]any), principal, guid string) {
	t.Helper()
	if status, out := arm("PUT", registryID+"/providers/Microsoft.Authorization/roleAssignments/"+guid, map[string]any{
		"properties": map[string]any{"roleDefinitionId": acrPull, "principalId": principal, "principalType": "ServicePrincipal"}}); status != 201 {
		t.Fatalf("AcrPull for %s: %d %v", principal, status, out)
	}
}

// Container Apps is not a trusted service: with AcrPull it pulls from an open registry, fails
// with ACR's 403 for its outbound IP once network rules apply (trusted services on or not),
// and gets in by an IP rule or from an environment's VNet with a private endpoint. A failed
// pull fails the app's asynchronous operation as Container Apps reports it.
func TestContainerAppsAreNotTrusted(t *testing.T) {
	emu := emulatortest.New(t)
	arm := armClient(t, emu)
	image := pushedRef(t, emu, "aca/app")
	envs := rg + "/providers/Microsoft.App/managedEnvironments/"
	for name, body := range map[string]map[string]any{
		"public-env": {"location": "eastus", "properties": map[string]any{}},
		"vnet-env":   {"location": "eastus", "properties": map[string]any{"vnetConfiguration": map[string]any{"infrastructureSubnetId": subnet}}},
	} {
		if status, out := arm("PUT", envs+name, body); status != 201 {
			t.Fatalf("PUT %s: %d %v", name, status, out)
		}
	}
	// app PUTs a container app and returns its provisioning state, its operation's outcome
	// and its body.
	app := func(name, env string) (string, map[string]any, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("PUT", emu.HTTPSURL()+rg+"/providers/Microsoft.App/containerApps/"+name+"?api-version=2024-03-01", strings.NewReader(mustJSON(map[string]any{
			"location": "eastus", "identity": map[string]any{"type": "SystemAssigned"},
			"properties": map[string]any{"managedEnvironmentId": envs + env,
				"configuration": map[string]any{"registries": []any{map[string]any{"server": emu.Registry().Host, "identity": "system"}}},
				"template":      map[string]any{"containers": []any{map[string]any{"name": "web", "image": image}}}}})))
		res := doARM(t, emu, req)
		op := res.Header.Get("Azure-AsyncOperation")
		if res.StatusCode != 201 && res.StatusCode != 200 || op == "" {
			t.Fatalf("PUT app: %d %v", res.StatusCode, res.Header)
		}
		_, status := arm("GET", op[strings.Index(op, "/subscriptions"):strings.Index(op, "?")], nil)
		_, body := arm("GET", rg+"/providers/Microsoft.App/containerApps/"+name, nil)
		state, _ := get(body, "properties", "provisioningState").(string)
		return state, status, body
	}
	// A new system identity holds no role: Container Apps fails the revision.
	state, op, body := app("web", "public-env")
	msg := fmt.Sprint(get(op, "error", "message"))
	if state != "Failed" || op["status"] != "Failed" || get(op, "error", "code") != "ContainerAppOperationError" ||
		!strings.HasPrefix(msg, "Failed to provision revision for container app 'web'. Field 'template.containers.web.image' is invalid with details: 'Invalid value: \""+image+"\": GET https:: UNAUTHORIZED:") {
		t.Fatalf("without a role: %s %v", state, op)
	}
	assignPull(t, arm, fmt.Sprint(get(body, "identity", "principalId")), "9a9a9a9a-0000-4000-8000-0000000000c1")
	if state, op, _ := app("web", "public-env"); state != "Succeeded" || op["status"] != "Succeeded" {
		t.Fatalf("open registry with AcrPull: %s %v", state, op)
	}
	denied := "GET https:: DENIED: client with IP '20.0.0.10' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.'"
	lockdown(t, arm, map[string]any{"publicNetworkAccess": "Disabled", "networkRuleBypassOptions": "AzureServices"})
	if state, op, _ := app("web", "public-env"); state != "Failed" || !strings.HasSuffix(fmt.Sprint(get(op, "error", "message")), denied) {
		t.Fatalf("public access disabled, trusted services on: %s %v", state, op)
	}
	if !deniedFor(t, emu, "containerapps", "20.0.0.10") {
		t.Fatal("the audit does not name Container Apps")
	}
	// From the VNet without a private endpoint: still the public endpoint, still refused.
	if state, op, _ := app("web", "vnet-env"); state != "Failed" || !strings.HasSuffix(fmt.Sprint(get(op, "error", "message")), denied) {
		t.Fatalf("VNet without a private endpoint: %s %v", state, op)
	}
	privateEndpoint(t, arm, "aca-pe")
	if state, op, _ := app("web", "vnet-env"); state != "Succeeded" {
		t.Fatalf("VNet with a private endpoint: %s %v", state, op)
	}
	if state, _, _ := app("web", "public-env"); state != "Failed" {
		t.Fatalf("the private endpoint let the public environment in: %s", state)
	}
	// Its outbound IP in the firewall's rules lets it in.
	lockdown(t, arm, map[string]any{"publicNetworkAccess": "Enabled", "networkRuleSet": map[string]any{"defaultAction": "Deny",
		"ipRules": []any{map[string]string{"value": "20.0.0.10"}}}})
	if state, op, _ := app("web", "public-env"); state != "Succeeded" {
		t.Fatalf("outbound IP allowed: %s %v", state, op)
	}
	if status, _ := arm("PUT", rg+"/providers/Microsoft.App/containerApps/noenv", map[string]any{"location": "eastus",
		"properties": map[string]any{"managedEnvironmentId": envs + "nothere", "template": map[string]any{"containers": []any{map[string]any{"name": "x", "image": image}}}}}); status != 400 {
		t.Fatalf("an app in a missing environment: %d", status)
	}
}

// AKS is not a trusted service either: a pod's image is pulled with the kubelet identity
// (AcrPull, as az aks update --attach-acr assigns it), from the cluster's outbound IP, or
// from its node pool's VNet, through that VNet's private endpoint.
func TestAKSPullsWithTheKubeletIdentity(t *testing.T) {
	emu := emulatortest.New(t)
	arm := armClient(t, emu)
	image := pushedRef(t, emu, "aks/app")
	clusters := rg + "/providers/Microsoft.ContainerService/managedClusters/"
	cluster := func(name, vnetSubnet string) map[string]any {
		t.Helper()
		pool := map[string]any{"name": "nodepool1", "count": 1, "vmSize": "Standard_DS2_v2", "mode": "System"}
		if vnetSubnet != "" {
			pool["vnetSubnetID"] = vnetSubnet
		}
		status, out := arm("PUT", clusters+name, map[string]any{"location": "eastus", "identity": map[string]any{"type": "SystemAssigned"},
			"properties": map[string]any{"dnsPrefix": name, "agentPoolProfiles": []any{pool}}})
		if status != 201 && status != 200 {
			t.Fatalf("PUT cluster: %d %v", status, out)
		}
		return out
	}
	// kubectl runs a command line on a cluster as az aks command invoke does.
	kubectl := func(name, command string) (string, float64) {
		t.Helper()
		req, _ := http.NewRequest("POST", emu.HTTPSURL()+clusters+name+"/runCommand?api-version=2024-05-01", strings.NewReader(mustJSON(map[string]any{"command": command})))
		res := doARM(t, emu, req)
		loc := res.Header.Get("Location")
		if res.StatusCode != 202 || !strings.Contains(loc, "/managedClusters/"+name+"/commandResults/") {
			t.Fatalf("runCommand: %d %v", res.StatusCode, res.Header)
		}
		status, out := arm("GET", loc[strings.Index(loc, "/subscriptions"):strings.Index(loc, "?")], nil)
		if status != 200 || get(out, "properties", "provisioningState") != "Succeeded" {
			t.Fatalf("command result: %d %v", status, out)
		}
		logs, _ := get(out, "properties", "logs").(string)
		exit, _ := get(out, "properties", "exitCode").(float64)
		return logs, exit
	}
	out := cluster("public", "")
	kubeletObject := fmt.Sprint(get(out, "properties", "identityProfile", "kubeletidentity", "objectId"))
	kubeletID := fmt.Sprint(get(out, "properties", "identityProfile", "kubeletidentity", "resourceId"))
	if !strings.HasSuffix(kubeletID, "/resourcegroups/MC_demo-rg_public_eastus/providers/Microsoft.ManagedIdentity/userAssignedIdentities/public-agentpool") ||
		get(out, "identity", "principalId") == nil {
		t.Fatalf("cluster: %v", out)
	}
	if logs, exit := kubectl("public", "kubectl run app --image="+image+" --restart=Never"); exit != 0 || logs != "pod/app created\n" {
		t.Fatalf("kubectl run: %d %q", int(exit), logs)
	}
	if logs, _ := kubectl("public", "kubectl get pod app"); !strings.Contains(logs, "ErrImagePull") {
		t.Fatalf("a pod pulled without AcrPull for the kubelet identity: %q", logs)
	}
	assignPull(t, arm, kubeletObject, "9a9a9a9a-0000-4000-8000-0000000000d1")
	if logs, _ := kubectl("public", "kubectl run app2 --image "+image+" && kubectl get pods app2"); !strings.Contains(logs, "app2   1/1     Running") {
		t.Fatalf("with AcrPull: %q", logs)
	}
	lockdown(t, arm, map[string]any{"publicNetworkAccess": "Disabled", "networkRuleBypassOptions": "AzureServices"})
	kubectl("public", "kubectl run app3 --image="+image)
	logs, _ := kubectl("public", "kubectl describe pod app3")
	if !strings.Contains(logs, "Failed to pull image \""+image+"\": rpc error: code = Unknown desc = failed to pull and unpack image") ||
		!strings.Contains(logs, ": 403 Forbidden") {
		t.Fatalf("public access disabled, trusted services on: %q", logs)
	}
	if !deniedFor(t, emu, "aks", "20.0.0.11") {
		t.Fatal("the audit does not name AKS")
	}
	// A cluster whose node pool is in appvnet, with a private endpoint there.
	out = cluster("private", subnet)
	assignPull(t, arm, fmt.Sprint(get(out, "properties", "identityProfile", "kubeletidentity", "objectId")), "9a9a9a9a-0000-4000-8000-0000000000d2")
	if logs, _ := kubectl("private", "kubectl run app --image="+image+"; kubectl get pods"); !strings.Contains(logs, "ErrImagePull") {
		t.Fatalf("VNet without a private endpoint: %q", logs)
	}
	privateEndpoint(t, arm, "aks-pe")
	if logs, _ := kubectl("private", "kubectl delete pod app && kubectl run app --image="+image+" && kubectl get pods"); !strings.Contains(logs, "Running") {
		t.Fatalf("VNet with a private endpoint: %q", logs)
	}
	if logs, exit := kubectl("private", "kubectl apply -f app.yaml"); exit != 1 || !strings.Contains(logs, "the emulator runs kubectl run") {
		t.Fatalf("an unsupported command: %d %q", int(exit), logs)
	}
	// Deleting the cluster removes the kubelet identity AKS created.
	if p, _ := emu.Store().GetPrincipal(kubeletObject); p == nil {
		t.Fatal("the kubelet identity is not a principal")
	}
	if status, _ := arm("DELETE", clusters+"public", nil); status != 200 {
		t.Fatalf("DELETE cluster: %d", status)
	}
	if p, _ := emu.Store().GetPrincipal(kubeletObject); p != nil {
		t.Fatal("the kubelet identity outlived its cluster")
	}
}
