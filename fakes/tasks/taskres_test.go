package tasks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/storage"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
)

// noIdentities attaches no identity (the tasks here ask for none).
type noIdentities struct{ platform.Platform }

func (noIdentities) Attach(context.Context, string, string, bool, []string) (platform.Identities, error) {
	return platform.Identities{}, nil
}
func (noIdentities) Detach(string) error { return nil }
func (noIdentities) TenantID() string    { return "t1" }

// poolRegistry is a registry with one agent pool, pool1.
type poolRegistry struct{}

func (poolRegistry) LoginServer(string) string { return "reg.example" }
func (poolRegistry) AgentPool(_, name string) bool {
	return strings.EqualFold(name, "pool1")
}

// at reads a value at a path of keys in decoded JSON.
func at(v any, path ...string) any {
	for _, k := range path {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	return v
}

func keys(v any) string {
	m, _ := v.(map[string]any)
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// The task resource as the az CLI's recording shows it: a Docker step accepted, PATCH merged
// object by object, credentials hidden but in listDetails, systemData, agent pools checked,
// runs answered Queued in ACR's short form and PATCHed to be archived.
func TestTaskResource(t *testing.T) {
	s := New(noIdentities{}, poolRegistry{}, nil, storage.New())
	defer s.Close()
	h := s.Handler()
	const reg = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/reg"
	do := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set(armid.HeaderClientObjectID, "object-1")
		r.Header.Set(armid.HeaderClientAppID, "app-1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		var out map[string]any
		_ = json.Unmarshal(w.Body.Bytes(), &out)
		return w.Code, out
	}
	docker := `{"location":"westus","properties":{"status":"Enabled","platform":{"os":"linux","architecture":"amd64"},"agentConfiguration":{"cpu":2},` +
		`"timeout":3600,"step":{"type":"Docker","contextPath":"https://github.com/Azure-Samples/acr-build-helloworld-node","imageNames":["testtask:v1"],` +
		`"isPushEnabled":true,"noCache":false,"dockerFilePath":"Dockerfile","arguments":[]},"trigger":{"baseImageTrigger":{"baseImageTriggerType":"Runtime",` +
		`"updateTriggerPayloadType":"Default","status":"Enabled","name":"defaultBaseimageTriggerName"}},"credentials":{},"isSystemTask":false}}`
	code, out := do("PUT", reg+"/tasks/testTask", docker)
	if code != 200 || at(out, "properties", "step", "imageNames") == nil || at(out, "properties", "credentials") != nil ||
		at(out, "systemData", "createdBy") != "app-1" || at(out, "properties", "creationDate") == nil {
		t.Fatalf("PUT Docker task: %d %v", code, out)
	}
	for _, c := range []struct{ desc, body, code string }{
		{"unknown step type", `{"properties":{"step":{"type":"Bogus"}}}`, "TaskStepInvalid"},
		{"not base64", `{"properties":{"step":{"type":"EncodedTask","encodedTaskContent":"!"}}}`, "TaskStepInvalid"},
		{"file task without a file", `{"properties":{"step":{"type":"FileTask"}}}`, "TaskStepInvalid"},
		{"missing agent pool", strings.Replace(docker, `"status"`, `"agentPoolName":"nopool","status"`, 1), "AgentPoolNotFound"},
		// Azure accepts task YAML a run would refuse; the run fails.
		{"YAML a run refuses", `{"properties":{"step":{"type":"EncodedTask","encodedTaskContent":"` +
			base64.StdEncoding.EncodeToString([]byte("steps:\n  - build:")) + `"}}}`, ""},
		{"existing agent pool", strings.Replace(docker, `"status"`, `"agentPoolName":"POOL1","status"`, 1), ""},
	} {
		code, out := do("PUT", reg+"/tasks/t-"+strings.ReplaceAll(c.desc, " ", "-"), c.body)
		if got := fmt.Sprint(at(out, "error", "code")); (c.code == "" && code != 200) || (c.code != "" && got != c.code) {
			t.Errorf("%s: %d %v", c.desc, code, out)
		}
	}
	// A partial step keeps the step's other fields; a partial object keeps its other keys.
	code, out = do("PATCH", reg+"/tasks/testTask", `{"properties":{"platform":{"os":"linux","architecture":"arm"},"agentConfiguration":{},`+
		`"step":{"type":"Docker","contextPath":"https://github.com/Azure-Samples/acr-build-helloworld-node","isPushEnabled":true},`+
		`"trigger":{"baseImageTrigger":{"name":"defaultBaseimageTriggerName"}},"credentials":{}}}`)
	if code != 200 || at(out, "properties", "platform", "architecture") != "arm" || at(out, "properties", "agentConfiguration", "cpu") != 2.0 ||
		fmt.Sprint(at(out, "properties", "step", "imageNames")) != "[testtask:v1]" || at(out, "properties", "trigger", "baseImageTrigger", "status") != "Enabled" {
		t.Fatalf("PATCH: %d %v", code, out)
	}
	code, out = do("PATCH", reg+"/tasks/testTask", `{"properties":{"credentials":{"customRegistries":{"test.acr.com":{"userName":{"value":"testuser","type":"Opaque"},`+
		`"password":{"value":"random","type":"Opaque"},"identity":"[system]"}}}}}`)
	if regs, ok := at(out, "properties", "credentials", "customRegistries").(map[string]any); code != 200 || !ok || regs["test.acr.com"] != nil || len(regs) != 1 {
		t.Fatalf("credential add: %d %v", code, out)
	}
	if _, out = do("POST", reg+"/tasks/testTask/listDetails", ""); at(out, "properties", "credentials", "customRegistries", "test.acr.com", "identity") != "[system]" {
		t.Fatalf("listDetails: %v", out)
	}
	_, out = do("PATCH", reg+"/tasks/testTask", `{"properties":{"credentials":{"customRegistries":{"test.acr.com":null}}}}`)
	if regs, ok := at(out, "properties", "credentials", "customRegistries").(map[string]any); !ok || len(regs) != 0 {
		t.Fatalf("credential remove: %v", out)
	}

	// A run of the Docker task: ACR's short Queued answer, then a run that fails on its remote
	// context (not emulated), typed QuickRun.
	code, out = do("POST", reg+"/scheduleRun", `{"type":"TaskRunRequest","isArchiveEnabled":false,"taskId":"`+reg+`/tasks/testTask","overrideTaskStepProperties":{"arguments":[],"values":[]}}`)
	if code != 200 || keys(out) != "id,name,properties,systemData,type" || keys(out["properties"]) != "isArchiveEnabled,lastUpdatedTime,provisioningState,runId,status" ||
		keys(out["systemData"]) != "lastModifiedAt,lastModifiedBy,lastModifiedByType" {
		t.Fatalf("scheduleRun: %d %v", code, out)
	}
	id := at(out, "properties", "runId").(string)
	deadline := time.Now().Add(30 * time.Second)
	for at(out, "properties", "status") != "Failed" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		_, out = do("GET", reg+"/runs/"+id, "")
	}
	if at(out, "properties", "runType") != "QuickRun" || at(out, "properties", "task") != "testTask" ||
		!strings.Contains(fmt.Sprint(at(out, "properties", "runErrorMessage")), "is not emulated") || at(out, "properties", "platform", "architecture") != "arm" {
		t.Fatalf("run: %v", out)
	}
	code, out = do("PATCH", reg+"/runs/"+id, `{"isArchiveEnabled":true}`)
	if code != 200 || at(out, "properties", "isArchiveEnabled") != true || at(out, "systemData", "createdBy") != "app-1" {
		t.Fatalf("PATCH run: %d %v", code, out)
	}
	if _, out = do("GET", reg+"/runs/"+id, ""); at(out, "properties", "isArchiveEnabled") != true {
		t.Fatalf("run after PATCH: %v", out)
	}
	if code, out = do("PATCH", reg+"/runs/nothere", `{"isArchiveEnabled":true}`); code != 404 {
		t.Fatalf("PATCH of a missing run: %d %v", code, out)
	}
	for pool, want := range map[string]string{"nopool": "AgentPoolNotFound", "pool1": "<nil>"} {
		_, out = do("POST", reg+"/scheduleRun", `{"type":"TaskRunRequest","taskId":"`+reg+`/tasks/testTask","agentPoolName":"`+pool+`"}`)
		if got := fmt.Sprint(at(out, "error", "code")); got != want {
			t.Errorf("run on agent pool %s: %v", pool, out)
		}
	}
	if code, _ := do("DELETE", reg+"/tasks/testTask", ""); code != 200 {
		t.Fatalf("DELETE: %d", code)
	}
}
