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
	name   string
	world  string // a README block marked `world NAME` to start with (--config), "" for the default world
	docker bool   // a private dockerd, which the session's docker client talks to
	steps  []readmeStep
}

// A readmeStep runs a README block, a Go program of e2e/readme, or a check of the test's own.
type readmeStep struct {
	block   string   // a README block marked `run NAME`, run by bash -e
	program string   // or a main package (e2e/readme/...), built by the test,
	args    []string // and run with these arguments
	check   string   // or a shell check of the test's own, not from the README
	want    []string // what the output must contain
}

// readmeSessions cover every README block marked run, world, or source of a main package
// (TestReadmeBlocks checks that none is left out).
var readmeSessions = []readmeSession{
	{name: "quickstart", steps: []readmeStep{
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
	}},
	{name: "tasks", steps: []readmeStep{
		{block: "path"},
		{block: "crane"},
		{block: "az-setup"},
		{block: "tasks", want: []string{"Run ID: ", "web:v1", "denied: client with IP '20.0.0.8' is not allowed access", "Run failed"}},
		{check: "crane ls localhost:8443/web 2>&1 | grep DENIED && az acr task list-runs -r myregistry -n cross-task --query '[].status' -o tsv",
			want: []string{"Failed\nSucceeded\n"}},
	}},
	{name: "world-files", world: "world-files", steps: []readmeStep{
		// otherregistry is served on its own port, and authentication is on there.
		{check: "curl -s -o /dev/null -w '%{http_code}\\n' --cacert ~/.acr-emulator/ca.pem https://localhost:8444/v2/", want: []string{"401\n"}},
	}},
	{name: "scenarios", steps: []readmeStep{
		{block: "path"},
		{block: "scenarios", want: []string{"firewall-ip-rules", "appservice-not-trusted"}},
	}},
}

// TestReadmeShell runs every README session, each in a fresh network namespace: the test binary
// runs itself there as TestReadmeSession.
func TestReadmeShell(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the README sessions run in network namespaces of their own and must run as root (CI does)")
	}
	root := mustRoot(t)
	bin := harness.Binary(t)
	tools := map[string]string{
		"crane":  harness.Tool(t, "CRANE", "crane"),
		"oras":   harness.Tool(t, "ORAS", "oras"),
		"regctl": harness.Tool(t, "REGCTL", "regctl"),
	}
	for _, s := range readmeSessions {
		t.Run(s.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, link := range [][2]string{
				{filepath.Join(root, "Makefile"), "Makefile"},
				{filepath.Join(root, "README.md"), "README.md"},
				{bin, "bin/acr-emulator"},
				{tools["crane"], "build/tools/bin/crane"},
				{tools["oras"], "build/tools/bin/oras"},
				{tools["regctl"], "build/tools/bin/regctl"},
			} {
				symlink(t, link[0], filepath.Join(dir, link[1]))
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
			cmd := exec.Command(os.Args[0], "-test.run=^TestReadmeSession$", "-test.count=1", "-test.v", "-test.timeout=20m")
			cmd.Env = append(os.Environ(), "ACR_README_SESSION="+s.name, "ACR_README_DIR="+dir)
			inNetworkNamespace(cmd)
			out, err := cmd.CombinedOutput()
			t.Logf("session %s:\n%s", s.name, out)
			if err != nil {
				t.Fatalf("session %s: %v", s.name, err)
			}
		})
	}
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
	harness.StartAsMakeRun(t, home, args...)
	env := userEnv(home)
	if s.docker {
		env = append(env, "DOCKER_HOST="+harness.StartDocker(t).Host)
	}
	sh := &userShell{dir: dir, state: filepath.Join(dir, ".state"), env: env}
	for i, st := range s.steps {
		var script, what string
		switch {
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
	}
}

func worldBlock(t *testing.T, name string) (string, bool) {
	for _, b := range readmeBlocks(t) {
		if b.kind == "world" && b.arg == name {
			return b.text, true
		}
	}
	return "", false
}

// userEnv is the environment of a user's fresh shell: this machine's, without anything that
// would point clients elsewhere (the test's own CA, proxies, docker, Azure settings), without
// the tools of build/tools/bin (the README says how to add them), and with HOME the session's.
func userEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "HOME", k == "PATH", k == "SSL_CERT_FILE", k == "SSL_CERT_DIR", k == "REQUESTS_CA_BUNDLE", k == "DOCKER_HOST", k == "DOCKER_CONFIG",
			strings.EqualFold(k, "HTTPS_PROXY"), strings.EqualFold(k, "HTTP_PROXY"), strings.EqualFold(k, "NO_PROXY"),
			strings.HasPrefix(k, "AZURE_"), strings.HasPrefix(k, "IDENTITY_"), strings.HasPrefix(k, "ACR_"):
			continue
		case k == "CRANE", k == "ORAS", k == "REGCTL", k == "GOFLAGS":
			continue
		}
		env = append(env, kv)
	}
	var path []string
	for _, p := range filepath.SplitList(os.Getenv("PATH")) {
		if _, err := os.Stat(filepath.Join(p, "crane")); err == nil && strings.Contains(p, filepath.Join("build", "tools")) {
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

func symlink(t testing.TB, target, link string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(link), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
