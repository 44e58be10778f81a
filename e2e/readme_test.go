package e2e

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/world"
)

// README code blocks are checked, never trusted. Each fenced block of README.md has, on the line
// right above its opening fence, a marker saying what checks it:
//
//	<!-- readme: run NAME -->         a shell block TestReadmeShell runs (a session names it)
//	<!-- readme: source PATH -->      the block is the file PATH of this module, byte for byte,
//	<!-- readme: source PATH#NAME --> or its lines between "readme:begin NAME" and
//	                                  "readme:end NAME" (in any comment syntax), de-indented;
//	                                  a _test.go file is run by go test, a main package by a
//	                                  TestReadmeShell session
//	<!-- readme: world NAME -->       a world file, which must load as --config loads it; a
//	                                  session may start the emulator with it
//	<!-- readme: output -->           what a command prints: shown, not run
//	<!-- readme: not-run REASON -->   shown, not run, for the reason given
//
// A block without a marker fails TestReadmeBlocks, so a new snippet is run or says why not.

// readmeBlock is one fenced block of the README.
type readmeBlock struct {
	line int    // of the opening fence, 1-based
	lang string // the info string's first word
	text string // the content, each line ending in \n
	kind string // the marker's kind ("" without a marker)
	arg  string // the rest of the marker
}

var markerRE = regexp.MustCompile(`^<!-- readme: ([a-z-]+)(?: (.*?))? -->$`)

// readmeBlocks parses README.md's fenced blocks and their markers.
func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(mustRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks []readmeBlock
	var cur *readmeBlock
	prev := ""
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		fence := strings.HasPrefix(strings.TrimLeft(line, " "), "```")
		switch {
		case cur == nil && fence:
			cur = &readmeBlock{line: n}
			if info := strings.Fields(strings.TrimLeft(line, " `")); len(info) > 0 {
				cur.lang = info[0]
			}
			if m := markerRE.FindStringSubmatch(strings.TrimSpace(prev)); m != nil {
				cur.kind, cur.arg = m[1], m[2]
			}
		case cur != nil && fence:
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.text += line + "\n"
		}
		prev = line
	}
	if cur != nil {
		t.Fatalf("README.md:%d: a fenced block is never closed", cur.line)
	}
	return blocks
}

// runBlocks returns the README's blocks marked `run NAME`, by name.
func runBlocks(t *testing.T) map[string]readmeBlock {
	out := map[string]readmeBlock{}
	for _, b := range readmeBlocks(t) {
		if b.kind == "run" {
			if _, dup := out[b.arg]; dup {
				t.Fatalf("README.md:%d: two blocks are named %q", b.line, b.arg)
			}
			out[b.arg] = b
		}
	}
	return out
}

// TestReadmeBlocks checks every block's marker, and that each block is what it claims: a source
// block equals its file, a world block loads, a run block is run by a session.
func TestReadmeBlocks(t *testing.T) {
	root := mustRoot(t)
	blocks := readmeBlocks(t)
	t.Chdir(root) // a world block's paths are relative to the checkout, as a user's shell is
	if len(blocks) == 0 {
		t.Fatal("no code blocks in README.md")
	}
	run := map[string]bool{}
	for _, s := range readmeSessions {
		for _, st := range s.steps {
			if st.block != "" {
				run[st.block] = true
			}
		}
		if s.world != "" {
			run[s.world] = true
		}
	}
	programs := map[string]bool{}
	for _, s := range readmeSessions {
		for _, st := range s.steps {
			if st.program != "" {
				programs[st.program] = true
			}
		}
	}
	named := map[string]bool{}
	for _, b := range blocks {
		where := fmt.Sprintf("README.md:%d (```%s)", b.line, b.lang)
		switch b.kind {
		case "":
			t.Errorf("%s has no marker: put <!-- readme: run NAME --> (and a session in readme_shell_test.go), source PATH, world, output or not-run REASON on the line above it", where)
		case "output":
		case "not-run":
			if strings.TrimSpace(b.arg) == "" {
				t.Errorf("%s: not-run needs a reason", where)
			}
		case "run", "world":
			if b.arg == "" {
				t.Errorf("%s: %s needs a name", where, b.kind)
				continue
			}
			if named[b.arg] {
				t.Errorf("%s: the name %q is used twice", where, b.arg)
			}
			named[b.arg] = true
			if !run[b.arg] {
				t.Errorf("%s: no session of readme_shell_test.go runs %q", where, b.arg)
			}
			if b.kind == "world" {
				if _, err := world.Parse([]byte(b.text), "README.yaml"); err != nil {
					t.Errorf("%s: the world does not load: %v", where, err)
				}
			}
		case "source":
			path, region, _ := strings.Cut(b.arg, "#")
			want, err := sourceText(filepath.Join(root, path), region)
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			if b.text != want {
				t.Errorf("%s differs from %s (the README shows the code that is compiled and run: copy one into the other)\n%s", where, b.arg, firstDifference(b.text, want))
			}
			switch {
			case strings.HasSuffix(path, "_test.go"):
				if !strings.Contains(want, "\nfunc Test") && !strings.Contains(want, "\nfunc Example") {
					t.Errorf("%s: %s has no test or example for go test to run", where, path)
				}
			case strings.HasSuffix(path, ".go") && strings.Contains(want, "package main\n") && !programs[filepath.Dir(path)]:
				t.Errorf("%s: no session of readme_shell_test.go runs the program %s", where, filepath.Dir(path))
			}
		default:
			t.Errorf("%s: unknown marker kind %q", where, b.kind)
		}
	}
	for name := range run {
		if !named[name] {
			t.Errorf("readme_shell_test.go runs %q, which no README block is named", name)
		}
	}
}

// sourceText is a file, or the region of it between "readme:begin NAME" and "readme:end NAME"
// lines, without the indentation all its lines share.
func sourceText(path, region string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if region == "" {
		return string(b), nil
	}
	var lines []string
	in, found := false, false
	for _, l := range strings.SplitAfter(string(b), "\n") {
		switch {
		case isMark(l, "readme:begin "+region):
			in, found = true, true
		case isMark(l, "readme:end "+region):
			in = false
		case in:
			lines = append(lines, l)
		}
	}
	if !found {
		return "", fmt.Errorf("%s has no region %q", path, region)
	}
	indent, first := "", true
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		lead := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if first {
			indent, first = lead, false
		}
		for !strings.HasPrefix(lead, indent) {
			indent = indent[:len(indent)-1]
		}
	}
	var out strings.Builder
	for _, l := range lines {
		out.WriteString(strings.TrimPrefix(l, indent))
	}
	return out.String(), nil
}

// isMark reports whether a line ends with the mark (after a comment opener of any syntax).
func isMark(line, mark string) bool {
	i := strings.Index(line, mark)
	return i >= 0 && strings.TrimSpace(line[i+len(mark):]) == ""
}

// firstDifference shows the first line where the README and the source part.
func firstDifference(readme, source string) string {
	r, s := strings.Split(readme, "\n"), strings.Split(source, "\n")
	for i := 0; i < len(r) || i < len(s); i++ {
		var a, b string
		if i < len(r) {
			a = r[i]
		}
		if i < len(s) {
			b = s[i]
		}
		if a != b {
			return fmt.Sprintf("line %d of the block:\n  README: %q\n  source: %q", i+1, a, b)
		}
	}
	return "they differ in the final newline"
}

// A region is the lines between its markers, de-indented; other regions and the markers
// themselves are left out.
func TestReadmeSourceRegion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.go")
	src := "package x\n\nfunc f() {\n\t// readme:begin body\n\tif a {\n\t\tb()\n\t}\n\n\t// readme:end body\n\t// readme:begin bodytwo\n\tc()\n\t// readme:end bodytwo\n}\n"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for region, want := range map[string]string{"body": "if a {\n\tb()\n}\n\n", "bodytwo": "c()\n", "": src} {
		if got, err := sourceText(path, region); err != nil || got != want {
			t.Errorf("region %q = %q, %v; want %q", region, got, err, want)
		}
	}
	if _, err := sourceText(path, "missing"); err == nil {
		t.Error("a missing region is not an error")
	}
}
