package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	staticOnce sync.Once
	staticDir  string
	staticErr  error
)

// StaticBinaries returns statically linked acr-emulator and crane binaries,
// for scratch images: $ACR_EMULATOR_STATIC_BIN and $CRANE_STATIC (what `make test` sets),
// else built once per test process.
func StaticBinaries(t testing.TB) (emulator, crane string) {
	t.Helper()
	emulator, crane = os.Getenv("ACR_EMULATOR_STATIC_BIN"), os.Getenv("CRANE_STATIC")
	if emulator != "" && crane != "" {
		return emulator, crane
	}
	staticOnce.Do(func() {
		root, err := ModuleRoot()
		if err != nil {
			staticErr = err
			return
		}
		if staticDir, err = os.MkdirTemp("", "acr-emulator-static-"); err != nil {
			staticErr = err
			return
		}
		for _, args := range [][]string{
			{"build", "-trimpath", "-o", filepath.Join(staticDir, "acr-emulator"), "./cmd/acr-emulator"},
			{"install", "-trimpath", CranePackage},
		} {
			cmd := exec.Command("go", args...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOBIN="+staticDir)
			if out, err := cmd.CombinedOutput(); err != nil {
				staticErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
				return
			}
		}
	})
	if staticErr != nil {
		t.Fatal(staticErr)
	}
	if emulator == "" {
		emulator = filepath.Join(staticDir, "acr-emulator")
	}
	if crane == "" {
		crane = filepath.Join(staticDir, "crane")
	}
	return emulator, crane
}

// CranePackage is the crane the Makefile pins, for static builds.
const CranePackage = "github.com/google/go-containerregistry/cmd/crane@v0.22.1"

// Compose runs one docker compose implementation against a private dockerd: the v2 CLI plugin
// (`docker compose`) or the standalone docker-compose 1.29, on one project.
type Compose struct {
	Name    string // "compose v2" or "docker-compose 1.29", for messages
	d       *Docker
	argv    []string
	env     []string
	project string
}

// ComposeV2 uses the compose v2 binary as a plugin of this daemon's docker CLI.
func (d *Docker) ComposeV2(t testing.TB, plugin, project string, env ...string) *Compose {
	t.Helper()
	dir := filepath.Join(d.config, "cli-plugins")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(plugin, filepath.Join(dir, "docker-compose")); err != nil && !os.IsExist(err) {
		t.Fatal(err)
	}
	return &Compose{Name: "compose v2", d: d, argv: []string{d.client, "compose"}, env: env, project: project}
}

// ComposeV1 uses the standalone docker-compose (Debian's 1.29).
func (d *Docker) ComposeV1(bin, project string, env ...string) *Compose {
	return &Compose{Name: "docker-compose 1.29", d: d, argv: []string{bin}, env: env, project: project}
}

// TryRun runs a compose command on the project.
func (c *Compose) TryRun(dir string, args ...string) (string, error) {
	argv := append(append(append([]string{}, c.argv...), "-p", c.project), args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "DOCKER_HOST="+c.d.Host, "DOCKER_CONFIG="+c.d.config), c.env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Run is TryRun failing the test on a non-zero exit.
func (c *Compose) Run(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := c.TryRun(dir, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", c.Name, strings.Join(args, " "), err, out)
	}
	return out
}

// WaitHealthy waits until the service's container reports healthy by its own healthcheck.
func (c *Compose) WaitHealthy(t testing.TB, dir, service string, timeout time.Duration) string {
	t.Helper()
	id := strings.TrimSpace(c.Run(t, dir, "ps", "-q", service))
	if id == "" {
		t.Fatalf("%s: no container for %s", c.Name, service)
	}
	deadline := time.Now().Add(timeout)
	for {
		status, err := c.d.TryRun("inspect", "-f", "{{.State.Health.Status}}", id)
		status = strings.TrimSpace(status)
		if err == nil && status == "healthy" {
			return id
		}
		if time.Now().After(deadline) {
			logs, _ := c.d.TryRun("logs", id)
			t.Fatalf("%s: %s not healthy after %s (status %q, %v)\n%s", c.Name, service, timeout, status, err, logs)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
