package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator"
)

// testEmulator runs an emulator in-process on free loopback ports.
func testEmulator(t *testing.T) *emulator.Emulator {
	t.Helper()
	emu, err := emulator.New(emulator.Config{HTTPSAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", ProxyAddr: "127.0.0.1:0",
		DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = emu.Close(context.Background()) })
	return emu
}

func TestHealth(t *testing.T) {
	emu := testEmulator(t)
	sick := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, `{"status":"starting"}`, http.StatusServiceUnavailable)
	}))
	defer sick.Close()
	// Something else on the port: 200, but not the emulator's answer.
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("hello")) }))
	defer other.Close()
	gone := httptest.NewServer(http.NotFoundHandler())
	gone.Close()

	tests := []struct {
		desc   string
		args   []string
		code   int
		output string
	}{
		{"plain HTTP listener", []string{"--url", emu.HTTPURL()}, 0, "ok"},
		{"HTTPS with the CA", []string{"--url", emu.HTTPSURL(), "--ca", emu.CA().Path()}, 0, "ok"},
		{"HTTPS without the CA", []string{"--url", emu.HTTPSURL(), "--ca", filepath.Join(t.TempDir(), "none.pem")}, 1, "pass --ca"},
		{"unhealthy", []string{"--url", sick.URL}, 1, "503"},
		{"not the emulator", []string{"--url", other.URL}, 1, "/_emulator/health"},
		{"nothing listening", []string{"--url", gone.URL}, 1, "connection refused"},
		{"stray argument", []string{"now"}, 2, "unexpected arguments"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(append([]string{"health"}, tc.args...), &stdout, &stderr)
			if code != tc.code || !strings.Contains(stdout.String()+stderr.String(), tc.output) {
				t.Fatalf("exit %d (want %d), output %q (want %q)", code, tc.code, stdout.String()+stderr.String(), tc.output)
			}
		})
	}
}

// Without --url, health asks the listener the serve environment configures, as the container
// image's healthcheck does (ACR_EMULATOR_HTTP_ADDR=0.0.0.0:8080 there).
func TestHealthDefaultURL(t *testing.T) {
	emu := testEmulator(t)
	port := emu.HTTPURL()[strings.LastIndex(emu.HTTPURL(), ":")+1:]
	t.Setenv("ACR_EMULATOR_URL", "")
	t.Setenv("ACR_EMULATOR_HTTP_ADDR", "0.0.0.0:"+port)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"health"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	t.Setenv("ACR_EMULATOR_HTTP_ADDR", "-")
	t.Setenv("ACR_EMULATOR_HTTPS_ADDR", "[::]:443")
	if got := localURL(); got != "https://[::1]:443" {
		t.Fatalf("localURL with HTTP disabled = %q", got)
	}
}
