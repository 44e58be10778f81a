package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// TestAzureCLITasks drives the trusted-services article's ACR Tasks example with the real az
// CLI, logs streamed by az acr task run included.
func TestAzureCLITasks(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	az, env, run := azLogin(t, emu)
	base := "https://" + emu.RegistryHost()

	src := t.TempDir()
	writeLayout(t, src, 1)
	emu.Run(t, crane, "push", src, emu.RegistryHost()+"/hello:v1")
	run("acr", "update", "-n", "myregistry", "--public-network-enabled", "false")

	// 1. a task with a system-assigned identity and auth mode None; 2. AcrPull for it;
	// 3. the identity as the registry's credential.
	principal := run("acr", "task", "create", "-n", "cross-task", "-r", "myregistry", "--cmd", "$Registry/hello:v1", "-c", "/dev/null",
		"--assign-identity", "--auth-mode", "None", "--query", "identity.principalId", "-o", "tsv")
	if len(principal) != 36 {
		t.Fatalf("task identity = %q", principal)
	}
	run("rest", "--method", "put", "--url", base+"/subscriptions/"+subscription+"/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry/providers/Microsoft.Authorization/roleAssignments/0c0c0c0c-0000-4000-8000-000000000001?api-version=2022-04-01",
		"--body", `{"properties":{"roleDefinitionId":"/subscriptions/`+subscription+`/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d","principalId":"`+principal+`","principalType":"ServicePrincipal"}}`)
	// credential add prints the PATCH's answer, where ACR writes each registry's credentials
	// null; credential list reads them through listDetails.
	if got := run("acr", "task", "credential", "add", "-n", "cross-task", "-r", "myregistry", "--login-server", emu.RegistryHost(),
		"--use-identity", "[system]", "-o", "json"); strings.Join(strings.Fields(got), "") != `{"`+emu.RegistryHost()+`":null}` {
		t.Fatalf("credential add = %q", got)
	}
	if got := run("acr", "task", "credential", "list", "-n", "cross-task", "-r", "myregistry",
		"--query", "\""+emu.RegistryHost()+"\".identity", "-o", "tsv"); got != "[system]" {
		t.Fatalf("credential list = %q", got)
	}

	// 4-5. public access is disabled, trusted services are on: the run succeeds, its log
	// streamed by az.
	out := run("acr", "task", "run", "-n", "cross-task", "-r", "myregistry")
	if !strings.Contains(out, "Status: Downloaded newer image for "+emu.RegistryHost()+"/hello:v1") || !strings.Contains(out, "was successful after") {
		t.Fatalf("az acr task run:\n%s", out)
	}
	// Then with trusted services off the run fails, and so does az.
	run("acr", "update", "--name", "myregistry", "--allow-trusted-services", "false")
	out, err := emu.TryRunEnv(t, env, az, "acr", "task", "run", "-n", "cross-task", "-r", "myregistry")
	if err == nil || !strings.Contains(out, "denied: client with IP '20.0.0.8' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.") ||
		!strings.Contains(out, "Run failed") {
		t.Fatalf("az acr task run with trusted services off: err=%v\n%s", err, out)
	}
	if got := run("acr", "task", "list-runs", "-r", "myregistry", "--query", "[].status", "-o", "tsv"); got != "Failed\nSucceeded" {
		t.Fatalf("list-runs = %q", got)
	}
	if out := run("acr", "task", "logs", "-r", "myregistry", "--run-id", "ca1"); !strings.Contains(out, "Run ID: ca1 was successful") {
		t.Fatalf("az acr task logs:\n%s", out)
	}

	// az acr build: the context is packed, uploaded and built from the registry's own base
	// image with the run's credential, through trusted services.
	run("acr", "update", "--name", "myregistry", "--allow-trusted-services", "true")
	ctxDir := t.TempDir()
	for name, body := range map[string]string{"Dockerfile": "FROM " + emu.RegistryHost() + "/hello:v1\nCOPY web/ /srv/\nCMD [\"/srv/start\"]\n", "web/index.html": "<h1>hi</h1>"} {
		p := filepath.Join(ctxDir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out = run("acr", "build", "-r", "myregistry", "-t", "built/web:v1", ctxDir)
	if !strings.Contains(out, "Successfully pushed image: "+emu.RegistryHost()+"/built/web:v1") || !strings.Contains(out, "was successful after") {
		t.Fatalf("az acr build:\n%s", out)
	}
	if got := run("acr", "task", "list-runs", "-r", "myregistry", "--top", "1", "--query", "[0].outputImages[0].repository", "-o", "tsv"); got != "built/web" {
		t.Fatalf("the build's output image: %q", got)
	}
	// az acr run -f: a multi-step task file from the uploaded context, with --set values.
	if err := os.WriteFile(filepath.Join(ctxDir, "acb.yaml"), []byte("version: v1.1.0\nsteps:\n"+
		"  - build: -t $Registry/{{.Values.repo}}:$ID .\n  - push: [\"$Registry/{{.Values.repo}}:$ID\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out = run("acr", "run", "-r", "myregistry", "-f", "acb.yaml", "--set", "repo=multi/web", ctxDir)
	if !strings.Contains(out, "Successfully tagged "+emu.RegistryHost()+"/multi/web:ca4") || !strings.Contains(out, "Run ID: ca4 was successful after") {
		t.Fatalf("az acr run -f acb.yaml:\n%s", out)
	}
	// az acr run --cmd with the ACR Tasks reference's template form, rendered before the YAML
	// is parsed.
	out = run("acr", "run", "-r", "myregistry", "--cmd", "{{.Run.Registry}}/hello:v1", "/dev/null")
	if !strings.Contains(out, "Status: Downloaded newer image for "+emu.RegistryHost()+"/hello:v1") || !strings.Contains(out, "Run ID: ca5 was successful after") {
		t.Fatalf("az acr run --cmd '{{.Run.Registry}}/hello:v1':\n%s", out)
	}
	run("acr", "update", "--name", "myregistry", "--allow-trusted-services", "false")
	if out, err := emu.TryRunEnv(t, env, az, "acr", "build", "-r", "myregistry", "-t", "built/web:v2", ctxDir); err == nil ||
		!strings.Contains(out, "is not allowed access") {
		t.Fatalf("az acr build with trusted services off: err=%v\n%s", err, out)
	}

	// list-runs and logs filter by task and status ($filter), builds having no task.
	if got := run("acr", "task", "list-runs", "-r", "myregistry", "-n", "cross-task", "--query", "[].runId", "-o", "tsv"); got != "ca2\nca1" {
		t.Fatalf("list-runs -n cross-task = %q", got)
	}
	if got := run("acr", "task", "list-runs", "-r", "myregistry", "--run-status", "Failed", "--query", "[].runId", "-o", "tsv"); got != "ca6\nca2" {
		t.Fatalf("list-runs --run-status Failed = %q", got)
	}
	// cancel-run of a run that has ended leaves it as it was.
	run("acr", "task", "cancel-run", "-r", "myregistry", "--run-id", "ca1")
	if got := run("acr", "task", "show-run", "-r", "myregistry", "--run-id", "ca1", "--query", "status", "-o", "tsv"); got != "Succeeded" {
		t.Fatalf("show-run after cancel-run = %q", got)
	}
	// (az acr task logs exits 0 for a failed run: it shows a log, it does not wait for an outcome.)
	if out := run("acr", "task", "logs", "-r", "myregistry", "-n", "cross-task"); !strings.Contains(out, "Run ID: ca2 failed after") || strings.Contains(out, "built/web") {
		t.Fatalf("az acr task logs -n cross-task (its last run, ca2):\n%s", out)
	}
}
