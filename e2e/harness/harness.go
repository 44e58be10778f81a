// Package harness runs the built acr-emulator binary for end-to-end tests: real clients talk to
// a real process over real TLS, nothing in-process. Each Start gets its own free ports and data
// directory, so tests can run emulators side by side.
package harness

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

// Binary returns the acr-emulator binary: $ACR_EMULATOR_BIN (what `make test` sets), else one
// built once per test process from the module.
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("ACR_EMULATOR_BIN"); p != "" {
		return p
	}
	buildOnce.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "acr-emulator-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		buildPath = filepath.Join(dir, "acr-emulator")
		cmd := exec.Command("go", "build", "-o", buildPath, "./cmd/acr-emulator")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// ModuleRoot walks up from the working directory to go.mod.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Tool finds a client binary: $ENV if set, else PATH. A missing tool fails the test with the
// command that installs it: e2e tests never skip silently.
func Tool(t testing.TB, env, name string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	t.Fatalf("%s is not installed: run `make tools` (or set %s)", name, env)
	return ""
}

// Emulator is a running acr-emulator process.
type Emulator struct {
	HTTPSAddr string // 127.0.0.1:port
	HTTPAddr  string
	ProxyAddr string
	DataDir   string
	CAFile    string
	cmd       *exec.Cmd
	args, env []string
	logs      *lockedBuffer
	done      chan error
}

// Option adjusts how the emulator is started.
type Option func(*config)

type config struct {
	args []string
	env  []string
}

// WithArgs adds command-line arguments (e.g. --config FILE).
func WithArgs(args ...string) Option { return func(c *config) { c.args = append(c.args, args...) } }

// WithEnv adds environment variables, KEY=VALUE.
func WithEnv(kv ...string) Option { return func(c *config) { c.env = append(c.env, kv...) } }

// Start runs the binary on free loopback ports and waits until it is healthy. It is stopped
// with SIGTERM at cleanup, and the test fails if it does not exit cleanly.
func Start(t testing.TB, opts ...Option) *Emulator {
	t.Helper()
	var c config
	for _, o := range opts {
		o(&c)
	}
	e := &Emulator{
		HTTPSAddr: FreeAddr(t), HTTPAddr: FreeAddr(t), ProxyAddr: FreeAddr(t), DataDir: t.TempDir(),
		logs: &lockedBuffer{},
	}
	e.CAFile = filepath.Join(e.DataDir, "ca.pem")
	e.args = append([]string{"serve", "--https-addr", e.HTTPSAddr, "--http-addr", e.HTTPAddr, "--proxy-addr", e.ProxyAddr, "--data-dir", e.DataDir, "--log-level", "debug"}, c.args...)
	e.env = c.env
	e.start(t)
	t.Cleanup(func() { e.stop(t) })
	return e
}

func (e *Emulator) start(t testing.TB) {
	t.Helper()
	e.cmd = exec.Command(Binary(t), e.args...)
	e.cmd.Env = append(os.Environ(), e.env...)
	e.cmd.Stdout, e.cmd.Stderr = e.logs, e.logs
	e.done = make(chan error, 1)
	if err := e.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { e.done <- e.cmd.Wait() }()
	if err := e.waitHealthy(30 * time.Second); err != nil {
		t.Fatalf("emulator did not become healthy: %v\n--- emulator output ---\n%s", err, e.Logs())
	}
}

// Restart stops the emulator and starts it again on the same addresses and data directory,
// as a user restarting make run does: the state in memory is gone, the CA and keys stay.
func (e *Emulator) Restart(t testing.TB) {
	t.Helper()
	e.stop(t)
	e.start(t)
}

func (e *Emulator) waitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case err := <-e.done:
			e.done <- err
			return fmt.Errorf("process exited: %v", err)
		default:
		}
		res, err := client.Get("http://" + e.HTTPAddr + "/_emulator/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("timed out after %s", timeout)
}

func (e *Emulator) stop(t testing.TB) {
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-e.done:
		if err != nil {
			t.Errorf("emulator exited with %v after SIGTERM", err)
		}
	case <-time.After(15 * time.Second):
		_ = e.cmd.Process.Kill()
		t.Errorf("emulator did not stop within 15s of SIGTERM")
	}
	if t.Failed() {
		t.Logf("--- emulator output ---\n%s", e.Logs())
	}
}

// Port is the main HTTPS listener's port.
func (e *Emulator) Port() int {
	_, p, _ := net.SplitHostPort(e.HTTPSAddr)
	n, _ := strconv.Atoi(p)
	return n
}

// RegistryHost is the default registry's login server, localhost:<port>.
func (e *Emulator) RegistryHost() string { return "localhost:" + strconv.Itoa(e.Port()) }

// The default world's well-known credentials (README).
const (
	AdminUser     = "myregistry"
	AdminPassword = "acr-emulator-admin-password"
	TenantID      = "11111111-1111-1111-1111-111111111111"
	ClientID      = "33333333-3333-3333-3333-333333333333"
	ClientSecret  = "acr-emulator-client-secret"
	NullGUID      = "00000000-0000-0000-0000-000000000000"
)

// Env is the environment for client processes: the emulator's CA is trusted via SSL_CERT_FILE,
// HOME is private so no user credentials leak in, and the docker config there logs every
// client (crane, oras, regctl, skopeo) in to the default registry as its admin user.
func (e *Emulator) Env(t testing.TB) []string {
	return e.EnvWithLogin(t, AdminUser, AdminPassword)
}

// AnonymousEnv is Env without any registry credentials.
func (e *Emulator) AnonymousEnv(t testing.TB) []string { return e.EnvWithLogin(t, "", "") }

// EnvWithLogin is Env with the given registry credentials ("" user: none).
func (e *Emulator) EnvWithLogin(t testing.TB, user, password string) []string {
	home := t.TempDir()
	if user != "" {
		auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
		cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q},%q:{"auth":%q}}}`, e.RegistryHost(), auth, "127.0.0.1:"+strconv.Itoa(e.Port()), auth)
		if err := os.MkdirAll(filepath.Join(home, ".docker"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(home, ".docker", "config.json"), []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "SSL_CERT_FILE", "SSL_CERT_DIR", "HOME", "DOCKER_CONFIG", "HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "SSL_CERT_FILE="+e.CAFile, "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"))
}

// Logs is everything the process printed so far.
func (e *Emulator) Logs() string { return e.logs.String() }

// Run runs a client command with the emulator's client environment and returns its combined
// output; a non-zero exit fails the test, showing the output.
func (e *Emulator) Run(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := e.TryRun(t, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return out
}

// RunIn is Run in working directory dir.
func (e *Emulator) RunIn(t testing.TB, dir, name string, args ...string) string {
	t.Helper()
	out, err := e.tryRun(t, dir, e.Env(t), name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return out
}

// TryRun is Run without failing: for commands that are expected to fail.
func (e *Emulator) TryRun(t testing.TB, name string, args ...string) (string, error) {
	t.Helper()
	return e.tryRun(t, "", e.Env(t), name, args...)
}

// TryRunEnv runs a client with an explicit environment (AnonymousEnv, EnvWithLogin).
func (e *Emulator) TryRunEnv(t testing.TB, env []string, name string, args ...string) (string, error) {
	t.Helper()
	return e.tryRun(t, "", env, name, args...)
}

func (e *Emulator) tryRun(t testing.TB, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// FreeAddr returns a 127.0.0.1 address with a port that was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
