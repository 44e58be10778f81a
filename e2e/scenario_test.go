package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// TestScenarios runs `acr-emulator scenario run --all` against a running emulator, as a user
// would after make run, and checks a mismatch makes the command fail.
func TestScenarios(t *testing.T) {
	bin := harness.Binary(t)
	emu := harness.Start(t)
	base := "https://" + emu.RegistryHost()
	out, err := emu.TryRun(t, bin, "scenario", "run", "--all", "--emulator", base, "--ca", emu.CAFile)
	for _, want := range []string{"PASS firewall-ip-rules", "PASS aci-user-identity", "PASS aci-system-identity", "PASS trusted-without-role",
		"PASS defender-scan", "PASS import-restricted", "PASS ml-custom-image", "PASS tasks-trusted", "PASS private-endpoint", "PASS appservice-not-trusted",
		"PASS containerapps-not-trusted", "PASS aks-private-endpoint", "PASS artifact-cache-trusted",
		"SKIP tasks-2025-policy: needs the \"current\" behaviour profile", "13 passed, 0 failed, 1 skipped"} {
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("scenario run --all (want %q): %v\n%s", want, err, out)
		}
	}
	// Scenarios restore what they change: a second run passes too.
	if out, err := emu.TryRun(t, bin, "scenario", "run", "--all", "--emulator", base, "--ca", emu.CAFile); err != nil || !strings.Contains(out, "13 passed, 0 failed, 1 skipped") {
		t.Fatalf("second run: %v\n%s", err, out)
	}
	// The services users take for trusted: the narration names the origin and IP the
	// registry refused.
	out, err = emu.TryRun(t, bin, "scenario", "run", "containerapps-not-trusted", "aks-private-endpoint", "--emulator", base, "--ca", emu.CAFile)
	for _, want := range []string{"denied: containerapps from 20.0.0.10", "ipRules [20.0.0.10]: Succeeded", "denied: aks from 20.0.0.11",
		"ErrImagePull", "app2 1/1 Running", "2 passed, 0 failed"} {
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("untrusted services' scenarios (want %q): %v\n%s", want, err, out)
		}
	}
	list, err := emu.TryRun(t, bin, "scenario", "list")
	if err != nil || !strings.Contains(list, "firewall-ip-rules") {
		t.Fatalf("scenario list: %v\n%s", err, list)
	}
	if out, err := emu.TryRun(t, bin, "scenario", "run", "no-such-scenario"); err == nil || !strings.Contains(out, `unknown scenario "no-such-scenario"`) {
		t.Fatalf("unknown scenario: %v\n%s", err, out)
	}

	// A Basic registry cannot have a firewall: the first step's expectation fails, and so does
	// the command.
	world := filepath.Join(t.TempDir(), "world.yaml")
	def, err := os.ReadFile(filepath.Join(mustRoot(t), "emulator/world/default.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(world, []byte(strings.Replace(string(def), "sku: Premium", "sku: Basic", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	basic := harness.Start(t, harness.WithArgs("--config", world))
	out, err = basic.TryRun(t, bin, "scenario", "run", "firewall-ip-rules", "--emulator", "https://"+basic.RegistryHost(), "--ca", basic.CAFile)
	if err == nil || !strings.Contains(out, "MISMATCH") || !strings.Contains(out, "FAIL firewall-ip-rules (step 1 of 7)") {
		t.Fatalf("scenario against a Basic registry: %v\n%s", err, out)
	}

	// The 2025 Tasks policy runs under the current profile.
	if err := os.WriteFile(world, append(def, "profile: current\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	current := harness.Start(t, harness.WithArgs("--config", world))
	out, err = current.TryRun(t, bin, "scenario", "run", "tasks-2025-policy", "tasks-trusted", "--emulator", "https://"+current.RegistryHost(), "--ca", current.CAFile)
	if err != nil || !strings.Contains(out, "PASS tasks-2025-policy") || !strings.Contains(out, "2 passed, 0 failed\n") {
		t.Fatalf("tasks-2025-policy under the current profile: %v\n%s", err, out)
	}
}
