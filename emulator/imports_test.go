package emulator_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/acr-emulator/acr-emulator"

// The dependency rules of design.md section 6: the registry's own packages never reach the
// simulated services, scenarios or e2e; the simulated services reach the registry only over
// HTTP; scenarios use public APIs only.
var importRules = []struct {
	pkgPrefix string   // packages the rule applies to
	except    []string // packages exempt from it
	forbidden []string // import path prefixes they must not depend on (transitively)
}{
	{
		pkgPrefix: module + "/emulator/",
		except:    []string{module + "/emulator/emulatortest"},
		forbidden: []string{module + "/fakes", module + "/scenarios", module + "/e2e"},
	},
	{
		pkgPrefix: module + "/emulator/registry",
		forbidden: []string{module + "/emulator/arm", module + "/emulator/token", module + "/emulator/network", module + "/emulator/portal"},
	},
	{
		pkgPrefix: module + "/emulator/store",
		forbidden: []string{module + "/emulator/registry", module + "/emulator/arm", module + "/emulator/token", module + "/emulator/network"},
	},
	{
		// The fake storage is one reusable piece: the registry (download redirects) and the
		// simulated services use it, it uses none of them.
		pkgPrefix: module + "/emulator/storage",
		forbidden: []string{module + "/emulator/store", module + "/emulator/registry", module + "/emulator/arm", module + "/emulator/token",
			module + "/emulator/network", module + "/emulator/rbac", module + "/emulator/portal", module + "/emulator/world"},
	},
	{
		// armid is what the simulated services parse ARM ids with: the standard library only.
		pkgPrefix: module + "/emulator/arm/armid",
		forbidden: []string{module, "github.com", "golang.org"},
	},
	{
		pkgPrefix: module + "/fakes",
		forbidden: []string{module + "/emulator/store", module + "/emulator/registry", module + "/scenarios", module + "/e2e"},
	},
	{
		// distribution's registry is e2e/bench's yardstick, a test-only dependency: never in the binary.
		pkgPrefix: module + "/cmd/",
		forbidden: []string{"github.com/distribution/distribution", module + "/e2e"},
	},
	{
		pkgPrefix: module + "/scenarios",
		forbidden: []string{module + "/emulator/store", module + "/emulator/registry", module + "/e2e"},
	},
}

type listedPackage struct {
	ImportPath string
	Deps       []string
}

func TestImportRules(t *testing.T) {
	cmd := exec.Command("go", "list", "-json=ImportPath,Deps", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		for _, r := range importRules {
			if !strings.HasPrefix(p.ImportPath, r.pkgPrefix) || contains(r.except, p.ImportPath) {
				continue
			}
			checked++
			for _, dep := range p.Deps {
				for _, f := range r.forbidden {
					if dep == f || strings.HasPrefix(dep, f+"/") {
						t.Errorf("%s depends on %s (forbidden by the layout rules in design.md)", p.ImportPath, dep)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package matched any rule: the rules or go list output are wrong")
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
