package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// A readmeSession is what a user does in one shell after `make run`, following the README: its
// steps run in order in one directory, each step's exports and working directory carried to the
// next, against the binary started as `make run` starts it (default ports, data directory under
// HOME), with the tools of `make tools` in build/tools/bin. Each session runs in a network
// namespace of its own, so the README's fixed addresses (localhost:8443, 127.0.0.1:8080...) are
// the session's alone, whatever else runs on the machine.
type readmeSession struct {
	name     string
	world    string // a README block marked `world NAME` to start with (--config), "" for the default world
	docker   bool   // a private dockerd, which the session's docker client talks to
	noServer bool   // no `make run` emulator: the session serves its own (docker compose)
	steps    []readmeStep
}

// A readmeStep runs a README block, a Go program of e2e/readme, or a check of the test's own.
type readmeStep struct {
	block   string   // a README block marked `run NAME`, run by bash -e,
	saveAs  string   // or, with saveAs, a block the README says to save, written to this file of the session's directory
	program string   // or a main package (e2e/readme/...), built by the test,
	args    []string // and run with these arguments
	check   string   // or a shell check of the test's own, not from the README
	want    []string // what the output must contain
	not     []string // and must not
}

// readmeSessions cover every README block marked run, world, or source of a main package
// (TestReadmeBlocks checks that none is left out).
var readmeSessions = []readmeSession{
	{name: "quickstart", steps: []readmeStep{
		// make tools has nothing to do: the session has every tool it installs.
		{block: "tools", not: []string{"go install", "go build", "building", "installing"}},
		{check: `command -v crane && grep -E "^CRANE_VERSION +:= $(crane version)$" Makefile`, want: []string{"/acr-emulator/build/tools/bin/crane\n"}},
		{block: "path"},
		{block: "crane", want: []string{"v1\nv2\n"}},
		{check: "crane ls localhost:8443/hello", want: []string{"v1\nv2\nv3\n"}},
		{block: "oras", want: []string{"v1\nv2\nv3\n"}},
		{program: "e2e/readme/azuresdk", want: []string{"hello\nnotes\n"}},
		{block: "managed-identity"},
		{check: `curl -sf -H "X-IDENTITY-HEADER: $IDENTITY_HEADER" "$IDENTITY_ENDPOINT?api-version=2019-08-01&resource=https://containerregistry.azure.net"`,
			want: []string{`"access_token":"`}},
		{block: "refresh-token", want: []string{"v1\nv2\nv3\n"}},
		// crane ls used the refresh token: it replaced the admin user in docker's config.
		{check: `grep -q "$(printf 00000000-0000-0000-0000-000000000000: | base64 | cut -c1-20)" ~/.docker/config.json`},
	}},
	{name: "docker", docker: true, steps: []readmeStep{
		{block: "docker", want: []string{"localhost:8443/hello:docker"}},
		{check: "docker image inspect --format '{{index .RepoDigests 0}}' localhost:8443/hello:docker", want: []string{"localhost:8443/hello@sha256:"}},
	}},
	{name: "arm", steps: []readmeStep{
		{block: "path"},
		{block: "crane"},
		{program: "e2e/readme/armsdk", args: []string{"Disabled"}, want: []string{"myregistry: publicNetworkAccess Disabled, trusted services AzureServices"}},
		{check: "crane ls localhost:8443/hello 2>&1 | grep DENIED", want: []string{"DENIED: client with IP '127.0.0.1' is not allowed access. Refer https://aka.ms/acr/firewall to grant access."}},
		{program: "e2e/readme/armsdk", args: []string{"Enabled"}, want: []string{"myregistry: publicNetworkAccess Enabled"}},
		{check: "crane ls localhost:8443/hello", want: []string{"v1\nv2\nv3\n"}},
	}},
	{name: "network", world: "network-world", steps: []readmeStep{
		{block: "path"},
		{block: "network", want: []string{
			"client with IP '198.51.100.7' is not allowed access",
			"DENIED: client with IP '127.0.0.1' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.",
		}},
		// The office reaches myregistry and sees the image the VNet pushed.
		{check: "HTTPS_PROXY=http://127.0.0.1:9002 crane digest lockedregistry.azurecr.io/app:v1 > vnet.txt && " +
			"HTTPS_PROXY=http://127.0.0.1:9001 crane digest myregistry.azurecr.io/app:v1 | diff - vnet.txt"},
	}},
	{name: "data-endpoints", world: "data-endpoint-world", steps: []readmeStep{
		{block: "path"},
		{block: "data-endpoints", want: []string{
			"myregistry.eastus.data.azurecr.io",
			"DENIED: client with IP '20.0.0.10' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.",
		}},
		// The audit names the data endpoint, the private endpoint's address and the rule.
		{check: `curl -s 'http://localhost:8080/_emulator/audit?registry=myregistry&decision=denied' | tr -d ' \n' | grep -o '"origin":"halfvnet"[^}]*"host":"myregistry.eastus.data.azurecr.io"[^}]*"rule":"private-dns-record-missing"' | head -1`,
			want: []string{`"rule":"private-dns-record-missing"`}},
		{check: `curl -s 'http://localhost:8080/_emulator/audit?registry=myregistry&decision=allowed' | tr -d ' \n' | grep -o '"origin":"corpvnet","originKind":"private-endpoint","clientIp":"10.0.0.4","host":"myregistry.eastus.data.azurecr.io","privateIp":"10.0.0.6"' | head -1`,
			want: []string{`"privateIp":"10.0.0.6"`}},
	}},
	{name: "az", steps: []readmeStep{
		{block: "az-setup", want: []string{"az is logged in to the emulator"}},
		{block: "az", want: []string{`"AzureServices"`, `"accessToken": "`, "Looks like you don't have access to registry 'localhost:8443'"}},
		{check: "az acr show -n myregistry --query '[publicNetworkAccess, networkRuleBypassOptions, networkRuleSet.ipRules[0].ipAddressOrRange]' -o tsv",
			want: []string{"Disabled\nNone\n203.0.113.0/24\n"}},
		{block: "az-reopen", want: []string{`"Deny"`, "Looks like you don't have access to registry 'localhost:8443'"}},
		{check: "az acr show -n myregistry --query '[publicNetworkAccess, networkRuleSet.defaultAction]' -o tsv && " +
			"az acr login -n myregistry --expose-token --query loginServer -o tsv 2>/dev/null", // stderr: how to use the token
			want: []string{"Enabled\nAllow\nlocalhost:8443\n"}},
	}},
	{name: "exec-env", steps: []readmeStep{
		{block: "path"},
		{block: "exec", want: []string{"multiarch\nv1\n", "['samples/from-archive', 'samples/from-layout', 'samples/hello', 'samples/tiny']\n"}},
		// The user's own Go module, with the README's world file next to it.
		{check: userModule},
		{block: "network-world", saveAs: "myapp/world.yaml"},
		{block: "exec-go-test", want: []string{"ok  \texample.com/myapp\t"}},
		{check: "cd .."},
		{block: "sample", want: []string{"localhost:8443/hello:v1", "localhost:8443/hello:multiarch"}},
		{block: "env"},
		{check: `echo "$ACR_LOGIN_SERVER $SSL_CERT_FILE $AZURE_CLIENT_ID" && ` +
			`crane auth login "$ACR_LOGIN_SERVER" -u "$AZURE_CLIENT_ID" -p "$AZURE_CLIENT_SECRET" && crane ls "$ACR_LOGIN_SERVER/hello"`,
			want: []string{"localhost:8443 /", "/acr-emulator/home/.acr-emulator/ca.pem 33333333-3333-3333-3333-333333333333\n", "multiarch\nv1\n"}},
		{check: `python3 -c 'import os; from azure.identity import EnvironmentCredential; from azure.containerregistry import ContainerRegistryClient
print(list(ContainerRegistryClient("https://" + os.environ["ACR_LOGIN_SERVER"], EnvironmentCredential(), audience="https://containerregistry.azure.net").list_repository_names()))'`,
			want: []string{"['hello']\n"}},
		// The az CLI with its public cloud: HTTPS_PROXY sends Azure's names to the emulator.
		{check: `az login --service-principal -u "$AZURE_CLIENT_ID" -p "$AZURE_CLIENT_SECRET" --tenant "$AZURE_TENANT_ID" -o none && ` +
			`az acr show -n myregistry --query loginServer -o tsv`, want: []string{"localhost:8443\n"}},
	}},
	{name: "tokens", steps: []readmeStep{
		{block: "path"},
		{block: "crane"},
		{block: "az-setup"},
		{block: "tokens", want: []string{"v1\nv2\nv3\n", "/v2/hello/manifests/v9: UNAUTHORIZED", "/v2/_catalog?n=1000: UNAUTHORIZED", "/oauth2/token"}},
		{check: "az acr token show -r myregistry -n hello-token --query '[status, credentials.passwords[].name | join(`,`, @)]' -o tsv",
			want: []string{"disabled\npassword1,password2\n"}},
		{check: "crane auth login localhost:8443 -u myregistry -p acr-emulator-admin-password && crane ls localhost:8443/hello", want: []string{"v1\nv2\nv3\n"}},
	}},
	{name: "tokens-world", world: "tokens-world", steps: []readmeStep{
		{block: "path"},
		{check: "crane auth login localhost:8443 -u ci-token -p ci-token-password && crane ls localhost:8443/samples/hello", want: []string{"v1\n"}},
		{check: "crane auth login localhost:8443 -u admin-token -p admin-token-password && crane ls localhost:8443/samples/hello 2>&1 | grep -c UNAUTHORIZED",
			want: []string{"1\n"}},
	}},
	{name: "webhooks", steps: []readmeStep{
		{block: "path"},
		{block: "crane"},
		{block: "az-setup"},
		{block: "webhooks", want: []string{"apphook", "app:*", "enabled", `"action":"push","target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json"`,
			`"repository":"app","tag":"v1"},"request":{`, `"host":"localhost:8443","method":"PUT","useragent":"crane/`, `"action":"ping"}`,
			"platform {", "200 OK", `"X-Team": "platform"`, `"serviceUri": "http://127.0.0.1:9090/acr"`}},
		// other:v1 is out of the scope: it was not delivered.
		{check: `! grep '"repository":"other"' hooks.log && az acr webhook list-events -r myregistry -n apphook --query "[].eventRequestMessage.content.action" -o tsv`,
			want: []string{"ping\npush\n"}},
	}},
	{name: "tasks", steps: []readmeStep{
		{block: "path"},
		{block: "crane"},
		{block: "az-setup"},
		{block: "tasks", want: []string{"Run ID: ", "web:v1", "denied: client with IP '20.0.0.8' is not allowed access", "Run failed"}},
		{check: "crane ls localhost:8443/web 2>&1 | grep DENIED && az acr task list-runs -r myregistry -n cross-task --query '[].status' -o tsv",
			want: []string{"Failed\nSucceeded\n"}},
	}},
	// docker compose instead of make run (the README says to stop make run first: the stack
	// publishes the same ports), with the compose v2 plugin and a docker of the session's own.
	{name: "compose", docker: true, noServer: true, steps: []readmeStep{
		{block: "path"},
		{block: "compose-up", not: []string{"go install"}},
		{check: "docker compose ps --format '{{.Service}} {{.Health}}' && acr-emulator health && docker compose logs",
			want: []string{"acr-emulator healthy\n", "login server localhost:8443", "IDENTITY_ENDPOINT=http://localhost:8080/msi/token"}, not: []string{"[::]"}},
		{block: "compose-host", want: []string{
			"localhost:8443/hello:multiarch", "multiarch\nv1\n", // sample push, crane ls
			"The push refers to repository [localhost:8443/my-image]", // docker push
			"DENIED: client with IP '",                                // crane, with public access disabled
			"PASS firewall-ip-rules", "PASS appservice-not-trusted", " passed, 0 failed",
		}},
		{check: "crane ls localhost:8443/my-image && crane ls localhost:8443/hello", want: []string{"v1\nimported\nmultiarch\nv1\n"}},
		{block: "compose-container", want: []string{"imported\nmultiarch\nv1\n"}},
		{block: "compose-down"},
		{check: "docker ps -aq | wc -l && docker network ls --format '{{.Name}}'", want: []string{"0\n"}, not: []string{"acr-emulator_default"}},
	}},
	{name: "world-files", world: "world-files", steps: []readmeStep{
		// otherregistry is served on its own port, and authentication is on there.
		{check: "curl -s -o /dev/null -w '%{http_code}\\n' --cacert ~/.acr-emulator/ca.pem https://localhost:8444/v2/", want: []string{"401\n"}},
	}},
	{name: "world-declares", world: "world-declares", steps: []readmeStep{
		// The images are preloaded, the task exists, and this machine is locked out.
		{check: "curl -s http://127.0.0.1:8080/_emulator/state", want: []string{"samples/hello", "samples/from-layout", "samples/from-archive"}},
		{check: "curl -s -o /dev/null -w '%{http_code}\\n' --cacert ~/.acr-emulator/ca.pem https://localhost:8443/v2/", want: []string{"403\n"}},
	}},
	{name: "snapshot", steps: []readmeStep{
		{block: "path"},
		{block: "sample"},
		{block: "snapshot", want: []string{`"status": "saved"`, "v1\n"}},
		{check: "test -f ./demo-snapshot/snapshot.json && test -f /tmp/demo-snapshot/snapshot.json"},
	}},
	{name: "faults", steps: []readmeStep{
		{block: "path"},
		{block: "crane"},
		{block: "faults", want: []string{`"status": 503`, "sha256:", `"faults": []`, `"consistent": true`}},
	}},
	{name: "artifact-cache", world: "artifact-cache-world", steps: []readmeStep{
		{block: "path"},
		{block: "artifact-cache", want: []string{"v1\n", "sha256:"}},
		// The cached copies are what the upstreams hold.
		{check: `crane auth login localhost:8444 -u upstreamreg -p upstream-password && ` +
			`test "$(crane digest localhost:8443/cached/web:v1)" = "$(crane digest localhost:8444/apps/web:v1)" && echo same`, want: []string{"same\n"}},
		{block: "artifact-cache-trusted", want: []string{`"networkRuleBypassOptions":"None"`,
			"DENIED: cache rule 'upstream-apps' cannot populate the cache", `"networkRuleBypassOptions":"AzureServices"`, `"provisioningState":"Succeeded"`}},
		{check: "crane ls localhost:8443/cached/web && crane ls localhost:8443/web", want: []string{"v1\nv2\nv2\n"}},
	}},
	{name: "scenarios", steps: []readmeStep{
		{block: "path"},
		{block: "scenarios", want: []string{"firewall-ip-rules", "appservice-not-trusted"}},
	}},
}

// userModule is a user's Go module with a test of its own: the registry of the README's
// network world refuses this machine (its firewall lets only 198.51.100.0/28 in), over TLS
// verified with SSL_CERT_FILE.
const userModule = `mkdir -p myapp && cd myapp
printf 'module example.com/myapp\n\ngo 1.22\n' > go.mod
cat > registry_test.go <<'EOF'
package myapp

import (
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestRegistryRefusesThisMachine(t *testing.T) {
	res, err := http.Get("https://" + os.Getenv("ACR_LOGIN_SERVER") + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), "client with IP '127.0.0.1' is not allowed access") {
		t.Fatalf("%s %s", res.Status, body)
	}
}
EOF`

// TestReadmeShell runs every README session, each in a fresh network namespace: the test binary
// runs itself there as TestReadmeSession.
func TestReadmeShell(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the README sessions run in network namespaces of their own and must run as root (CI does)")
	}
	root := mustRoot(t)
	bin := harness.Binary(t)
	tools := makeTools(t, root)
	for _, s := range readmeSessions {
		t.Run(s.name, func(t *testing.T) {
			// Sessions share nothing (each has its own network namespace, directory, HOME and
			// dockerd), so they run side by side, as many as -parallel allows (GOMAXPROCS).
			t.Parallel()
			// A checkout as the user has it, named as the repository is: docker compose names
			// its project, and so its network, after the directory.
			dir := filepath.Join(t.TempDir(), "acr-emulator")
			checkout(t, root, dir)
			symlink(t, bin, filepath.Join(dir, "bin/acr-emulator"))
			for rel, src := range tools {
				dst := filepath.Join(dir, "build/tools/bin", rel)
				if filepath.Dir(rel) == "static" {
					// For a docker build context (a scratch image), which would copy a symlink
					// as a symlink.
					hardlink(t, src, dst)
				} else {
					symlink(t, src, dst)
				}
			}
			for _, st := range s.steps {
				if st.program != "" {
					out := filepath.Join(dir, ".programs", filepath.Base(st.program))
					cmd := exec.Command("go", "build", "-o", out, "./"+st.program)
					cmd.Dir = root
					if b, err := cmd.CombinedOutput(); err != nil {
						t.Fatalf("go build %s: %v\n%s", st.program, err, b)
					}
				}
			}
			start := time.Now()
			cmd := exec.Command(os.Args[0], "-test.run=^TestReadmeSession$", "-test.count=1", "-test.v", "-test.timeout=20m")
			cmd.Env = append(os.Environ(), "ACR_README_SESSION="+s.name, "ACR_README_DIR="+dir)
			inNetworkNamespace(cmd)
			out, err := cmd.CombinedOutput()
			t.Logf("session %s (%.1fs):\n%s", s.name, time.Since(start).Seconds(), out)
			if err != nil {
				t.Fatalf("session %s: %v", s.name, err)
			}
		})
	}
}

// checkout fills dir with the repository's files as symlinks (the README's commands read them:
// the Makefile, the sources `make image` builds, the example worlds), but not what the user
// builds (bin, build), which stays the session's. docker-compose.yml is copied: compose takes
// its project directory, where the data directory goes, from the file's path.
func checkout(t *testing.T, root, dir string) {
	t.Helper()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch name := e.Name(); name {
		case ".git", "bin", "build":
		case "docker-compose.yml":
			b, err := os.ReadFile(filepath.Join(root, name))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		default:
			symlink(t, filepath.Join(root, name), filepath.Join(dir, name))
		}
	}
}

// toolEnv names the variables `make test-e2e` sets for the tools it installed.
var toolEnv = map[string]string{"crane": "CRANE", "oras": "ORAS", "regctl": "REGCTL", "docker-compose": "COMPOSE_PLUGIN", "static/crane": "CRANE_STATIC"}

// makeTools is every file the Makefile's tools target puts in build/tools/bin (by its path
// there) and where this machine has it, so that `make tools` in a session has nothing to do.
func makeTools(t *testing.T, root string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	tools := map[string]string{}
	for _, line := range strings.Split(strings.ReplaceAll(string(b), "\\\n", " "), "\n") { // continuation lines joined
		prereqs, ok := strings.CutPrefix(line, "tools:")
		if !ok {
			continue
		}
		for _, f := range strings.Fields(prereqs) {
			rel, ok := strings.CutPrefix(f, "$(TOOLS_BIN)/")
			if !ok {
				continue
			}
			src := os.Getenv(toolEnv[rel])
			if toolEnv[rel] == "" || src == "" {
				src = filepath.Join(root, "build/tools/bin", rel)
			}
			if _, err := os.Stat(src); err != nil {
				t.Fatalf("the Makefile's tools target wants build/tools/bin/%s: run `make tools`: %v", rel, err)
			}
			tools[rel] = src
		}
	}
	if len(tools) == 0 {
		t.Fatal("no $(TOOLS_BIN)/... prerequisites on the Makefile's tools: line")
	}
	return tools
}

// TestReadmeSession is one session of TestReadmeShell, inside its network namespace.
func TestReadmeSession(t *testing.T) {
	name, dir := os.Getenv("ACR_README_SESSION"), os.Getenv("ACR_README_DIR")
	if name == "" {
		t.Skip("runs inside TestReadmeShell, in a network namespace of its own")
	}
	var s *readmeSession
	for i := range readmeSessions {
		if readmeSessions[i].name == name {
			s = &readmeSessions[i]
		}
	}
	if s == nil {
		t.Fatalf("no session %q", name)
	}
	if err := loopbackUp(); err != nil {
		t.Fatal(err)
	}
	blocks := runBlocks(t)
	home := filepath.Join(dir, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}
	var args []string
	if s.world != "" {
		w, ok := worldBlock(t, s.world)
		if !ok {
			t.Fatalf("no README world block %q", s.world)
		}
		path := filepath.Join(dir, "world.yaml")
		if err := os.WriteFile(path, []byte(w), 0o644); err != nil {
			t.Fatal(err)
		}
		args = []string{"--config", path}
	}
	if !s.noServer {
		harness.StartAsMakeRun(t, home, args...)
	}
	env := userEnv(home)
	if s.docker {
		env = append(env, "DOCKER_HOST="+harness.StartDocker(t).Host)
	}
	sh := &userShell{dir: dir, state: filepath.Join(dir, ".state"), env: env}
	for i, st := range s.steps {
		var script, what string
		switch {
		case st.saveAs != "":
			b, ok := readmeBlockNamed(t, st.block)
			if !ok {
				t.Fatalf("no README block %q", st.block)
			}
			if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, st.saveAs)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, st.saveAs), []byte(b.text), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("step %d, README.md:%d (%s) saved as %s", i+1, b.line, st.block, st.saveAs)
			continue
		case st.block != "":
			b, ok := blocks[st.block]
			if !ok {
				t.Fatalf("no README block %q", st.block)
			}
			script, what = b.text, fmt.Sprintf("README.md:%d (%s)", b.line, st.block)
		case st.program != "":
			script = shellQuote(filepath.Join(dir, ".programs", filepath.Base(st.program)), st.args...) + "\n"
			what = strings.TrimSpace("go run ./" + st.program + " " + strings.Join(st.args, " "))
		default:
			script, what = st.check, "the test's check"
		}
		start := time.Now()
		out, err := sh.run(t, script)
		t.Logf("step %d, %s (%.1fs):\n%s", i+1, what, time.Since(start).Seconds(), indent(out))
		if err != nil {
			t.Fatalf("step %d, %s, failed: %v", i+1, what, err)
		}
		for _, w := range st.want {
			if !strings.Contains(out, w) {
				t.Fatalf("step %d, %s: the output lacks %q", i+1, what, w)
			}
		}
		for _, w := range st.not {
			if strings.Contains(out, w) {
				t.Fatalf("step %d, %s: the output has %q", i+1, what, w)
			}
		}
	}
}

func worldBlock(t *testing.T, name string) (string, bool) {
	b, ok := readmeBlockNamed(t, name)
	if !ok || b.kind != "world" {
		return "", false
	}
	return b.text, true
}

// readmeBlockNamed is the README block marked `run NAME` or `world NAME`.
func readmeBlockNamed(t *testing.T, name string) (readmeBlock, bool) {
	for _, b := range readmeBlocks(t) {
		if (b.kind == "world" || b.kind == "run") && b.arg == name {
			return b, true
		}
	}
	return readmeBlock{}, false
}

// userEnv is the environment of a user's fresh shell: this machine's, without anything that
// would point clients elsewhere (the test's own CA, proxies, docker, Azure settings), without
// the tools of build/tools/bin (the README says how to add them), and with HOME the session's.
// The Go caches stay this machine's, as a user's do when they build (a fresh HOME would move
// them and make every go build in a session start cold).
func userEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", k == "PATH", k == "SSL_CERT_FILE", k == "SSL_CERT_DIR", k == "REQUESTS_CA_BUNDLE", k == "DOCKER_HOST", k == "DOCKER_CONFIG",
			strings.EqualFold(k, "HTTPS_PROXY"), strings.EqualFold(k, "HTTP_PROXY"), strings.EqualFold(k, "NO_PROXY"),
			strings.HasPrefix(k, "AZURE_"), strings.HasPrefix(k, "IDENTITY_"), strings.HasPrefix(k, "ACR_"), strings.HasPrefix(k, "PYENV"):
			continue
		case k == "CRANE", k == "ORAS", k == "REGCTL", k == "GOFLAGS", k == "GOCACHE", k == "GOMODCACHE", k == "GOPATH":
			continue
		}
		env = append(env, kv)
	}
	for _, k := range []string{"GOCACHE", "GOMODCACHE", "GOPATH"} {
		if out, err := exec.Command("go", "env", k).Output(); err == nil {
			env = append(env, k+"="+strings.TrimSpace(string(out)))
		}
	}
	var path []string
	for _, p := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(p, "crane")); err == nil && strings.Contains(p, filepath.Join("build", "tools")) {
			continue
		}
		// A Debian machine's python3 is /usr/bin/python3, with Debian's Azure SDKs (python3-azure,
		// which make tools installs); a pyenv python3 ahead of it on PATH (this machine has one)
		// has none, and a user who follows the README has no pyenv.
		if strings.Contains(p+"/", "/.pyenv/") {
			continue
		}
		path = append(path, p)
	}
	return append(env, "HOME="+home, "PATH="+strings.Join(path, string(filepath.ListSeparator)))
}

// userShell runs steps as one shell session would: bash -e, each step starting with the
// exports and the working directory the previous one ended with.
type userShell struct {
	dir, state string
	env        []string
}

func (s *userShell) run(t testing.TB, script string) (string, error) {
	t.Helper()
	if err := os.MkdirAll(s.state, 0o700); err != nil {
		t.Fatal(err)
	}
	envFile, cwdFile := filepath.Join(s.state, "env"), filepath.Join(s.state, "cwd")
	if !strings.HasSuffix(script, "\n") {
		script += "\n"
	}
	full := "set -e\n" +
		"if [ -f " + shellQuote(envFile) + " ]; then . " + shellQuote(envFile) + "; cd \"$(cat " + shellQuote(cwdFile) + ")\"; fi\n" +
		script +
		"export -p > " + shellQuote(envFile) + "\npwd > " + shellQuote(cwdFile) + "\n"
	cmd := exec.Command("bash", "-c", full)
	cmd.Dir = s.dir
	cmd.Env = s.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func shellQuote(word string, more ...string) string {
	var out []string
	for _, w := range append([]string{word}, more...) {
		out = append(out, "'"+strings.ReplaceAll(w, "'", `'\''`)+"'")
	}
	return strings.Join(out, " ")
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}

// hardlink makes link the same file as target (a copy across file systems).
func hardlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if real, err := filepath.EvalSymlinks(target); err == nil {
		target = real
	}
	if err := os.Link(target, link); err != nil {
		copyFile(t, target, link)
	}
}

func symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
