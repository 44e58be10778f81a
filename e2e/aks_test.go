package e2e

import (
	"github.com/acr-emulator/acr-emulator/e2e/harness"
	"strings"
	"testing"
)

// TestAzureCLIAKS drives the simulated AKS with the real az CLI: az aks show gives the kubelet
// identity (AcrPull for it is what az aks update --attach-acr assigns), and az aks command
// invoke runs kubectl run,
// whose pod pulls through the registry while it is open, and fails once public access is
// disabled (AKS is not a trusted service).
func TestAzureCLIAKS(t *testing.T) {
	emu := harness.Start(t)
	_, _, run := azLogin(t, emu)
	base := "https://" + emu.RegistryHost()
	cluster := "/subscriptions/" + subscription + "/resourceGroups/demo-rg/providers/Microsoft.ContainerService/managedClusters/aks1"
	run("rest", "--method", "put", "--url", base+cluster+"?api-version=2024-05-01", "--body",
		`{"location":"eastus","identity":{"type":"SystemAssigned"},"properties":{"dnsPrefix":"aks1","agentPoolProfiles":[{"name":"nodepool1","count":1,"vmSize":"Standard_DS2_v2","mode":"System"}]}}`,
		"-o", "none")
	src := t.TempDir()
	writeLayout(t, src, 1)
	crane := harness.Tool(t, "CRANE", "crane")
	if out, err := emu.TryRun(t, crane, "push", src, emu.RegistryHost()+"/aks/app:v1"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	image := emu.RegistryHost() + "/aks/app:v1"
	invoke := func(command string) string {
		t.Helper()
		return run("aks", "command", "invoke", "-g", "demo-rg", "-n", "aks1", "--command", command)
	}
	if out := invoke("kubectl run before --image=" + image + " && kubectl get pod before"); !strings.Contains(out, "ErrImagePull") {
		t.Fatalf("a pod pulled before --attach-acr:\n%s", out)
	}
	// What az aks update --attach-acr does: AcrPull on the registry for the kubelet identity's
	// objectId. (Debian's az 2.45 fails in its own role-assignment code, 'RoleAssignmentsOperations'
	// object has no attribute 'config', for --attach-acr as for az role assignment create; az rest
	// sends the same request.)
	kubelet := run("aks", "show", "-g", "demo-rg", "-n", "aks1", "--query", "identityProfile.kubeletidentity.objectId", "-o", "tsv")
	registry := "/subscriptions/" + subscription + "/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry"
	run("rest", "--method", "put", "--url", base+registry+"/providers/Microsoft.Authorization/roleAssignments/0e0e0e0e-0000-4000-8000-000000000001?api-version=2022-04-01",
		"--body", `{"properties":{"roleDefinitionId":"/subscriptions/`+subscription+`/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d","principalId":"`+
			kubelet+`","principalType":"ServicePrincipal"}}`, "-o", "none")
	if out := invoke("kubectl run app --image=" + image + " && kubectl get pod app"); !strings.Contains(out, "Running") || !strings.Contains(out, "pod/app created") {
		t.Fatalf("after --attach-acr:\n%s", out)
	}
	run("acr", "update", "-n", "myregistry", "--public-network-enabled", "false", "-o", "none")
	if out := invoke("kubectl run locked --image=" + image + "; kubectl describe pod locked"); !strings.Contains(out, "403 Forbidden") {
		t.Fatalf("with public access disabled:\n%s", out)
	}
}
