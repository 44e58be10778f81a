package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// clientEnv is a client's environment without anything of this machine's that points at a CA,
// a proxy or credentials, and with a private HOME: what exec and env set must be enough.
func clientEnv(t *testing.T) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch strings.ToUpper(k) {
		case "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "CURL_CA_BUNDLE", "HOME", "DOCKER_CONFIG",
			"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "AZURE_CONFIG_DIR", "XDG_CACHE_HOME":
			continue
		}
		env = append(env, kv)
	}
	home := t.TempDir()
	return append(env, "HOME="+home, "XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "AZURE_CORE_COLLECT_TELEMETRY=false",
		"AZURE_CONFIG_DIR="+filepath.Join(home, ".azure"))
}

func runEnv(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// pythonClients uses Debian's python3-azure (azure-identity, azure-containerregistry) and
// requests with nothing but the environment: a service principal token for ARM through the
// real Entra and ARM names (HTTPS_PROXY), the registry's repositories with the SDK, and a
// managed-identity token (IDENTITY_ENDPOINT) exchanged for an ACR refresh token.
const pythonClients = `
import os, requests
from azure.identity import EnvironmentCredential, ManagedIdentityCredential
from azure.containerregistry import ContainerRegistryClient
sub = "22222222-2222-2222-2222-222222222222"
arm = EnvironmentCredential().get_token("https://management.azure.com/.default").token
r = requests.get("https://management.azure.com/subscriptions/%s/providers/Microsoft.ContainerRegistry/registries?api-version=2023-07-01" % sub,
                 headers={"Authorization": "Bearer " + arm})
r.raise_for_status()
print("arm", [x["properties"]["loginServer"] for x in r.json()["value"]])
acr = ContainerRegistryClient("https://" + os.environ["ACR_LOGIN_SERVER"], EnvironmentCredential(), audience="https://containerregistry.azure.net")
print("repositories", list(acr.list_repository_names()))
mi = ManagedIdentityCredential().get_token("https://containerregistry.azure.net/.default").token
r = requests.post("https://" + os.environ["ACR_LOGIN_SERVER"] + "/oauth2/exchange",
                  data={"grant_type": "access_token", "service": os.environ["ACR_LOGIN_SERVER"], "access_token": mi})
r.raise_for_status()
print("managed identity refresh token", len(r.json()["refresh_token"]) > 100)
`

// TestExec runs real clients under acr-emulator exec, with only the environment it sets.
func TestExec(t *testing.T) {
	bin := harness.Binary(t)
	crane := harness.Tool(t, "CRANE", "crane")
	env := clientEnv(t)
	layout := t.TempDir()
	writeLayout(t, layout, 1)

	// crane and curl, through the environment alone; the script's status is exec's.
	script := `set -e
"$CRANE" auth login "$ACR_LOGIN_SERVER" -u "$AZURE_CLIENT_ID" -p "$AZURE_CLIENT_SECRET"
"$CRANE" push "$LAYOUT" "$ACR_LOGIN_SERVER/exec/app:v1"
"$CRANE" ls "$ACR_LOGIN_SERVER/exec/app"
curl -sS -o /dev/null -w 'direct %{http_code}\n' "https://$ACR_LOGIN_SERVER/v2/"
curl -sS -o /dev/null -w 'proxied %{http_code}\n' https://myregistry.azurecr.io/v2/
curl -sS -H "X-IDENTITY-HEADER: $IDENTITY_HEADER" "$IDENTITY_ENDPOINT?resource=https://management.azure.com/&api-version=2019-08-01" | grep -q access_token
echo identity ok
exit 7`
	out, err := runEnv(t, append(env, "CRANE="+crane, "LAYOUT="+layout), bin, "exec", "--", "sh", "-c", script)
	if code := exitCode(err); code != 7 {
		t.Fatalf("exec exit %d (want the script's 7): %v\n%s", code, err, out)
	}
	for _, want := range []string{"v1\n", "direct 401", "proxied 401", "identity ok"} {
		if !strings.Contains(out, want) {
			t.Fatalf("exec output lacks %q:\n%s", want, out)
		}
	}

	// Python: Debian's azure-identity and azure-containerregistry, and requests.
	python := harness.Tool(t, "PYTHON3", "/usr/bin/python3")
	out, err = runEnv(t, append(env, "CRANE="+crane, "LAYOUT="+layout, "PYTHON="+python, "SCRIPT="+pythonClients), bin,
		"exec", "--", "sh", "-c", `"$CRANE" auth login "$ACR_LOGIN_SERVER" -u "$AZURE_CLIENT_ID" -p "$AZURE_CLIENT_SECRET" >/dev/null &&
		"$CRANE" push "$LAYOUT" "$ACR_LOGIN_SERVER/py/app:v1" >/dev/null && exec "$PYTHON" -c "$SCRIPT"`)
	if err != nil || !strings.Contains(out, "arm ['localhost:") || !strings.Contains(out, "repositories ['py/app']") ||
		!strings.Contains(out, "managed identity refresh token True") {
		t.Fatalf("python under exec: %v\n%s", err, out)
	}

	// The az CLI with the public cloud's names: the proxy sends them to the emulator.
	az := harness.Tool(t, "AZ", "az")
	out, err = runEnv(t, append(env, "AZ="+az), bin, "exec", "--", "sh", "-c",
		`"$AZ" login --service-principal -u "$AZURE_CLIENT_ID" -p "$AZURE_CLIENT_SECRET" --tenant "$AZURE_TENANT_ID" -o none &&
		"$AZ" acr show -n myregistry --query loginServer -o tsv`)
	if err != nil || !strings.Contains(out, "localhost:") {
		t.Fatalf("az under exec: %v\n%s", err, out)
	}

	// A command that cannot start, and bad usage.
	if out, err := runEnv(t, env, bin, "exec", "--", "/nonexistent/cmd"); exitCode(err) != 127 {
		t.Fatalf("missing command: exit %d\n%s", exitCode(err), out)
	}
	if out, err := runEnv(t, env, bin, "exec", "sh"); exitCode(err) != 2 || !strings.Contains(out, "usage: acr-emulator exec") {
		t.Fatalf("exec without --: exit %d\n%s", exitCode(err), out)
	}
}

// TestExecSignals: a signal to exec reaches the command, exec waits for it, stops the
// emulator and exits with the command's status; a command killed by a signal gives 128+N.
func TestExecSignals(t *testing.T) {
	bin := harness.Binary(t)
	env := clientEnv(t)
	cmd := exec.Command(bin, "exec", "--", "sh", "-c", `trap 'echo got TERM; exit 9' TERM; echo started; while :; do sleep 0.1; done`)
	cmd.Env = env
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "started") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if exitCode(err) != 9 || !strings.Contains(out.String(), "got TERM") {
			t.Fatalf("exit %d after SIGTERM (want the command's 9):\n%s", exitCode(err), out.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("exec did not end after SIGTERM:\n%s", out.String())
	}
	if o, err := runEnv(t, env, bin, "exec", "--", "sh", "-c", `kill -KILL $$`); exitCode(err) != 137 {
		t.Fatalf("command killed by SIGKILL: exit %d\n%s", exitCode(err), o)
	}
}

// TestEnv prints a running emulator's client environment; eval'd, it is enough for crane,
// curl and Python.
func TestEnv(t *testing.T) {
	bin := harness.Binary(t)
	crane := harness.Tool(t, "CRANE", "crane")
	python := harness.Tool(t, "PYTHON3", "/usr/bin/python3")
	emu := harness.Start(t)
	env := clientEnv(t)
	layout := t.TempDir()
	writeLayout(t, layout, 1)

	// The emulator runs on this machine: env names its own ca.pem.
	out, err := runEnv(t, env, bin, "env", "--url", "http://"+emu.HTTPAddr)
	if err != nil || !strings.Contains(out, "export SSL_CERT_FILE="+emu.CAFile+"\n") ||
		!strings.Contains(out, "export ACR_LOGIN_SERVER="+emu.RegistryHost()+"\n") ||
		!strings.Contains(out, "export HTTPS_PROXY=http://localhost:") {
		t.Fatalf("acr-emulator env: %v\n%s", err, out)
	}
	script := `set -e
eval "$("$BIN" env --url "$URL")"
"$CRANE" auth login "$ACR_LOGIN_SERVER" -u "$AZURE_CLIENT_ID" -p "$AZURE_CLIENT_SECRET"
"$CRANE" push "$LAYOUT" "$ACR_LOGIN_SERVER/py/app:v1"
curl -sS -o /dev/null -w 'curl %{http_code}\n' "https://$ACR_LOGIN_SERVER/v2/"
"$PYTHON" -c "$SCRIPT"`
	vars := append(env, "BIN="+bin, "URL=http://"+emu.HTTPAddr, "CRANE="+crane, "LAYOUT="+layout, "PYTHON="+python, "SCRIPT="+pythonClients)
	out, err = runEnv(t, vars, "sh", "-c", script)
	if err != nil || !strings.Contains(out, "curl 401") || !strings.Contains(out, "repositories ['py/app']") ||
		!strings.Contains(out, "managed identity refresh token True") {
		t.Fatalf("clients with eval \"$(acr-emulator env)\": %v\n%s", err, out)
	}

	// Where the emulator's data directory is not this machine's (here: its ca.pem is gone),
	// env fetches the CA over the https listener and keeps it in the user's cache.
	if err := os.Remove(emu.CAFile); err != nil {
		t.Fatal(err)
	}
	out, err = runEnv(t, env, bin, "env", "--url", "https://"+emu.RegistryHost())
	if err != nil || !strings.Contains(out, "/.cache/acr-emulator/"+strings.ReplaceAll(emu.RegistryHost(), ":", "_")+"-ca.pem") {
		t.Fatalf("env with the CA fetched: %v\n%s", err, out)
	}
	if out, err := runEnv(t, env, bin, "env", "--url", "http://"+harness.FreeAddr(t)); err == nil || !strings.Contains(out, "fetching the CA") {
		t.Fatalf("env against nothing: %v\n%s", err, out)
	}
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	return -1
}
