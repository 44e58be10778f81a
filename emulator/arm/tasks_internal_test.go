package arm

import (
	"net/http/httptest"
	"testing"
)

func TestTasksAction(t *testing.T) {
	const reg = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r"
	cr := "Microsoft.ContainerRegistry/registries/"
	for _, c := range []struct {
		method, path, action string
	}{
		{"GET", reg + "/tasks", cr + "tasks/read"},
		{"PUT", reg + "/tasks/t", cr + "tasks/write"},
		{"PATCH", reg + "/tasks/t", cr + "tasks/write"},
		{"DELETE", reg + "/tasks/t", cr + "tasks/delete"},
		{"POST", reg + "/tasks/t/listDetails", cr + "tasks/listDetails/action"},
		{"POST", reg + "/scheduleRun", cr + "scheduleRun/action"},
		{"GET", reg + "/runs/ca1", cr + "runs/read"},
		{"POST", reg + "/runs/ca1/listLogSasUrl", cr + "runs/listLogSasUrl/action"},
		{"POST", reg + "/runs/ca1/cancel", cr + "runs/cancel/action"},
		{"GET", reg + "/scheduleRun", ""},
		{"POST", reg + "/listBuildSourceUploadUrl", cr + "listBuildSourceUploadUrl/action"},
		{"GET", reg, ""},
		{"POST", reg + "/importImage", ""},
		{"GET", reg + "/providers/Microsoft.Security/assessments/x", ""},
		{"GET", "/subscriptions/s/resourceGroups/g/providers/Microsoft.Web/sites/r/tasks", ""},
	} {
		scope, action, ok := tasksAction(httptest.NewRequest(c.method, c.path, nil))
		if action != c.action || ok != (c.action != "") || (ok && scope != reg) {
			t.Errorf("%s %s: (%q, %q, %v), want action %q", c.method, c.path, scope, action, ok, c.action)
		}
	}
}
