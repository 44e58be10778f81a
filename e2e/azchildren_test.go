package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// TestAzureCLIAgentPools drives az acr agentpool (Debian's az 2.45, api-version
// 2019-06-01-preview) and a task with a Docker build step on the pool: az acr task create -t
// -f, then az acr task run -c <dir>, which uploads the context the run builds.
func TestAzureCLIAgentPools(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	az, env, run := azLogin(t, emu)

	if got := run("acr", "agentpool", "create", "-n", "pool1", "-r", "myregistry", "--tier", "S2", "--query", "[name, tier, count, os, provisioningState]", "-o", "tsv"); got != "pool1\nS2\n1\nLinux\nSucceeded" {
		t.Fatalf("az acr agentpool create = %q", got)
	}
	if got := run("acr", "agentpool", "update", "-n", "pool1", "-r", "myregistry", "--count", "2", "--query", "count", "-o", "tsv"); got != "2" {
		t.Fatalf("az acr agentpool update = %q", got)
	}
	if got := run("acr", "agentpool", "show", "-n", "pool1", "-r", "myregistry", "--query", "[type, count]", "-o", "tsv"); got != "Microsoft.ContainerRegistry/registries/agentPools\n2" {
		t.Fatalf("az acr agentpool show = %q", got)
	}
	if got := run("acr", "agentpool", "show", "-n", "pool1", "-r", "myregistry", "--queue-count", "--query", "count", "-o", "tsv"); got != "0" {
		t.Fatalf("az acr agentpool show --queue-count = %q", got)
	}
	if got := run("acr", "agentpool", "list", "-r", "myregistry", "--query", "[].name", "-o", "tsv"); got != "pool1" {
		t.Fatalf("az acr agentpool list = %q", got)
	}

	// A task with a Docker step on the pool; its own context (a git repository) is not
	// fetched, az acr task run -c uploads one.
	src := t.TempDir()
	writeLayout(t, src, 1)
	emu.Run(t, crane, "push", src, emu.RegistryHost()+"/hello:v1")
	if got := run("acr", "task", "create", "-n", "docker-task", "-r", "myregistry", "-t", "web:{{.Run.ID}}", "-f", "Dockerfile",
		"-c", "https://github.com/Azure-Samples/acr-build-helloworld-node.git", "--commit-trigger-enabled", "false", "--agent-pool", "pool1",
		"--query", "[step.type, step.dockerFilePath, agentPoolName]", "-o", "tsv"); got != "Docker\nDockerfile\npool1" {
		t.Fatalf("az acr task create (Docker step) = %q", got)
	}
	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM "+emu.RegistryHost()+"/hello:v1\nCMD [\"/start\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run("acr", "task", "run", "-n", "docker-task", "-r", "myregistry", "-c", ctxDir)
	if !strings.Contains(out, "Successfully pushed image: "+emu.RegistryHost()+"/web:") || !strings.Contains(out, "was successful after") {
		t.Fatalf("az acr task run -c:\n%s", out)
	}
	if got := run("acr", "task", "show", "-n", "docker-task", "-r", "myregistry", "--query", "step.baseImageDependencies[0].[repository, type]", "-o", "tsv"); got != "hello\nRuntime" {
		t.Fatalf("the task's base image after its run = %q", got)
	}
	if got := run("acr", "task", "list-runs", "-r", "myregistry", "--query", "[0].[agentPoolName, runType, status]", "-o", "tsv"); got != "pool1\nQuickRun\nSucceeded" {
		t.Fatalf("az acr task list-runs = %q", got)
	}
	// az acr task update-run archives a run (runs PATCH).
	if got := run("acr", "task", "update-run", "-r", "myregistry", "--run-id", "ca1", "--no-archive", "false", "--query", "isArchiveEnabled", "-o", "tsv"); got != "True" && got != "true" {
		t.Fatalf("az acr task update-run = %q", got)
	}

	// az acr task update and credential add|update|remove, as the recording sends them: a
	// partial step and platform merged into the task, credentials kept but written null.
	if got := run("acr", "task", "update", "-n", "docker-task", "-r", "myregistry", "--platform", "linux/arm",
		"--query", "[platform.architecture, step.imageNames[0], step.dockerFilePath]", "-o", "tsv"); got != "arm\nweb:{{.Run.ID}}\nDockerfile" {
		t.Fatalf("az acr task update = %q", got)
	}
	run("acr", "task", "credential", "add", "-n", "docker-task", "-r", "myregistry", "--login-server", "test.acr.com", "-u", "testuser", "-p", "random", "--use-identity", "[system]")
	run("acr", "task", "credential", "update", "-n", "docker-task", "-r", "myregistry", "--login-server", "test.acr.com", "-u", "testuser", "-p", "random2")
	if got := run("acr", "task", "credential", "list", "-n", "docker-task", "-r", "myregistry", "--query", "\"test.acr.com\".userName.value", "-o", "tsv"); got != "testuser" {
		t.Fatalf("az acr task credential list = %q", got)
	}
	run("acr", "task", "credential", "remove", "-n", "docker-task", "-r", "myregistry", "--login-server", "test.acr.com")
	if got := run("acr", "task", "credential", "list", "-n", "docker-task", "-r", "myregistry", "-o", "json"); strings.Join(strings.Fields(got), "") != "{}" {
		t.Fatalf("credentials after remove = %q", got)
	}

	// An agent pool the registry lacks is refused.
	if out, err := emu.TryRunEnv(t, env, az, "acr", "task", "run", "-n", "docker-task", "-r", "myregistry", "-c", ctxDir, "--agent-pool", "nopool"); err == nil ||
		!strings.Contains(out, "AgentPoolNotFound") && !strings.Contains(out, "agent pool 'nopool' was not found") {
		t.Fatalf("a run on a missing agent pool: err=%v\n%s", err, out)
	}
	run("acr", "task", "delete", "-n", "docker-task", "-r", "myregistry", "--yes")
	run("acr", "agentpool", "delete", "-n", "pool1", "-r", "myregistry", "--yes")
	if got := run("acr", "agentpool", "list", "-r", "myregistry", "--query", "length(@)", "-o", "tsv"); got != "0" {
		t.Fatalf("agent pools after delete = %q", got)
	}
}

// TestAzureCLIConnectedRegistries drives every az acr connected-registry command of az 2.45
// (api-version 2021-08-01-preview; scope maps and tokens 2020-11-01-preview), as the Azure CLI's
// recording test_acr_connectedregistry runs them: create (a scope map and a sync token made
// first, the gateway actions in the map), a child under it, client tokens, list (all and a
// parent's), show, update, list-client-tokens, get-settings (a sync token password), deactivate
// and delete --cleanup (the sync token and its scope map deleted after the registry).
func TestAzureCLIConnectedRegistries(t *testing.T) {
	emu := harness.Start(t)
	az, env, run := azLogin(t, emu)
	host := "myregistry.eastus.data.azurecr.io"

	run("acr", "update", "-n", "myregistry", "--data-endpoint-enabled", "true", "-o", "none")
	if got := run("acr", "connected-registry", "create", "-n", "rootregistry", "-r", "myregistry", "--repository", "repo1", "repo2",
		"--query", "[name, mode, connectionState, activation.status, parent.syncProperties.gatewayEndpoint, parent.syncProperties.tokenId]", "-o", "tsv"); got !=
		"rootregistry\nReadWrite\nOffline\nInactive\n"+host+"\n/subscriptions/"+subscription+"/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry/tokens/rootregistry" { // az names the sync token and its scope map after the connected registry
		t.Fatalf("az acr connected-registry create = %q", got)
	}
	// The sync token's scope map reaches the repositories and the connected registry's gateway.
	if got := run("acr", "scope-map", "show", "-n", "rootregistry", "-r", "myregistry", "--query", "join(' ', actions)", "-o", "tsv"); !strings.Contains(got, "repositories/repo2/content/read") ||
		!strings.Contains(got, "gateway/rootregistry/config/read") || !strings.Contains(got, "gateway/rootregistry/message/write") {
		t.Fatalf("the sync token's scope map = %q", got)
	}
	run("acr", "token", "create", "-n", "clienttoken", "-r", "myregistry", "--repository", "repo1", "content/read", "--no-passwords", "-o", "none")
	if got := run("acr", "connected-registry", "create", "-n", "childregistry", "-r", "myregistry", "-p", "rootregistry", "--repository", "repo1", "-m", "ReadOnly",
		"--client-tokens", "clienttoken", "--log-level", "Warning", "--sync-schedule", "0 0/10 * * *", "--sync-window", "PT4H", "--notifications", "hello-world:tag:push",
		"--query", "[mode, parent.id, length(clientTokenIds), logging.logLevel, parent.syncProperties.schedule, notificationsList[0]]", "-o", "tsv"); got !=
		"ReadOnly\n/subscriptions/"+subscription+"/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry/connectedRegistries/rootregistry\n1\nWarning\n0 0/10 * * *\nhello-world:tag:push" {
		t.Fatalf("az acr connected-registry create -p = %q", got)
	}
	if got := run("acr", "connected-registry", "list", "-r", "myregistry", "--query", "sort([].name)", "-o", "tsv"); got != "childregistry\nrootregistry" {
		t.Fatalf("az acr connected-registry list = %q", got)
	}
	if got := run("acr", "connected-registry", "list", "-r", "myregistry", "-p", "rootregistry", "--query", "[].name", "-o", "tsv"); got != "childregistry" {
		t.Fatalf("az acr connected-registry list -p = %q", got)
	}
	if got := run("acr", "connected-registry", "show", "-n", "rootregistry", "-r", "myregistry", "--query", "[type, loginServer.tls.certificate]", "-o", "json"); strings.Join(strings.Fields(got), "") !=
		`["Microsoft.ContainerRegistry/registries/connectedRegistries",{"location":null,"type":null}]` { // no runtime, no certificate
		t.Fatalf("az acr connected-registry show = %q", got)
	}
	if got := run("acr", "connected-registry", "list-client-tokens", "-n", "childregistry", "-r", "myregistry", "--query", "[].name", "-o", "tsv"); got != "clienttoken" {
		t.Fatalf("az acr connected-registry list-client-tokens = %q", got)
	}
	if got := run("acr", "connected-registry", "update", "-n", "childregistry", "-r", "myregistry", "--remove-client-tokens", "clienttoken", "--log-level", "Debug",
		"--sync-schedule", "0 9 * * *", "--sync-window", "PT3H", "--add-notifications", "hello:*:push",
		"--query", "[logging.logLevel, parent.syncProperties.schedule, parent.syncProperties.syncWindow, length(clientTokenIds), length(notificationsList)]", "-o", "tsv"); got !=
		"Debug\n0 9 * * *\n3:00:00\n0\n2" { // az prints the ISO 8601 window as a duration
		t.Fatalf("az acr connected-registry update = %q", got)
	}
	// get-settings makes a sync token password and prints the connection string the runtime
	// would be started with.
	out := run("acr", "connected-registry", "get-settings", "-n", "rootregistry", "-r", "myregistry", "--parent-protocol", "https", "--generate-password", "1", "--yes", "-o", "json")
	if !strings.Contains(out, "ConnectedRegistryName=rootregistry;SyncTokenName=rootregistry;SyncTokenPassword=") || !strings.Contains(out, "ParentGatewayEndpoint="+host) {
		t.Fatalf("az acr connected-registry get-settings:\n%s", out)
	}
	run("acr", "connected-registry", "deactivate", "-n", "childregistry", "-r", "myregistry", "--yes")
	if got := run("acr", "connected-registry", "show", "-n", "childregistry", "-r", "myregistry", "--query", "activation.status", "-o", "tsv"); got != "Inactive" {
		t.Fatalf("after deactivate = %q", got)
	}
	// A parent is not deleted before its children (az prints ARM's error and exits 1).
	if out, err := emu.TryRunEnv(t, env, az, "acr", "connected-registry", "delete", "-n", "rootregistry", "-r", "myregistry", "--yes"); err == nil || !strings.Contains(out, "childregistry") {
		t.Fatalf("deleting a parent: err %v, output:\n%s", err, out)
	}
	run("acr", "connected-registry", "delete", "-n", "childregistry", "-r", "myregistry", "--yes", "--cleanup")
	run("acr", "connected-registry", "delete", "-n", "rootregistry", "-r", "myregistry", "--yes", "--cleanup")
	if got := run("acr", "connected-registry", "list", "-r", "myregistry", "--query", "length(@)", "-o", "tsv"); got != "0" {
		t.Fatalf("connected registries after delete = %q", got)
	}
	if got := run("acr", "token", "list", "-r", "myregistry", "--query", "[].name", "-o", "tsv"); got != "clienttoken" {
		t.Fatalf("tokens after delete --cleanup = %q (the sync tokens are deleted with their registries)", got)
	}
	if got := run("acr", "scope-map", "list", "-r", "myregistry", "--query", "[?contains(name, 'registry')].name", "-o", "tsv"); got != "" {
		t.Fatalf("scope maps after delete --cleanup = %q", got)
	}
}
