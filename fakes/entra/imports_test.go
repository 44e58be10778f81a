package entra_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The emulator depends on this package and implements Directory over its store; the reverse
// dependency would make a cycle and let the fake reach around its interface into the store.
func TestNoEmulatorImports(t *testing.T) {
	const module = "github.com/acr-emulator/acr-emulator"
	out, err := exec.Command("go", "list", "-deps", module+"/fakes/entra").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 || deps[len(deps)-1] != module+"/fakes/entra" {
		t.Fatalf("go list output does not end with the package itself: %v", deps)
	}
	for _, d := range deps {
		if d == module+"/emulator" || strings.HasPrefix(d, module+"/emulator/") {
			t.Errorf("fakes/entra depends on %s", d)
		}
	}
}
