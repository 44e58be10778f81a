// Package conformance runs the OCI distribution-spec conformance suite (pinned in go.mod as a
// tool) against the built acr-emulator binary. Reports (results.yaml, junit.xml, report.html)
// are kept under build/conformance/<variant>/.
package conformance

import (
	"context"
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

var (
	toolOnce sync.Once
	toolPath string
	toolErr  error
)

// suite builds the conformance tool once from the module's tool directive.
func suite(t *testing.T) string {
	t.Helper()
	toolOnce.Do(func() {
		root, err := harness.ModuleRoot()
		if err != nil {
			toolErr = err
			return
		}
		dir, err := os.MkdirTemp("", "oci-conformance-")
		if err != nil {
			toolErr = err
			return
		}
		toolPath = filepath.Join(dir, "conformance")
		cmd := exec.Command("go", "build", "-o", toolPath, "github.com/opencontainers/distribution-spec/conformance")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			toolErr = err
			t.Logf("%s", out)
		}
	})
	if toolErr != nil {
		t.Fatalf("building the conformance suite: %v", toolErr)
	}
	return toolPath
}

// junit is the part of junit.xml the test reads.
type junit struct {
	Suites []struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Skipped  int `xml:"skipped,attr"`
		Cases    []struct {
			Name    string `xml:"name,attr"`
			Failure *struct {
				Message string `xml:"message,attr"`
				Text    string `xml:",chardata"`
			} `xml:"failure"`
			Error *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

// Optional features the emulator supports, each turned on. Left off on purpose: sparse
// manifests (OCI_DATA_SPARSE), because the registry requires an index's children to exist, as
// the issue and ACR require; and the digest header of blob GETs (OCI_API_BLOBS_DIGEST_HEADER),
// because a blob GET is a 307 to storage, as on ACR: the redirect carries Docker-Content-Digest,
// the storage's answer (Azure Storage's headers) does not, and the suite checks the latter.
var variants = []struct {
	name string
	env  []string
}{
	{name: "default"},
	{name: "all-toggles", env: []string{
		"OCI_API_MANIFESTS_DIGEST_HEADER=true",
		"OCI_API_MANIFESTS_TAG_PARAM=true",
		"OCI_API_BLOBS_UPLOAD_CANCEL=true",
	}},
}

func TestOCIConformance(t *testing.T) {
	tool := suite(t)
	root, err := harness.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			emu := harness.Start(t)
			resultsDir := filepath.Join(root, "build", "conformance", v.name)
			if err := os.RemoveAll(resultsDir); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, tool)
			cmd.Dir = t.TempDir() // the suite looks for oci-conformance.yaml in its working directory
			cmd.Env = append(emu.Env(t),
				"OCI_REGISTRY="+emu.RegistryHost(),
				"OCI_TLS=enabled",
				"OCI_VERSION=1.1",
				"OCI_RESULTS_DIR="+resultsDir,
				"OCI_USERNAME="+harness.AdminUser,
				"OCI_PASSWORD="+harness.AdminPassword,
			)
			cmd.Env = append(cmd.Env, v.env...)
			out, runErr := cmd.CombinedOutput()
			// The suite exits 0 even when it could not start, so the verdict comes from its reports.
			raw, err := os.ReadFile(filepath.Join(resultsDir, "junit.xml"))
			if err != nil {
				t.Fatalf("no junit.xml (%v); suite output:\n%s", err, out)
			}
			var rep junit
			if err := xml.Unmarshal(raw, &rep); err != nil || len(rep.Suites) == 0 {
				t.Fatalf("junit.xml: %v", err)
			}
			var failed []string
			tests, failures := 0, 0
			for _, s := range rep.Suites {
				tests += s.Tests
				failures += s.Failures + s.Errors
				for _, c := range s.Cases {
					if c.Failure != nil {
						failed = append(failed, c.Name+": "+c.Failure.Message)
					} else if c.Error != nil {
						failed = append(failed, c.Name+": "+c.Error.Message)
					}
				}
			}
			t.Logf("%s: %d checks, %d failed, %d skipped; reports in %s", v.name, tests, failures, rep.Suites[0].Skipped, resultsDir)
			if failures > 0 || len(failed) > 0 || runErr != nil {
				t.Fatalf("conformance %s: %d failing checks (exit %v):\n%s\n--- suite summary ---\n%s",
					v.name, failures, runErr, strings.Join(failed, "\n"), tail(string(out), 80))
			}
			if tests < 800 {
				t.Fatalf("only %d checks ran: the suite did not run its default set", tests)
			}
		})
	}
}

func tail(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}
