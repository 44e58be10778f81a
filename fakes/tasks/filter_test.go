package tasks

import (
	"strings"
	"testing"
)

func TestRunFilter(t *testing.T) {
	built := map[string]any{"runId": "ca3", "task": "build-task", "status": "Succeeded", "runType": "AutoRun",
		"outputImages": []map[string]string{{"registry": "myregistry.azurecr.io", "repository": "web", "tag": "v1", "digest": "sha256:abc"}}}
	quick := map[string]any{"runId": "ca4", "status": "Failed", "runType": "QuickBuild"} // no task
	for _, tc := range []struct {
		filter             string
		wantBuilt, wantQck bool
	}{
		{"", true, true},
		{"TaskName eq 'build-task'", true, false},
		{"TaskName eq 'BUILD-TASK'", true, false}, // names compare case-insensitively, as ARM's do
		{"TaskName eq 'other'", false, false},
		{"Status eq 'Failed'", false, true},
		{"TaskName eq 'build-task' and Status eq 'Succeeded'", true, false},
		{"TaskName eq 'build-task' and Status eq 'Failed'", false, false},
		{"contains(OutputImageManifests, 'web@sha256:abc')", true, false},
		{"contains(OutputImageManifests, 'api@')", false, false},
		{"RunType eq 'QuickBuild'", false, true},
		{"RunId eq 'ca4'", false, true},
	} {
		f, err := parseRunFilter(tc.filter)
		if err != nil {
			t.Fatalf("%q: %v", tc.filter, err)
		}
		if got := f.match(built); got != tc.wantBuilt {
			t.Errorf("%q on the task run: %v", tc.filter, got)
		}
		if got := f.match(quick); got != tc.wantQck {
			t.Errorf("%q on the quick build: %v", tc.filter, got)
		}
	}
	for _, bad := range []struct{ filter, want string }{
		{"Image eq 'x'", `the filter field "Image" is not supported`},
		{"TaskName = 'x'", "use Field eq 'value'"},
		{"TaskName eq x", "quote the value"},
		{"contains(OutputImageManifests)", "is not valid"},
		{"TaskName eq '", "quote the value"},
	} {
		if _, err := parseRunFilter(bad.filter); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: %v, want %q", bad.filter, err, bad.want)
		}
	}
}
