package e2e

import (
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// TestScenarioFetchesCA runs a scenario without --ca against an emulator whose data directory
// is not the default one (and a HOME without ~/.acr-emulator): the runner takes the CA the
// emulator serves, and says it trusted it on first use.
func TestScenarioFetchesCA(t *testing.T) {
	bin := harness.Binary(t)
	emu := harness.Start(t)
	out, err := emu.TryRun(t, bin, "scenario", "run", "firewall-ip-rules", "--emulator", "https://"+emu.RegistryHost())
	if err != nil || !strings.Contains(out, "PASS firewall-ip-rules") || !strings.Contains(out, "trusted on first use") {
		t.Fatalf("scenario run without --ca: %v\n%s", err, out)
	}
	// Something that is not the emulator: no CA, a clear error.
	out, err = emu.TryRun(t, bin, "scenario", "run", "firewall-ip-rules", "--emulator", "https://"+harness.FreeAddr(t))
	if err == nil || !strings.Contains(out, "fetching the CA") || !strings.Contains(out, "pass --ca") {
		t.Fatalf("scenario run against nothing: %v\n%s", err, out)
	}
}
