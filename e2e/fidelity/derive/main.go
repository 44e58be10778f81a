// Command derive writes the fidelity test's data file from the Azure CLI's acr recordings
// (vcrpy cassettes): the shapes of Azure's answers, not the recordings themselves, which stay
// out of this repository. Run it by hand when recordings are added or refreshed:
//
//	go run ./e2e/fidelity/derive -o e2e/fidelity/testdata/shapes.json DIR/test_acr_*.yaml
//
// where DIR holds recordings from Azure/azure-cli
// (src/azure-cli/azure/cli/command_modules/acr/tests/latest/recordings). A cassette may carry
// a top-level "source:" (repository@commit) and "excerpt:" (which part of the recording it
// holds); both are copied into the data file.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/acr-emulator/acr-emulator/e2e/fidelity"
)

func main() {
	out := flag.String("o", "", "the data file to write (default: standard output)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: derive [-o FILE] RECORDING.yaml...")
		os.Exit(2)
	}
	d := fidelity.Data{About: "Derived by e2e/fidelity/derive from the Azure CLI's recordings of real Azure " +
		"(Azure/azure-cli src/azure-cli/azure/cli/command_modules/acr/tests/latest/recordings): per interaction " +
		"the method, path, template, api-version, request body key paths, status and response key paths with JSON types."}
	files := flag.Args()
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fail(err)
		}
		rec, err := fidelity.Derive(strings.TrimSuffix(filepath.Base(f), ".yaml"), b)
		if err != nil {
			fail(err)
		}
		d.Recordings = append(d.Recordings, rec)
	}
	b, err := json.MarshalIndent(d, "", " ")
	if err != nil {
		fail(err)
	}
	b = append(b, '\n')
	if *out == "" {
		_, _ = os.Stdout.Write(b)
		return
	}
	if err := os.WriteFile(*out, b, 0o644); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "derive:", err)
	os.Exit(1)
}
