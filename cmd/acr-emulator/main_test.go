package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCommands(t *testing.T) {
	tests := []struct {
		desc   string
		args   []string
		code   int
		stdout string // substring expected on stdout
		stderr string // substring expected on stderr
	}{
		{desc: "version", args: []string{"version"}, code: 0, stdout: "acr-emulator "},
		{desc: "help", args: []string{"help"}, code: 0, stdout: "-https-addr"},
		{desc: "help flag", args: []string{"--help"}, code: 0, stderr: "ACR_EMULATOR_DATA_DIR"},
		{desc: "unknown command", args: []string{"frobnicate"}, code: 2, stderr: `unknown command "frobnicate"`},
		{desc: "unknown flag", args: []string{"serve", "--nope"}, code: 2, stderr: "flag provided but not defined: -nope"},
		{desc: "stray argument", args: []string{"serve", "extra"}, code: 2, stderr: `unexpected arguments`},
		{desc: "bad log level", args: []string{"--log-level", "loud"}, code: 2, stderr: `--log-level "loud"`},
		{desc: "missing world file", args: []string{"--config", "/nonexistent/world.yaml"}, code: 2, stderr: "world file"},
		{desc: "port in use", args: []string{"--https-addr", "256.0.0.1:1"}, code: 1, stderr: "https listener"},
		{desc: "snapshot and config", args: []string{"--snapshot", "/tmp", "--config", "/nonexistent/world.yaml"}, code: 2, stderr: "--snapshot and --config both given"},
		{desc: "not a snapshot", args: []string{"--snapshot", "/nonexistent/snapshot"}, code: 2, stderr: "snapshot: not a snapshot"},
		{desc: "origin port of no origin", args: []string{"--origin-ports", "nowhere=8082"}, code: 2, stderr: `--origin-ports: the world has no origin "nowhere" (its origins: appvnet)`},
		{desc: "origin port malformed", args: []string{"--origin-ports", "appvnet"}, code: 2, stderr: `--origin-ports "appvnet": want NAME=PORT`},
		{desc: "snapshot usage", args: []string{"snapshot"}, code: 2, stderr: "usage: acr-emulator snapshot save DIR"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{}, tc.args...)
			if len(args) == 0 || args[0] != "version" && args[0] != "help" && args[0] != "frobnicate" {
				args = append(args, "--data-dir", t.TempDir(), "--http-addr", "-")
			}
			code := run(args, &stdout, &stderr)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("stdout %q / stderr %q, want %q / %q", stdout.String(), stderr.String(), tc.stdout, tc.stderr)
			}
		})
	}
}

func TestEnvironmentDefaults(t *testing.T) {
	dir := t.TempDir()
	world := filepath.Join(dir, "w.yaml")
	if err := os.WriteFile(world, []byte("registries:\n  - name: envregistry\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ACR_EMULATOR_HTTPS_ADDR", "127.0.0.1:0")
	t.Setenv("ACR_EMULATOR_DATA_DIR", dir)
	t.Setenv("ACR_EMULATOR_CONFIG", world)
	t.Setenv("ACR_EMULATOR_LOG_LEVEL", "warn")
	fs, o := serveFlags(&bytes.Buffer{})
	if err := fs.Parse([]string{"--log-level", "error"}); err != nil {
		t.Fatal(err)
	}
	if o.httpsAddr != "127.0.0.1:0" || o.dataDir != dir || o.config != world {
		t.Fatalf("environment not used: %+v", o)
	}
	if o.logLevel != "error" {
		t.Fatalf("a flag must win over the environment: log level %q", o.logLevel)
	}
}
