package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

const (
	importerID     = "88888888-0000-4000-8000-000000000021"
	importerObject = "88888888-0000-4000-8000-000000000022"
	importerSecret = "importer-secret"
)

// importWorld: the target myregistry, a source secretregistry holding private/app:v1, and a
// service principal that holds only "Container Registry Data Importer and Data Reader" on
// the target.
const importWorld = `
loginServerSuffix: .azurecr.io
registries:
  - name: myregistry
  - name: secretregistry
    adminUserEnabled: true
    adminPassword: secret-pass
    images:
      - repository: private/app
        tags: [v1]
        generate: {layers: 2, layerSize: 4KiB, seed: private/app}
servicePrincipals:
  - name: acr-emulator-sp
    clientId: 33333333-3333-3333-3333-333333333333
    objectId: 44444444-4444-4444-4444-444444444444
    secret: acr-emulator-client-secret
  - name: importer
    clientId: ` + importerID + `
    objectId: ` + importerObject + `
    secret: ` + importerSecret + `
roleAssignments:
  - {principal: acr-emulator-sp, role: Owner, scope: subscription}
  - {principal: importer, role: Container Registry Data Importer and Data Reader, scope: myregistry}
`

// TestImportAuthorization attacks the built binary with the real az CLI (issue 12 item 1): a
// caller that may import into the target but not read the source cannot copy out of it,
// naming it by resource id or by login server, with public access disabled on the source;
// with the source's credentials (by tag and by digest) or AcrPull on it, the same caller can.
func TestImportAuthorization(t *testing.T) {
	file := filepath.Join(t.TempDir(), "world.yaml")
	if err := os.WriteFile(file, []byte(importWorld), 0o600); err != nil {
		t.Fatal(err)
	}
	emu := harness.Start(t, harness.WithArgs("--config", file))
	_, _, owner := azLogin(t, emu)
	az, env, importer := azLoginAs(t, emu, importerID, importerSecret)
	fails := func(args ...string) string {
		t.Helper()
		out, err := emu.TryRunEnv(t, env, az, args...)
		if err == nil {
			t.Fatalf("az %s succeeded:\n%s", strings.Join(args, " "), out)
		}
		return out
	}
	srcID := owner("acr", "show", "-n", "secretregistry", "--query", "id", "-o", "tsv")
	digest := owner("acr", "repository", "show", "-n", "secretregistry", "--image", "private/app:v1", "--query", "digest", "-o", "tsv")
	if !strings.HasPrefix(digest, "sha256:") {
		t.Fatalf("source digest = %q", digest)
	}
	tags := func(repo string) string {
		out, err := emu.TryRunEnv(t, env, az, "acr", "repository", "show-tags", "-n", "myregistry", "--repository", repo, "-o", "tsv")
		if err != nil {
			if !strings.Contains(out, "is not found") {
				t.Fatalf("show-tags %s: %v\n%s", repo, err, out)
			}
			return ""
		}
		return strings.TrimSpace(out)
	}
	owner("acr", "update", "-n", "secretregistry", "--public-network-enabled", "false", "-o", "none")

	// By resource id: ARM's linked authorization wants the caller's pull right on the source.
	out := fails("acr", "import", "-n", "myregistry", "-r", srcID, "--source", "private/app:v1", "-t", "stolen/app:v1")
	if !strings.Contains(out, "does not have permission to perform action(s) 'Microsoft.ContainerRegistry/registries/pull/read' on the linked scope(s) '"+srcID+"'") {
		t.Fatalf("import by resource id without pull on the source:\n%s", out)
	}
	// By login server, with the source's own credentials: import's public side meets the
	// source's closed public endpoint.
	out = fails("acr", "import", "-n", "myregistry", "--source", "secretregistry.azurecr.io/private/app:v1", "-u", "secretregistry", "-p", "secret-pass", "-t", "stolen/app:v1")
	if !strings.Contains(out, "is not allowed access. Refer https://aka.ms/acr/firewall to grant access.") {
		t.Fatalf("import by login server with public access disabled:\n%s", out)
	}
	// By login server without credentials (az finds the registry by its login server or
	// not, depending on what the caller may list: refused either way).
	fails("acr", "import", "-n", "myregistry", "--source", "secretregistry.azurecr.io/private/app:v1", "-t", "stolen/app:v1")
	if got := tags("stolen/app"); got != "" {
		t.Fatalf("a refused import wrote the target: %q", got)
	}

	// Positive controls. The source's credentials with its public endpoint open: by digest
	// and by tag.
	owner("acr", "update", "-n", "secretregistry", "--public-network-enabled", "true", "--default-action", "Allow", "-o", "none")
	fails("acr", "import", "-n", "myregistry", "--source", "secretregistry.azurecr.io/private/app:v1", "-u", "secretregistry", "-p", "wrong", "-t", "stolen/app:v1")
	importer("acr", "import", "-n", "myregistry", "--source", "secretregistry.azurecr.io/private/app@"+digest, "-u", "secretregistry", "-p", "secret-pass", "-t", "bydigest/app:v1")
	importer("acr", "import", "-n", "myregistry", "--source", "secretregistry.azurecr.io/private/app:v1", "--username", "secretregistry", "--password", "secret-pass")
	if got := importer("acr", "repository", "show", "-n", "myregistry", "--image", "bydigest/app:v1", "--query", "digest", "-o", "tsv"); got != digest {
		t.Fatalf("imported by digest: %q, want %q", got, digest)
	}
	if got := tags("private/app"); got != "v1" {
		t.Fatalf("imported with --username/--password (default target): %q", got)
	}
	// AcrPull on the source: by resource id, with the source locked again (ACR reads it as a
	// trusted service), by tag and by digest.
	// (az 2.45's az role assignment create fails on its own; az rest does what it would.)
	owner("rest", "--method", "put", "--url", "https://"+emu.RegistryHost()+srcID+"/providers/Microsoft.Authorization/roleAssignments/0d0d0d0d-0000-4000-8000-000000000001?api-version=2022-04-01",
		"--body", `{"properties":{"roleDefinitionId":"/subscriptions/22222222-2222-2222-2222-222222222222/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d","principalId":"`+
			importerObject+`","principalType":"ServicePrincipal"}}`, "-o", "none")
	owner("acr", "update", "-n", "secretregistry", "--public-network-enabled", "false", "-o", "none")
	importer("acr", "import", "-n", "myregistry", "-r", srcID, "--source", "private/app:v1", "-t", "granted/app:v1")
	importer("acr", "import", "-n", "myregistry", "-r", srcID, "--source", "private/app@"+digest, "-t", "granted/app:v2")
	if got := tags("granted/app"); got != "v1\nv2" {
		t.Fatalf("imported by resource id with AcrPull: %q", got)
	}
}
