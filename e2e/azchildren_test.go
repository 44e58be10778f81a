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

// TestAzureCLIConnectedRegistries drives az acr connected-registry list, show, update and
// deactivate (az 2.45, api-version 2021-08-01-preview) on a connected registry made with a PUT:
// az acr connected-registry create first creates a scope map and a sync token, and delete reads
// the sync token, which this branch does not serve (scope maps and tokens are built apart).
func TestAzureCLIConnectedRegistries(t *testing.T) {
	emu := harness.Start(t)
	_, _, run := azLogin(t, emu)
	base := "https://" + emu.RegistryHost()
	reg := "/subscriptions/" + subscription + "/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry"

	run("acr", "update", "-n", "myregistry", "--data-endpoint-enabled", "true", "-o", "none")
	run("rest", "--method", "put", "--url", base+reg+"/connectedRegistries/myconnected?api-version=2021-08-01-preview", "--body",
		`{"properties":{"mode":"ReadWrite","parent":{"syncProperties":{"tokenId":"`+reg+`/tokens/myconnected-sync-token","schedule":"* * * * *","messageTtl":"P1D"}},"clientTokenIds":[]}}`)
	if got := run("acr", "connected-registry", "list", "-r", "myregistry", "--query", "[].[name, mode, connectionState]", "-o", "tsv"); got != "myconnected\tReadWrite\tOffline" {
		t.Fatalf("az acr connected-registry list = %q", got)
	}
	if got := run("acr", "connected-registry", "show", "-n", "myconnected", "-r", "myregistry", "--query", "[activation.status, parent.syncProperties.gatewayEndpoint]", "-o", "tsv"); got != "Inactive\nmyregistry.eastus.data.azurecr.io" {
		t.Fatalf("az acr connected-registry show = %q", got)
	}
	if got := run("acr", "connected-registry", "update", "-n", "myconnected", "-r", "myregistry", "--log-level", "Debug", "--sync-schedule", "0 9 * * *", "--sync-window", "PT3H",
		"--add-notifications", "hello:*:push", "--query", "[logging.logLevel, parent.syncProperties.schedule, parent.syncProperties.syncWindow, notificationsList[0]]", "-o", "tsv"); got != "Debug\n0 9 * * *\n3:00:00\nhello:*:push" { // az prints the ISO 8601 window as a duration
		t.Fatalf("az acr connected-registry update = %q", got)
	}
	run("acr", "connected-registry", "deactivate", "-n", "myconnected", "-r", "myregistry", "--yes")
	// az acr connected-registry delete reads the sync token after the DELETE (tokens are not on
	// this branch): the DELETE is sent as az sends it.
	run("rest", "--method", "delete", "--url", base+reg+"/connectedRegistries/myconnected?api-version=2021-08-01-preview")
	if got := run("acr", "connected-registry", "list", "-r", "myregistry", "--query", "length(@)", "-o", "tsv"); got != "0" {
		t.Fatalf("connected registries after delete = %q", got)
	}
}
