package tasks

import (
	"fmt"
	"strings"
	"testing"
)

// Hostile task YAML is refused with a message that says which bound it crossed, before the
// parser or the decoder can spend seconds or gigabytes on it.
func TestTaskYAMLBounds(t *testing.T) {
	laughs := "version: v1.1.0\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
	prev := "a"
	for _, name := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		refs := strings.TrimSuffix(strings.Repeat("*"+prev+",", 9), ",")
		laughs += fmt.Sprintf("%s: &%s [%s]\n", name, name, refs)
		prev = name
	}
	laughs += "steps:\n  - cmd: *i\n"
	many := "steps:\n" + strings.Repeat("  - cmd: alpine\n", maxTaskYAMLItems)
	huge := "steps:\n" + strings.Repeat("  - cmd: alpine\n", 5000)
	tt := taskTemplate{registry: "r.azurecr.io", id: "ca1", values: map[string]string{"big": strings.Repeat("x", 1024)}}
	for _, tc := range []struct {
		desc, yaml, want string
	}{
		{"nested aliases (billion laughs)", laughs, "expands to more than"},
		{"deep flow sequences", "steps: " + strings.Repeat("[", 180_000), "larger than 64 KiB"},
		{"deep flow mappings within the size", "steps: " + strings.Repeat("{", 40_000), "nests deeper than 32 levels"},
		{"deep flow sequences within the size", "steps: " + strings.Repeat("[", 40_000), "nests deeper than 32 levels"},
		{"deep compact block sequences", "steps:\n" + strings.Repeat("- ", 20_000) + "x\n", "nests deeper than 32 levels"},
		{"deep indentation", "steps:\n" + func() string {
			var b strings.Builder
			for i := range 40 {
				b.WriteString(strings.Repeat("  ", i) + "k:\n")
			}
			return b.String()
		}(), "nests deeper than 32 levels"},
		{"many steps", many, "more than 1024 items"},
		{"a huge file", huge, "larger than 64 KiB"},
		{"many flow items", "steps: [" + strings.Repeat("a,", maxTaskYAMLItems+1) + "a]", "more than 1024 items"},
		{"values multiplied by the template", "steps:\n  - cmd: " + strings.Repeat("{{.Values.big}}", 100) + "\n", "larger than 64 KiB once its values are filled in"},
		{"two documents", "steps:\n  - cmd: a\n---\nsteps:\n  - cmd: b\n", "one YAML document"},
		{"no steps", "version: v1.1.0\n", "has no steps"},
		{"blank", " \n", "has no steps"},
		{"comments only", "# steps: none\n", "has no steps"},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			_, err := parseTaskYAML([]byte(tc.yaml), tt)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
	// Within the bounds, aliases and a realistic task still parse.
	ok := "version: v1.1.0\nimg: &img r.azurecr.io/hello:v1\nsteps:\n  - cmd: *img\n  - push: [*img]\n"
	acts, err := parseTaskYAML([]byte(ok), tt)
	if err != nil || len(acts) != 2 || acts[0].cmd != "r.azurecr.io/hello:v1" {
		t.Fatalf("aliases within bounds: %+v, %v", acts, err)
	}
}

// FuzzTaskYAML: no input panics, and whatever parses stays within the bounds.
func FuzzTaskYAML(f *testing.F) {
	for _, s := range []string{
		"version: v1.1.0\nsteps:\n  - cmd: {{.Run.Registry}}/hello:{{.Run.ID}}\n",
		"steps:\n  - build: -t app:v1 -f Dockerfile .\n  - push: [app:v1]\n",
		"a: &a [x, *a]\nsteps:\n  - cmd: *a\n",
		"steps: [{cmd: a}, {cmd: b}]",
		"steps:\n- - - x",
		"{{.Values.x}}: {{.Values.x}}",
	} {
		f.Add(s, "v")
	}
	f.Fuzz(func(t *testing.T, doc, value string) {
		tt := taskTemplate{registry: "r.azurecr.io", id: "ca1", values: map[string]string{"x": value}}
		_, _ = parseTaskYAML([]byte(doc), tt)
	})
}
