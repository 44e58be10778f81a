package emulator_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/world"
)

// The world files in the README's "World files" section load and start as written, so the
// documentation cannot drift from what the emulator accepts. Their paths are relative to the
// repository, where a user runs the emulator from.
func TestREADMEWorldFiles(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n### World files\n")
	if !ok {
		t.Fatal(`README has no "World files" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(section, -1)
	if len(blocks) < 2 {
		t.Fatalf("%d yaml blocks in the World files section", len(blocks))
	}
	paths := regexp.MustCompile(`(?m)^(\s+(?:layout|archive): )([^/\s#][^\s#]*)`)
	for i, m := range blocks {
		text := paths.ReplaceAllString(m[1], "${1}"+root+"/${2}")
		w, err := world.Parse([]byte(text), "README.md")
		if err != nil {
			t.Fatalf("README world %d: %v", i, err)
		}
		emulatortest.New(t, emulatortest.WithWorld(w))
	}
}
