package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// azEnv is the environment in which the real Azure CLI talks to the emulator: a private
// config directory, the emulator's CA, and the emulator's proxy so that the real Azure names
// (login.microsoftonline.com for MSAL's instance discovery) reach it.
func azEnv(t *testing.T, emu *harness.Emulator) []string {
	env := emu.Env(t)
	return append(env, "AZURE_CONFIG_DIR="+filepath.Join(t.TempDir(), "az"), "REQUESTS_CA_BUNDLE="+emu.CAFile,
		"HTTPS_PROXY=http://"+emu.ProxyAddr, "HTTP_PROXY=http://"+emu.ProxyAddr, "AZURE_CORE_COLLECT_TELEMETRY=false",
		"AZURE_CORE_NO_COLOR=true", "AZURE_CORE_ONLY_SHOW_ERRORS=true")
}

// azLogin registers the emulator as a custom cloud for the real az CLI and logs in with the
// default world's service principal. run runs az and fails the test on a non-zero exit.
func azLogin(t *testing.T, emu *harness.Emulator) (az string, env []string, run func(args ...string) string) {
	return azLoginAs(t, emu, harness.ClientID, harness.ClientSecret)
}

// azLoginAs is azLogin as another service principal of the world, in a config directory of
// its own.
func azLoginAs(t *testing.T, emu *harness.Emulator, clientID, secret string) (az string, env []string, run func(args ...string) string) {
	az = harness.Tool(t, "AZ", "az")
	env = azEnv(t, emu)
	base := "https://" + emu.RegistryHost()
	run = func(args ...string) string {
		t.Helper()
		out, err := emu.TryRunEnv(t, env, az, args...)
		if err != nil {
			t.Fatalf("az %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(out)
	}
	run("cloud", "register", "-n", "AcrEmulator", "--endpoint-resource-manager", base+"/", "--endpoint-active-directory", base,
		"--endpoint-active-directory-resource-id", "https://management.core.windows.net/",
		"--endpoint-active-directory-graph-resource-id", "https://graph.windows.net/", "--suffix-acr-login-server-endpoint", ".azurecr.io",
		// az acr task credential add -u/-p checks whether the name is a Key Vault secret's URI.
		"--suffix-keyvault-dns", ".vault.azure.net")
	run("cloud", "set", "-n", "AcrEmulator")
	run("login", "--service-principal", "-u", clientID, "-p", secret, "--tenant", harness.TenantID)
	return az, env, run
}

// TestAzureCLI drives the seed's commands with the real az CLI.
func TestAzureCLI(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	az, env, run := azLogin(t, emu)
	base := "https://" + emu.RegistryHost()

	if got := run("acr", "show", "-n", "myregistry", "--query", "networkRuleBypassOptions", "-o", "tsv"); got != "AzureServices" {
		t.Fatalf("initial networkRuleBypassOptions = %q", got)
	}
	run("acr", "update", "--name", "myregistry", "--allow-trusted-services", "false")
	if got := run("acr", "show", "-n", "myregistry", "--query", "networkRuleBypassOptions", "-o", "tsv"); got != "None" {
		t.Fatalf("after --allow-trusted-services false: %q", got)
	}
	run("acr", "update", "--name", "myregistry", "--allow-trusted-services", "true")
	if got := run("acr", "show", "-n", "myregistry", "--query", "networkRuleBypassOptions", "-o", "tsv"); got != "AzureServices" {
		t.Fatalf("after --allow-trusted-services true: %q", got)
	}

	// az acr login --expose-token hands out an ACR refresh token usable as a password.
	var login struct {
		AccessToken string `json:"accessToken"`
		LoginServer string `json:"loginServer"`
	}
	if err := json.Unmarshal([]byte(run("acr", "login", "-n", "myregistry", "--expose-token", "-o", "json")), &login); err != nil || login.AccessToken == "" {
		t.Fatalf("--expose-token: %v", err)
	}
	src := t.TempDir()
	writeLayout(t, src, 1)
	withToken := emu.EnvWithLogin(t, harness.NullGUID, login.AccessToken)
	if out, err := emu.TryRunEnv(t, withToken, crane, "push", src, login.LoginServer+"/az/app:v1"); err != nil {
		t.Fatalf("push with the exposed token: %v\n%s", err, out)
	}
	if got := run("acr", "repository", "list", "-n", "myregistry", "-o", "tsv"); got != "az/app" {
		t.Fatalf("az acr repository list = %q", got)
	}

	// Firewall through az: default Deny with an IP rule, then public access off.
	run("acr", "update", "-n", "myregistry", "--default-action", "Deny")
	run("acr", "network-rule", "add", "-n", "myregistry", "--ip-address", "203.0.113.0/24")
	if got := run("acr", "network-rule", "list", "-n", "myregistry", "--query", "ipRules[].ipAddressOrRange", "-o", "tsv"); got != "203.0.113.0/24" {
		t.Fatalf("network-rule list = %q", got)
	}
	if out, err := emu.TryRun(t, crane, "digest", emu.RegistryHost()+"/az/app:v1"); err == nil || !strings.Contains(out, "client with IP '127.0.0.1' is not allowed access") {
		t.Fatalf("pull from a denied IP: err=%v\n%s", err, out)
	}
	run("acr", "network-rule", "remove", "-n", "myregistry", "--ip-address", "203.0.113.0/24")
	run("acr", "update", "-n", "myregistry", "--public-network-enabled", "false")
	if got := run("acr", "show", "-n", "myregistry", "--query", "publicNetworkAccess", "-o", "tsv"); got != "Disabled" {
		t.Fatalf("publicNetworkAccess = %q", got)
	}
	// az acr login pings /v2/, gets the 403 and prints its firewall hint, as against Azure.
	out, err := emu.TryRunEnv(t, env, az, "acr", "login", "-n", "myregistry", "--expose-token")
	if err == nil || !strings.Contains(out, "Looks like you don't have access to registry '"+emu.RegistryHost()+"'") {
		t.Fatalf("az acr login with public access disabled: err=%v\n%s", err, out)
	}
	run("acr", "update", "-n", "myregistry", "--public-network-enabled", "true", "--default-action", "Allow")
	// az acr create in another location: the registry is where it was created.
	if got := run("acr", "create", "-n", "eurregistry", "-g", "demo-rg", "--sku", "Basic", "-l", "westeurope", "--query", "[location, loginServer]", "-o", "tsv"); got != "westeurope\neurregistry.azurecr.io" {
		t.Fatalf("az acr create = %q", got)
	}
	if got := run("acr", "list", "--query", "[?name=='eurregistry'].location", "-o", "tsv"); got != "westeurope" {
		t.Fatalf("az acr list = %q", got)
	}
	// az acr config: the registry's policies are kept (and shown; not applied).
	run("acr", "config", "retention", "update", "-r", "myregistry", "--status", "enabled", "--days", "10", "--type", "UntaggedManifests", "-o", "none")
	if got := run("acr", "config", "retention", "show", "-r", "myregistry", "--query", "[status, days]", "-o", "tsv"); got != "enabled\n10" {
		t.Fatalf("retention after update = %q", got)
	}
	run("acr", "config", "content-trust", "update", "-r", "myregistry", "--status", "enabled", "-o", "none")
	if got := run("acr", "config", "content-trust", "show", "-r", "myregistry", "--query", "status", "-o", "tsv"); got != "enabled" {
		t.Fatalf("content trust after update = %q", got)
	}
	// Resource tags persist, as templates and Terraform expect.
	run("acr", "update", "-n", "myregistry", "--tags", "env=dev", "team=blue", "-o", "none")
	if got := run("acr", "show", "-n", "myregistry", "--query", "[tags.env, tags.team]", "-o", "tsv"); got != "dev\nblue" {
		t.Fatalf("tags after az acr update --tags = %q", got)
	}
	if got := run("acr", "credential", "show", "-n", "myregistry", "--query", "username", "-o", "tsv"); got != "myregistry" {
		t.Fatalf("credential show = %q", got)
	}
	// az acr import, the source named by registry (az finds its resource id through ARM).
	run("acr", "import", "-n", "myregistry", "-r", "myregistry", "--source", "az/app:v1", "-t", "az/imported:v1")
	if got := run("acr", "repository", "list", "-n", "myregistry", "-o", "tsv"); !strings.Contains(got, "az/imported") {
		t.Fatalf("after az acr import: %q", got)
	}
	// The repository and manifest commands (the /acr/v1 metadata API).
	if got := run("acr", "repository", "show-tags", "-n", "myregistry", "--repository", "az/imported", "-o", "tsv"); got != "v1" {
		t.Fatalf("repository show-tags = %q", got)
	}
	if got := run("acr", "repository", "show", "-n", "myregistry", "--repository", "az/imported", "--query", "[imageName, tagCount]", "-o", "tsv"); got != "az/imported\n1" {
		t.Fatalf("repository show = %q", got)
	}
	run("acr", "repository", "update", "-n", "myregistry", "--image", "az/imported:v1", "--write-enabled", "false", "-o", "none")
	if got := run("acr", "repository", "show", "-n", "myregistry", "--image", "az/imported:v1", "--query", "changeableAttributes.writeEnabled", "-o", "tsv"); got != "false" {
		t.Fatalf("writeEnabled after repository update = %q", got)
	}
	if out, err := emu.TryRunEnv(t, env, az, "acr", "repository", "delete", "-n", "myregistry", "--image", "az/imported:v1", "--yes"); err == nil {
		t.Fatalf("deleting a locked image succeeded:\n%s", out)
	}
	run("acr", "repository", "update", "-n", "myregistry", "--image", "az/imported:v1", "--write-enabled", "true", "-o", "none")
	if got := run("acr", "manifest", "list-metadata", "-r", "myregistry", "-n", "az/imported", "--query", "[].tags[]", "-o", "tsv"); got != "v1" {
		t.Fatalf("manifest list-metadata = %q", got)
	}
	// az asks with Accept "*/*" and OCI types only, which do not admit a Docker schema 2 image
	// fetched by tag: the registry answers with its signed schema 1 rewrite (UNCONFIRMED for
	// "*/*", see README). By digest the stored manifest comes back.
	if got := run("acr", "manifest", "show", "-r", "myregistry", "-n", "az/imported:v1", "--query", "schemaVersion", "-o", "tsv"); got != "1" {
		t.Fatalf("manifest show by tag = %q", got)
	}
	digest := run("acr", "manifest", "list-metadata", "-r", "myregistry", "-n", "az/imported", "--query", "[0].digest", "-o", "tsv")
	if got := run("acr", "manifest", "show", "-r", "myregistry", "-n", "az/imported@"+digest, "--query", "schemaVersion", "-o", "tsv"); got != "2" {
		t.Fatalf("manifest show by digest = %q", got)
	}
	run("acr", "repository", "delete", "-n", "myregistry", "--image", "az/imported:v1", "--yes")
	if got := run("acr", "repository", "list", "-n", "myregistry", "-o", "tsv"); strings.Contains(got, "az/imported") {
		t.Fatalf("after repository delete: %q", got)
	}
	// Role assignments through the ARM API with az rest (see README for az role assignment).
	scope := "/subscriptions/22222222-2222-2222-2222-222222222222/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry"
	got := run("rest", "--method", "put", "--url", base+scope+"/providers/Microsoft.Authorization/roleAssignments/0b0b0b0b-0000-4000-8000-000000000001?api-version=2022-04-01",
		"--body", `{"properties":{"roleDefinitionId":"/subscriptions/22222222-2222-2222-2222-222222222222/providers/Microsoft.Authorization/roleDefinitions/c2f4ef07-c644-48eb-af81-4b1b4947fb11","principalId":"66666666-6666-6666-6666-666666666666","principalType":"ServicePrincipal"}}`,
		"--query", "properties.principalId", "-o", "tsv")
	if got != "66666666-6666-6666-6666-666666666666" {
		t.Fatalf("role assignment via az rest = %q", got)
	}
}
