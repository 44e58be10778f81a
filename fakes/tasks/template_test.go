package tasks

import (
	"strings"
	"testing"
)

// ACR renders task YAML as a template before parsing it: the ACR Tasks reference's examples put
// {{.Run.Registry}} at the start of an unquoted value, which is YAML only once rendered.
func TestTaskTemplate(t *testing.T) {
	tt := taskTemplate{registry: "myregistry.azurecr.io", id: "ca7", task: "hello", values: map[string]string{"tag": "v2"}}
	for _, tc := range []struct{ in, want string }{
		{"{{.Run.Registry}}/hello-world:{{.Run.ID}}", "myregistry.azurecr.io/hello-world:ca7"},
		{"{{ .Run.RegistryName }}-{{.Run.TaskName}}", "myregistry-hello"},
		{"{{.Run.OS}}/{{.Run.Architecture}}", "linux/amd64"},
		{"app:{{.Values.tag}} app:{{.Values.missing}}", "app:v2 app:<no value>"},
		{"{{.Run.SharedVolume}} {{ printf \"x\" }}", "{{.Run.SharedVolume}} {{ printf \"x\" }}"}, // not emulated: left as written
	} {
		got, err := tt.render([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("render(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}

	acts, err := parseTaskYAML([]byte("version: v1.1.0\nsteps:\n  - build: -t {{.Run.Registry}}/hello-world:{{.Run.ID}} .\n"+
		"  - cmd: {{.Run.Registry}}/hello-world:{{.Run.ID}}\n  - push: [\"{{.Run.Registry}}/hello-world:{{.Values.tag}}\"]\n"), tt)
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 3 || acts[1].cmd != "myregistry.azurecr.io/hello-world:ca7" || len(acts[2].push) != 1 || acts[2].push[0] != "myregistry.azurecr.io/hello-world:v2" ||
		acts[0].build == nil || !strings.Contains(strings.Join(acts[0].build.tags, " "), "myregistry.azurecr.io/hello-world:ca7") {
		t.Fatalf("actions: %+v", acts)
	}
}
