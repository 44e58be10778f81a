package e2e

import (
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// TestDockerCompose runs docker-compose.yml where nothing can be pulled: the scratch image of a
// static binary (Dockerfile.scratch), brought up by the compose v2 plugin and by Debian's
// docker-compose 1.29 in turn, on free host ports, healthy by its own healthcheck. From a
// second container on the compose network, crane pushes and pulls through the network alias
// myregistry.azurecr.io with TLS verified against the emulator's CA, and sees ACR's 403 once
// az on the host (through the published proxy) locks the registry through ARM, while a
// trusted service (az acr import) still succeeds. The README's compose section, from the host
// on the default ports, is run as written by the README session "compose"
// (readme_shell_test.go).
func TestDockerCompose(t *testing.T) {
	if _, err := exec.LookPath("dockerd"); err != nil || os.Geteuid() != 0 {
		t.Skip("no container engine can start here: the test starts its own dockerd, which needs root and docker.io")
	}
	root := mustRoot(t)
	static, staticCrane := harness.StaticBinaries(t)
	dk := harness.StartDocker(t)

	// The images: the emulator's, as the README builds it offline, and a client's (crane and
	// the acr-emulator binary, for scenario run).
	ctx := t.TempDir()
	copyFile(t, static, filepath.Join(ctx, "acr-emulator"))
	dk.Run(t, "build", "-q", "-f", filepath.Join(root, "Dockerfile.scratch"), "-t", "acr-emulator:dev", ctx)
	clientCtx := t.TempDir()
	copyFile(t, static, filepath.Join(clientCtx, "acr-emulator"))
	copyFile(t, staticCrane, filepath.Join(clientCtx, "crane"))
	if err := os.WriteFile(filepath.Join(clientCtx, "Dockerfile"), []byte("FROM scratch\nCOPY crane acr-emulator /bin/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dk.Run(t, "build", "-q", "-t", "e2e-client:dev", clientCtx)

	// Not docker-compose from PATH: that may be Debian's 1.29, which is no CLI plugin.
	plugin := os.Getenv("COMPOSE_PLUGIN")
	if plugin == "" {
		plugin = filepath.Join(root, "build/tools/bin/docker-compose")
	}
	if _, err := os.Stat(plugin); err != nil {
		t.Fatalf("the compose v2 plugin is not built: run `make compose-plugin` (or set COMPOSE_PLUGIN): %v", err)
	}
	v1 := harness.Tool(t, "COMPOSE_V1", "/usr/bin/docker-compose")
	for i, mk := range []func(project string, env []string) *harness.Compose{
		func(project string, env []string) *harness.Compose { return dk.ComposeV2(t, plugin, project, env...) },
		func(project string, env []string) *harness.Compose { return dk.ComposeV1(v1, project, env...) },
	} {
		project := fmt.Sprintf("acre2e%d", i)
		data := t.TempDir()
		ports := map[string]string{}
		var env []string
		for _, l := range []string{"HTTPS", "HTTP", "PROXY", "APPVNET"} {
			_, ports[l], _ = net.SplitHostPort(harness.FreeAddr(t))
			env = append(env, "ACR_EMULATOR_"+l+"_PORT="+ports[l])
		}
		c := mk(project, append(env, "ACR_EMULATOR_COMPOSE_DATA="+data))
		t.Run(c.Name, func(t *testing.T) {
			t.Cleanup(func() {
				if out, err := c.TryRun(root, "down", "-v"); err != nil {
					t.Errorf("%s down: %v\n%s", c.Name, err, out)
				}
			})
			c.Run(t, root, "up", "-d")
			id := c.WaitHealthy(t, root, "acr-emulator", 2*time.Minute)
			logs := dk.Run(t, "logs", id)
			if !strings.Contains(logs, "login server localhost:"+ports["HTTPS"]) || !strings.Contains(logs, "IDENTITY_ENDPOINT=http://localhost:"+ports["HTTP"]+"/msi/token") ||
				strings.Contains(logs, "[::]") {
				t.Fatalf("the banner does not name the published ports:\n%s", logs)
			}
			composeFlow(t, dk, project, data, ports)
		})
	}
}

// composeFlow is what a user does with the running stack.
func composeFlow(t *testing.T, dk *harness.Docker, project, data string, ports map[string]string) {
	ca := filepath.Join(data, "ca.pem")
	cfg := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(harness.AdminUser + ":" + harness.AdminPassword))
	if err := os.WriteFile(filepath.Join(cfg, "config.json"), []byte(fmt.Sprintf(`{"auths":{"myregistry.azurecr.io:8443":{"auth":%q}}}`, auth)), 0o644); err != nil {
		t.Fatal(err)
	}
	layout := t.TempDir()
	writeLayout(t, layout, 2)
	// in runs a command in a client container on the compose network, trusting only the CA.
	in := func(args ...string) (string, error) {
		return dk.TryRun(append([]string{"run", "--rm", "--network", project + "_default",
			"-v", ca + ":/ca.pem:ro", "-v", cfg + ":/docker:ro", "-v", layout + ":/layout:ro",
			"-e", "SSL_CERT_FILE=/ca.pem", "-e", "DOCKER_CONFIG=/docker", "e2e-client:dev"}, args...)...)
	}
	ref := "myregistry.azurecr.io:8443/compose/app:v1"
	if out, err := in("/bin/crane", "push", "/layout", ref); err != nil {
		t.Fatalf("push through the network alias: %v\n%s", err, out)
	}
	if out, err := in("/bin/crane", "pull", ref, "/pulled.tar"); err != nil {
		t.Fatalf("pull through the network alias: %v\n%s", err, out)
	}
	// Without the CA the same pull must fail: TLS is really verified.
	if out, err := dk.TryRun("run", "--rm", "--network", project+"_default", "e2e-client:dev", "/bin/crane", "digest", ref); err == nil ||
		!strings.Contains(out, "certificate signed by unknown authority") {
		t.Fatalf("pull without the CA: %v\n%s", err, out)
	}

	// Lock the registry through ARM, with az on the host through the published proxy (the
	// az CLI's public cloud names reach the emulator that way).
	azBin := harness.Tool(t, "AZ", "az")
	azEnv := append(clientEnv(t), "REQUESTS_CA_BUNDLE="+ca, "HTTPS_PROXY=http://127.0.0.1:"+ports["PROXY"], "NO_PROXY=localhost,127.0.0.1")
	az := func(args ...string) string {
		t.Helper()
		out, err := runEnv(t, azEnv, azBin, args...)
		if err != nil {
			t.Fatalf("az %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(out)
	}
	az("login", "--service-principal", "-u", harness.ClientID, "-p", harness.ClientSecret, "--tenant", harness.TenantID, "-o", "none")
	az("acr", "update", "-n", "myregistry", "--public-network-enabled", "false", "-o", "none")
	out, err := in("/bin/crane", "digest", ref)
	if err == nil || !strings.Contains(out, "DENIED: client with IP '") || !strings.Contains(out, "is not allowed access. Refer https://aka.ms/acr/firewall to grant access.") {
		t.Fatalf("a locked registry from the network: %v\n%s", err, out)
	}
	// A trusted service still gets through: ACR import, with the registry locked.
	az("acr", "import", "-n", "myregistry", "-r", "myregistry", "--source", "compose/app:v1", "-t", "compose/imported:v1", "-o", "none")
	if state := httpGet(t, "http://127.0.0.1:"+ports["HTTP"]+"/_emulator/state"); !strings.Contains(state, `"compose/imported"`) {
		t.Fatalf("after az acr import on the locked registry, no compose/imported:\n%s", state)
	}
}

func httpGet(t *testing.T, u string) string {
	t.Helper()
	res, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return string(b)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}
