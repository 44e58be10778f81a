package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// acr-emulator sample push, as the Quick start runs it, then the pulls it prints, with crane.
func TestSamplePush(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	host := emu.RegistryHost()
	if hint := "acr-emulator sample push --registry " + host; !strings.Contains(emu.Logs(), hint) {
		t.Fatalf("the banner does not offer %q:\n%s", hint, emu.Logs())
	}
	out := emu.Run(t, harness.Binary(t), "sample", "push", "--registry", host, "--emulator", "http://"+emu.HTTPAddr, "--data-dir", emu.DataDir)
	pushed := regexp.MustCompile(`(?m)^\s+(\S+:\S+)\s+(sha256:[0-9a-f]{64})\s`).FindAllStringSubmatch(out, -1)
	if len(pushed) != 2 || pushed[0][1] != host+"/hello:v1" || pushed[1][1] != host+"/hello:multiarch" {
		t.Fatalf("sample push printed:\n%s", out)
	}
	for _, p := range pushed {
		if got := strings.TrimSpace(emu.Run(t, crane, "digest", p[1])); got != p[2] {
			t.Fatalf("%s: crane says %s, sample push said %s", p[1], got, p[2])
		}
	}
	// The pull commands it prints work as printed (crane auth login is Env's docker config).
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "crane manifest ") || strings.HasPrefix(line, "crane pull ") {
			args := strings.Fields(line)[1:]
			emu.RunIn(t, t.TempDir(), crane, args...)
		}
	}
}
