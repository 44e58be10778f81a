package harness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Docker is a private docker daemon for one test: its own data root and socket, no iptables and
// no bridge (the registry is reached over the host's loopback), vfs storage so it runs anywhere.
type Docker struct {
	Host   string // DOCKER_HOST value
	config string // DOCKER_CONFIG of the client: credentials stay inside the test
	client string
	cmd    *exec.Cmd
	logs   *lockedBuffer
}

// StartDocker starts dockerd (root is required) and waits until it answers.
func StartDocker(t testing.TB) *Docker {
	t.Helper()
	dockerd := Tool(t, "DOCKERD", "dockerd")
	client := Tool(t, "DOCKER", "docker")
	if os.Geteuid() != 0 {
		t.Fatal("the docker e2e test starts its own dockerd and must run as root (CI does)")
	}
	// Socket paths are limited to ~108 bytes, so the root is short rather than t.TempDir().
	root, err := os.MkdirTemp("", "dk")
	if err != nil {
		t.Fatal(err)
	}
	d := &Docker{Host: "unix://" + filepath.Join(root, "sock"), config: filepath.Join(root, "config"), client: client, logs: &lockedBuffer{}}
	d.cmd = exec.Command(dockerd, "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
		"--data-root", filepath.Join(root, "data"), "--exec-root", filepath.Join(root, "exec"),
		"--pidfile", filepath.Join(root, "pid"), "-H", d.Host)
	d.cmd.Stdout, d.cmd.Stderr = d.logs, d.logs
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = d.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("--- dockerd output ---\n%s", d.logs.String())
		}
		_ = os.RemoveAll(root)
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := d.TryRun("info"); err == nil {
			return d
		}
		select {
		case err := <-done:
			t.Fatalf("dockerd exited: %v\n%s", err, d.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not answer within 60s\n%s", d.logs.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// TryRun runs the docker client against this daemon.
func (d *Docker) TryRun(args ...string) (string, error) {
	cmd := exec.Command(d.client, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.Host, "DOCKER_CONFIG="+d.config)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// Run runs the docker client and fails the test on a non-zero exit.
func (d *Docker) Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := d.TryRun(args...)
	if err != nil {
		t.Fatalf("docker %v: %v\n%s", args, err, out)
	}
	return out
}

func (d *Docker) String() string { return fmt.Sprintf("dockerd at %s", d.Host) }
