package emulator_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// tasksFixture pushes an image, locks the registry down, and creates a task with a
// system-assigned identity holding AcrPull whose cmd step pulls the image.
func tasksFixture(t *testing.T, emu *emulatortest.Emulator) (arm func(string, string, any) (int, map[string]any), reg string, run func() map[string]any) {
	arm = armClient(t, emu)
	host := emu.Registry().Host
	u, p := emu.Admin()
	img, _ := random.Image(1024, 1)
	r, _ := name.ParseReference(host + "/tasks/base:v1")
	if err := remote.Write(r, img, remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: u, Password: p})); err != nil {
		t.Fatal(err)
	}
	reg = rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	if status, out := arm("PATCH", reg, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled"}}); status != 200 {
		t.Fatalf("PATCH registry: %d %v", status, out)
	}
	yaml := "version: v1.1.0\nsteps:\n  - cmd: $Registry/tasks/base:v1 echo hello\n"
	status, out := arm("PUT", reg+"/tasks/cross-task", map[string]any{"location": "eastus", "identity": map[string]any{"type": "SystemAssigned"},
		"properties": map[string]any{"platform": map[string]any{"os": "Linux"}, "step": map[string]any{"type": "EncodedTask",
			"encodedTaskContent": base64.StdEncoding.EncodeToString([]byte(yaml))},
			"credentials": map[string]any{"sourceRegistry": map[string]any{"loginMode": "None"}}}})
	if status != 200 || get(out, "properties", "provisioningState") != "Succeeded" {
		t.Fatalf("PUT task: %d %v", status, out)
	}
	principal := fmt.Sprint(get(out, "identity", "principalId"))
	if status, out := arm("PUT", reg+"/providers/Microsoft.Authorization/roleAssignments/9a9a9a9a-0000-4000-8000-0000000000a1", map[string]any{
		"properties": map[string]any{"roleDefinitionId": "/subscriptions/22222222-2222-2222-2222-222222222222/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d",
			"principalId": principal, "principalType": "ServicePrincipal"}}); status != 201 {
		t.Fatalf("AcrPull for the task's identity: %d %v", status, out)
	}
	run = func() map[string]any {
		t.Helper()
		status, out := arm("POST", reg+"/scheduleRun", map[string]any{"type": "TaskRunRequest", "taskId": reg + "/tasks/cross-task"})
		if status != 200 || get(out, "properties", "status") != "Queued" {
			t.Fatalf("scheduleRun: %d %v", status, out)
		}
		return waitRun(t, arm, reg, out)
	}
	return arm, reg, run
}

// waitRun polls a run until it ends, as clients of ACR Tasks do.
func waitRun(t *testing.T, arm func(string, string, any) (int, map[string]any), reg string, queued map[string]any) map[string]any {
	t.Helper()
	id := fmt.Sprint(get(queued, "properties", "runId"))
	deadline := time.Now().Add(time.Minute)
	for {
		status, out := arm("GET", reg+"/runs/"+id, nil)
		if status != 200 {
			t.Fatalf("GET run %s: %d %v", id, status, out)
		}
		switch get(out, "properties", "status") {
		case "Succeeded", "Failed":
			return out
		case "Queued", "Running":
		default:
			t.Fatalf("run %s: %v", id, out)
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s did not end: %v", id, out)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// runLog reads a run's log through its listLogSasUrl link and returns it with the blob's
// Complete metadata.
func runLog(t *testing.T, emu *emulatortest.Emulator, arm func(string, string, any) (int, map[string]any), reg, runID string) (string, string) {
	t.Helper()
	status, out := arm("POST", reg+"/runs/"+runID+"/listLogSasUrl", nil)
	if status != 200 {
		t.Fatalf("listLogSasUrl: %d %v", status, out)
	}
	link := fmt.Sprint(out["logLink"])
	// Path-style on the listener the client used, the account's real name first (storage.AccountURL).
	if !strings.HasPrefix(link, emu.HTTPSURL()+"/acrtasklogs.blob.core.windows.net/") || !strings.Contains(link, "/logs/"+runID+"/rawtext.log?sv=") {
		t.Fatalf("logLink = %s", link)
	}
	head, err := emu.Client().Head(link)
	if err != nil {
		t.Fatal(err)
	}
	head.Body.Close()
	// Read as az does: ranges of a few bytes at a time until the Content-Length.
	var log strings.Builder
	for start := int64(0); start < head.ContentLength; {
		req, _ := http.NewRequest(http.MethodGet, link, nil)
		req.Header.Set("x-ms-range", fmt.Sprintf("bytes=%d-%d", start, start+99))
		res, err := emu.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusPartialContent || len(b) == 0 {
			t.Fatalf("range at %d: %d", start, res.StatusCode)
		}
		log.Write(b)
		start += int64(len(b))
	}
	return log.String(), head.Header.Get("x-ms-meta-Complete")
}

func TestTaskRunThroughTrustedServices(t *testing.T) {
	emu := emulatortest.New(t)
	arm, reg, run := tasksFixture(t, emu)

	// No credential for the registry yet: the run pulls anonymously and is refused.
	out := run()
	if get(out, "properties", "status") != "Failed" || !strings.Contains(fmt.Sprint(get(out, "properties", "runErrorMessage")), "unauthorized") {
		t.Fatalf("run without a registry credential: %v", out)
	}

	// az acr task credential add --use-identity [system]: a PATCH with the credential.
	status, out := arm("PATCH", reg+"/tasks/cross-task", map[string]any{"properties": map[string]any{"credentials": map[string]any{
		"customRegistries": map[string]any{emu.Registry().Host: map[string]any{"identity": "[system]"}}}}})
	if status != 200 || get(out, "properties", "step", "type") != "EncodedTask" ||
		get(out, "properties", "credentials", "sourceRegistry", "loginMode") != "None" {
		t.Fatalf("PATCH task credentials: %d %v", status, out)
	}
	out = run()
	runID := fmt.Sprint(get(out, "properties", "runId"))
	if get(out, "properties", "status") != "Succeeded" || get(out, "properties", "task") != "cross-task" {
		t.Fatalf("run with the task identity, trusted services on: %v", out)
	}
	if log, complete := runLog(t, emu, arm, reg, runID); complete != "successful" || !strings.Contains(log, "Run ID: "+runID+" was successful") ||
		!strings.Contains(log, emu.Registry().Host+"/tasks/base:v1") {
		t.Fatalf("log of %s:\n%s", runID, log)
	}

	if status, out := arm("PATCH", reg, map[string]any{"properties": map[string]any{"networkRuleBypassOptions": "None"}}); status != 200 {
		t.Fatalf("PATCH registry: %d %v", status, out)
	}
	out = run()
	failed := fmt.Sprint(get(out, "properties", "runId"))
	if get(out, "properties", "status") != "Failed" {
		t.Fatalf("run with trusted services off: %v", out)
	}
	log, complete := runLog(t, emu, arm, reg, failed)
	if complete != "failed" || !strings.Contains(log, "denied: client with IP '20.0.0.8' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.") ||
		!strings.Contains(log, "Run ID: "+failed+" failed after") || !strings.HasSuffix(log, "Run failed\r\n") {
		t.Fatalf("log of %s:\n%s", failed, log)
	}

	status, out = arm("GET", reg+"/runs", nil)
	if status != 200 || get(out, "value", 0, "name") != failed || get(out, "value", 2, "properties", "status") != "Failed" {
		t.Fatalf("runs, newest first: %d %v", status, out)
	}
	if status, _ := arm("DELETE", reg+"/tasks/cross-task", nil); status != 200 {
		t.Fatalf("DELETE task: %d", status)
	}
	if status, _ := arm("GET", reg+"/tasks/cross-task", nil); status != 404 {
		t.Fatalf("GET deleted task: %d", status)
	}
}

// Since June 2025 a task's system-assigned identity no longer bypasses network rules unless
// the registry sets networkRuleBypassAllowedForTasks.
func TestTaskRunCurrentPolicy(t *testing.T) {
	w := world.Default()
	w.Profile = "current"
	emu := emulatortest.New(t, emulatortest.WithWorld(w))
	arm, reg, run := tasksFixture(t, emu)
	if status, out := arm("PATCH", reg+"/tasks/cross-task", map[string]any{"properties": map[string]any{"credentials": map[string]any{
		"customRegistries": map[string]any{emu.Registry().Host: map[string]any{"identity": "[system]"}}}}}); status != 200 {
		t.Fatalf("PATCH task credentials: %d %v", status, out)
	}
	if out := run(); get(out, "properties", "status") != "Failed" ||
		!strings.Contains(fmt.Sprint(get(out, "properties", "runErrorMessage")), "is not allowed access") {
		t.Fatalf("system identity without networkRuleBypassAllowedForTasks: %v", out)
	}
	if status, out := arm("PATCH", reg, map[string]any{"properties": map[string]any{"networkRuleBypassAllowedForTasks": true}}); status != 200 {
		t.Fatalf("PATCH registry: %d %v", status, out)
	}
	if out := run(); get(out, "properties", "status") != "Succeeded" {
		t.Fatalf("with networkRuleBypassAllowedForTasks: %v", out)
	}
}

func TestTaskRequestsRejectedCleanly(t *testing.T) {
	emu := emulatortest.New(t)
	arm := armClient(t, emu)
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	status, out := arm("POST", reg+"/scheduleRun", map[string]any{"type": "SourceTriggeredRunRequest"})
	if status != 400 || get(out, "error", "code") != "RunRequestNotSupported" {
		t.Fatalf("an unknown run request: %d %v", status, out)
	}
	status, out = arm("POST", reg+"/scheduleRun", map[string]any{"type": "DockerBuildRequest", "imageNames": []string{"x:1"}, "isPushEnabled": true})
	if status == 200 {
		out = waitRun(t, arm, reg, out)
	}
	if status != 200 || get(out, "properties", "status") != "Failed" ||
		!strings.Contains(fmt.Sprint(get(out, "properties", "runErrorMessage")), "no source context") {
		t.Fatalf("DockerBuildRequest without a source: %d %v", status, out)
	}
	// A source that was never uploaded, or one the emulator cannot fetch (a Git URL), fails the
	// run with the reason, in its status and at the end of its log.
	for src, want := range map[string]string{
		"source/20261130/never-uploaded.tar.gz": "the source location source/20261130/never-uploaded.tar.gz was not uploaded",
		"https://github.com/example/app.git":    "is not emulated",
	} {
		status, out = arm("POST", reg+"/scheduleRun", map[string]any{"type": "DockerBuildRequest", "imageNames": []string{"x:1"},
			"isPushEnabled": true, "dockerFilePath": "Dockerfile", "sourceLocation": src})
		if status != 200 {
			t.Fatalf("DockerBuildRequest from %s: %d %v", src, status, out)
		}
		out = waitRun(t, arm, reg, out)
		id := fmt.Sprint(get(out, "properties", "runId"))
		if get(out, "properties", "status") != "Failed" || !strings.Contains(fmt.Sprint(get(out, "properties", "runErrorMessage")), want) {
			t.Fatalf("DockerBuildRequest from %s: %v", src, out)
		}
		if log, complete := runLog(t, emu, arm, reg, id); complete != "failed" || !strings.Contains(log, want) || !strings.HasSuffix(log, "Run ID: "+id+" failed after 0s. Error: failed during run, err: exit status 1\r\nRun failed\r\n") {
			t.Fatalf("log of %s:\n%q", id, log)
		}
	}
	status, out = arm("PUT", reg+"/tasks/bad", map[string]any{"location": "eastus", "properties": map[string]any{
		"step": map[string]any{"type": "EncodedTask", "encodedTaskContent": "not base64!"}}})
	if status != 400 || get(out, "error", "code") != "TaskStepInvalid" {
		t.Fatalf("bad task YAML: %d %v", status, out)
	}
	if status, _ := arm("GET", reg+"/tasks/bad", nil); status != 404 {
		t.Fatalf("a rejected task was stored: %d", status)
	}
	// A step with no image is refused before anything runs.
	status, out = arm("POST", reg+"/scheduleRun", map[string]any{"type": "EncodedTaskRunRequest",
		"encodedTaskContent": base64.StdEncoding.EncodeToString([]byte("steps:\n  - cmd: \"  \"\n  - build: -t x .\n"))})
	if status != 400 || get(out, "error", "code") != "TaskStepInvalid" ||
		!strings.Contains(fmt.Sprint(get(out, "error", "message")), "only cmd, build and push steps") {
		t.Fatalf("run of an empty cmd: %d %v", status, out)
	}
}

// tarGz packs files as az acr build packs a context.
func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = tw.Write([]byte(body))
	}
	_ = tw.Close()
	_ = zw.Close()
	return buf.Bytes()
}

// uploadSource uploads a build context as az does (listBuildSourceUploadUrl, then a block blob
// PUT) and returns its relativePath for a run's sourceLocation.
func uploadSource(t *testing.T, emu *emulatortest.Emulator, arm func(string, string, any) (int, map[string]any), reg string, files map[string]string) string {
	t.Helper()
	status, out := arm("POST", reg+"/listBuildSourceUploadUrl", nil)
	if status != 200 {
		t.Fatalf("listBuildSourceUploadUrl: %d %v", status, out)
	}
	req, _ := http.NewRequest(http.MethodPut, fmt.Sprint(out["uploadUrl"]), bytes.NewReader(tarGz(t, files)))
	req.Header.Set("x-ms-blob-type", "BlockBlob")
	res, err := emu.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated || res.Header.Get("Content-MD5") == "" {
		t.Fatalf("upload: %d", res.StatusCode)
	}
	// A second upload to the same link is refused: sources are written once.
	again, _ := http.NewRequest(http.MethodPut, fmt.Sprint(out["uploadUrl"]), strings.NewReader("x"))
	again.Header.Set("x-ms-blob-type", "BlockBlob")
	if res, err := emu.Client().Do(again); err != nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("second upload: %v %v", err, res.StatusCode)
	}
	return fmt.Sprint(out["relativePath"])
}

// TestFileTaskRun follows az acr run -f acb.yaml <dir>: the task file comes from the uploaded
// source, with --set values; a missing file fails the run, not the request.
func TestFileTaskRun(t *testing.T) {
	emu := emulatortest.New(t)
	arm, reg, _ := tasksFixture(t, emu) // public access disabled, trusted services on
	host := emu.Registry().Host
	run := func(taskFile string, files map[string]string) map[string]any {
		t.Helper()
		status, out := arm("POST", reg+"/scheduleRun", map[string]any{"type": "FileTaskRunRequest", "taskFilePath": taskFile,
			"sourceLocation": uploadSource(t, emu, arm, reg, files), "values": []any{map[string]any{"name": "repo", "value": "multi/app"}},
			"platform": map[string]any{"os": "linux"}})
		if status != 200 {
			t.Fatalf("scheduleRun: %d %v", status, out)
		}
		return waitRun(t, arm, reg, out)
	}
	files := map[string]string{
		"ci/acb.yaml": "version: v1.1.0\nsteps:\n  - build: -t $Registry/{{.Values.repo}}:$ID -f Dockerfile .\n  - push: [\"$Registry/{{.Values.repo}}:$ID\"]\n",
		"Dockerfile":  "FROM " + host + "/tasks/base:v1\nCOPY app.txt /app.txt\n",
		"app.txt":     "hello",
	}
	out := run("ci/acb.yaml", files)
	id := fmt.Sprint(get(out, "properties", "runId"))
	if get(out, "properties", "status") != "Succeeded" || get(out, "properties", "outputImages", 0, "repository") != "multi/app" ||
		get(out, "properties", "outputImages", 0, "tag") != id || get(out, "properties", "runType") != "QuickRun" {
		t.Fatalf("file task run: %v", out)
	}
	out = run("acb.yaml", files) // az's default name, absent from this source
	id = fmt.Sprint(get(out, "properties", "runId"))
	if msg := fmt.Sprint(get(out, "properties", "runErrorMessage")); get(out, "properties", "status") != "Failed" || !strings.Contains(msg, "failed to read the task file acb.yaml") {
		t.Fatalf("missing task file: %v", out)
	}
	if log, complete := runLog(t, emu, arm, reg, id); complete != "failed" || !strings.Contains(log, "failed to read the task file acb.yaml") {
		t.Fatalf("log of %s:\n%s", id, log)
	}
	status, out := arm("POST", reg+"/scheduleRun", map[string]any{"type": "FileTaskRunRequest", "taskFilePath": "acb.yaml"})
	if status != 400 || !strings.Contains(fmt.Sprint(get(out, "error", "message")), "needs a sourceLocation") {
		t.Fatalf("FileTaskRunRequest without a source: %d %v", status, out)
	}
}

// TestQuickBuild follows az acr build: upload the context, schedule a DockerBuildRequest,
// find the image in the registry.
func TestQuickBuild(t *testing.T) {
	emu := emulatortest.New(t)
	arm, reg, _ := tasksFixture(t, emu) // public access disabled, trusted services on
	host := emu.Registry().Host
	build := func(files map[string]string) map[string]any {
		t.Helper()
		status, run := arm("POST", reg+"/scheduleRun", map[string]any{"type": "DockerBuildRequest", "imageNames": []string{"built/app:{{.Run.ID}}"},
			"isPushEnabled": true, "dockerFilePath": "Dockerfile", "sourceLocation": uploadSource(t, emu, arm, reg, files),
			"arguments": []any{map[string]any{"name": "GREETING", "value": "hello"}}, "platform": map[string]any{"os": "linux"}})
		if status != 200 {
			t.Fatalf("scheduleRun: %d %v", status, run)
		}
		return waitRun(t, arm, reg, run)
	}
	files := map[string]string{
		"Dockerfile":      "FROM " + host + "/tasks/base:v1\nARG GREETING\nENV GREETING=$GREETING\nCOPY site/ /srv/\nCMD [\"/srv/run\"]\n",
		"site/index.html": "<h1>hi</h1>",
	}
	run := build(files)
	runID := fmt.Sprint(get(run, "properties", "runId"))
	if get(run, "properties", "status") != "Succeeded" || get(run, "properties", "outputImages", 0, "repository") != "built/app" ||
		get(run, "properties", "outputImages", 0, "tag") != runID {
		t.Fatalf("build: %v", run)
	}
	u, p := emu.Admin()
	ref, _ := name.ParseReference(host + "/built/app:" + runID)
	if status, out := arm("PATCH", reg, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Enabled"}}); status != 200 {
		t.Fatalf("reopen: %d %v", status, out)
	}
	img, err := remote.Image(ref, remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: u, Password: p}))
	if err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if d.String() != get(run, "properties", "outputImages", 0, "digest") {
		t.Fatalf("pushed %s, run says %v", d, get(run, "properties", "outputImages", 0, "digest"))
	}
	cfg, _ := img.ConfigFile()
	layers, _ := img.Layers()
	if len(layers) != 2 || !slices.Contains(cfg.Config.Env, "GREETING=hello") || !slices.Equal(cfg.Config.Cmd, []string{"/srv/run"}) {
		t.Fatalf("image: %d layers, %+v", len(layers), cfg.Config)
	}

	// With trusted services off, the run cannot reach its registry.
	if status, out := arm("PATCH", reg, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled", "networkRuleBypassOptions": "None"}}); status != 200 {
		t.Fatalf("PATCH: %d %v", status, out)
	}
	run = build(files)
	if get(run, "properties", "status") != "Failed" || !strings.Contains(fmt.Sprint(get(run, "properties", "runErrorMessage")), "client with IP '20.0.0.8' is not allowed access") {
		t.Fatalf("build with trusted services off: %v", run)
	}
	// A Dockerfile with RUN fails the run with the reason.
	if status, out := arm("PATCH", reg, map[string]any{"properties": map[string]any{"networkRuleBypassOptions": "AzureServices"}}); status != 200 {
		t.Fatalf("PATCH: %d %v", status, out)
	}
	run = build(map[string]string{"Dockerfile": "FROM scratch\nRUN make\n"})
	if get(run, "properties", "status") != "Failed" || !strings.Contains(fmt.Sprint(get(run, "properties", "runErrorMessage")), "RUN is not emulated") {
		t.Fatalf("build with RUN: %v", run)
	}
}

// A task in one registry builds from an uploaded context (az acr task run -c) and pushes to
// another registry with its identity, both registries network-restricted.
func TestTaskPushesToAnotherRegistry(t *testing.T) {
	w := world.Default()
	w.Registries = append(w.Registries, world.Registry{Name: "otherregistry", SKU: "Premium", Port: 1})
	emu := emulatortest.New(t, emulatortest.WithWorld(w))
	arm := armClient(t, emu)
	reg := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	other := rg + "/providers/Microsoft.ContainerRegistry/registries/otherregistry"
	otherHost := emu.Registry("otherregistry").Host
	for _, id := range []string{reg, other} {
		if status, out := arm("PATCH", id, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled"}}); status != 200 {
			t.Fatalf("lock %s: %d %v", id, status, out)
		}
	}
	yaml := "version: v1.1.0\nsteps:\n  - build: -t " + otherHost + "/app:{{.Run.ID}} .\n  - push:\n    - " + otherHost + "/app:{{.Run.ID}}\n"
	status, out := arm("PUT", reg+"/tasks/cross", map[string]any{"location": "eastus", "identity": map[string]any{"type": "SystemAssigned"},
		"properties": map[string]any{"step": map[string]any{"type": "EncodedTask", "encodedTaskContent": base64.StdEncoding.EncodeToString([]byte(yaml))},
			"credentials": map[string]any{"sourceRegistry": map[string]any{"loginMode": "None"},
				"customRegistries": map[string]any{otherHost: map[string]any{"identity": "[system]"}}}}})
	if status != 200 {
		t.Fatalf("PUT task: %d %v", status, out)
	}
	principal := fmt.Sprint(get(out, "identity", "principalId"))
	run := func() map[string]any {
		t.Helper()
		_, up := arm("POST", reg+"/listBuildSourceUploadUrl", nil)
		req, _ := http.NewRequest(http.MethodPut, fmt.Sprint(up["uploadUrl"]), bytes.NewReader(tarGz(t, map[string]string{
			"Dockerfile": "FROM scratch\nCOPY bin/ /bin/\n", "bin/app": "binary"})))
		req.Header.Set("x-ms-blob-type", "BlockBlob")
		if res, err := emu.Client().Do(req); err != nil || res.StatusCode != http.StatusCreated {
			t.Fatalf("upload: %v %v", err, res)
		}
		status, out := arm("POST", reg+"/scheduleRun", map[string]any{"type": "TaskRunRequest", "taskId": reg + "/tasks/cross",
			"overrideTaskStepProperties": map[string]any{"contextPath": up["relativePath"]}})
		if status != 200 {
			t.Fatalf("scheduleRun: %d %v", status, out)
		}
		return waitRun(t, arm, reg, out)
	}
	// Without a role on the other registry the push is refused by its token service.
	if out := run(); get(out, "properties", "status") != "Failed" ||
		!strings.Contains(fmt.Sprint(get(out, "properties", "runErrorMessage")), "unauthorized: authentication required") {
		t.Fatalf("push without a role: %v", out)
	}
	if status, out := arm("PUT", other+"/providers/Microsoft.Authorization/roleAssignments/9a9a9a9a-0000-4000-8000-0000000000b1", map[string]any{
		"properties": map[string]any{"roleDefinitionId": "/subscriptions/22222222-2222-2222-2222-222222222222/providers/Microsoft.Authorization/roleDefinitions/8311e382-0749-4cb8-b61a-304f252e45ec",
			"principalId": principal, "principalType": "ServicePrincipal"}}); status != 201 {
		t.Fatalf("AcrPush on the other registry: %d %v", status, out)
	}
	out = run()
	if get(out, "properties", "status") != "Succeeded" || get(out, "properties", "outputImages", 0, "registry") != otherHost {
		t.Fatalf("cross-registry push: %v", out)
	}
	tag := fmt.Sprint(get(out, "properties", "outputImages", 0, "tag"))
	if status, out := arm("PATCH", other, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Enabled"}}); status != 200 {
		t.Fatalf("reopen: %d %v", status, out)
	}
	ref, _ := name.ParseReference(otherHost + "/app:" + tag)
	_, clientID, secret := emu.ServicePrincipal()
	img, err := remote.Image(ref, remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: clientID, Password: secret}))
	if err != nil {
		t.Fatalf("the pushed image: %v", err)
	}
	if d, _ := img.Digest(); d.String() != get(out, "properties", "outputImages", 0, "digest") {
		t.Fatalf("pushed %s, the run says %v", d, get(out, "properties", "outputImages", 0, "digest"))
	}
}

// Task YAML is a template, rendered when the run starts: {{.Run.Registry}} and {{.Run.ID}}, the
// task's own values (az acr task create --set) and the run's (az acr task run --set), which win.
func TestTaskTemplateValues(t *testing.T) {
	emu := emulatortest.New(t)
	arm, reg, _ := tasksFixture(t, emu) // myregistry/tasks/base:v1 exists
	yaml := "version: v1.1.0\nsteps:\n  - cmd: {{.Run.Registry}}/tasks/{{.Values.image}}\n"
	status, out := arm("PUT", reg+"/tasks/tpl", map[string]any{"location": "eastus", "properties": map[string]any{
		"platform": map[string]any{"os": "Linux"}, "step": map[string]any{"type": "EncodedTask",
			"encodedTaskContent": base64.StdEncoding.EncodeToString([]byte(yaml)),
			"values":             []any{map[string]any{"name": "image", "value": "missing:v1", "isSecret": false}}}}})
	if status != 200 {
		t.Fatalf("PUT a task whose YAML is a template: %d %v", status, out)
	}
	run := func(values ...any) map[string]any {
		t.Helper()
		status, out := arm("POST", reg+"/scheduleRun", map[string]any{"type": "TaskRunRequest", "taskId": reg + "/tasks/tpl",
			"overrideTaskStepProperties": map[string]any{"values": values}})
		if status != 200 {
			t.Fatalf("scheduleRun: %d %v", status, out)
		}
		return waitRun(t, arm, reg, out)
	}
	host := emu.Registry().Host
	// The task's own value names an image that is not there.
	out = run()
	if msg := fmt.Sprint(get(out, "properties", "runErrorMessage")); get(out, "properties", "status") != "Failed" || !strings.Contains(msg, host+"/tasks/missing:v1") {
		t.Fatalf("run with the task's value: %v", out)
	}
	out = run(map[string]any{"name": "image", "value": "base:v1"})
	id := fmt.Sprint(get(out, "properties", "runId"))
	if get(out, "properties", "status") != "Succeeded" {
		t.Fatalf("run with --set image=base:v1: %v", out)
	}
	if log, _ := runLog(t, emu, arm, reg, id); !strings.Contains(log, "Status: Downloaded newer image for "+host+"/tasks/base:v1") {
		t.Fatalf("log of %s:\n%s", id, log)
	}
}

// A task with a Docker build step (az acr task create -t ... -f Dockerfile) runs on the
// context az acr task run -c uploads: it builds, pushes its image names, and records the base
// image on the task's step; a run on an agent pool needs the pool.
func TestDockerTaskRun(t *testing.T) {
	emu := emulatortest.New(t)
	arm, reg, _ := tasksFixture(t, emu) // public access disabled, trusted services on
	host := emu.Registry().Host
	status, out := arm("PUT", reg+"/tasks/docker-task", map[string]any{"location": "eastus", "properties": map[string]any{
		"platform": map[string]any{"os": "linux", "architecture": "amd64"}, "step": map[string]any{"type": "Docker",
			"contextPath": "https://github.com/Azure-Samples/acr-build-helloworld-node", "imageNames": []string{"docker-task:{{.Run.ID}}"}}}})
	if status != 200 || get(out, "properties", "step", "dockerFilePath") != "Dockerfile" || get(out, "properties", "step", "isPushEnabled") != true {
		t.Fatalf("PUT Docker task: %d %v", status, out)
	}
	src := uploadSource(t, emu, arm, reg, map[string]string{"Dockerfile": "FROM " + host + "/tasks/base:v1\nCMD [\"/app\"]\n"})
	status, out = arm("POST", reg+"/scheduleRun", map[string]any{"type": "TaskRunRequest", "taskId": reg + "/tasks/docker-task",
		"overrideTaskStepProperties": map[string]any{"contextPath": src}})
	if status != 200 {
		t.Fatalf("scheduleRun: %d %v", status, out)
	}
	run := waitRun(t, arm, reg, out)
	id := fmt.Sprint(get(run, "properties", "runId"))
	if get(run, "properties", "status") != "Succeeded" || get(run, "properties", "outputImages", 0, "repository") != "docker-task" ||
		get(run, "properties", "outputImages", 0, "tag") != id || get(run, "properties", "task") != "docker-task" {
		t.Fatalf("run: %v", run)
	}
	_, out = arm("GET", reg+"/tasks/docker-task", nil)
	if get(out, "properties", "step", "baseImageDependencies", 0, "repository") != "tasks/base" ||
		get(out, "properties", "step", "baseImageDependencies", 0, "type") != "Runtime" {
		t.Fatalf("task after the run: %v", out)
	}
	// Its own context, a remote one, is not fetched: the run says so.
	_, out = arm("POST", reg+"/scheduleRun", map[string]any{"type": "TaskRunRequest", "taskId": reg + "/tasks/docker-task"})
	if run := waitRun(t, arm, reg, out); get(run, "properties", "status") != "Failed" ||
		!strings.Contains(fmt.Sprint(get(run, "properties", "runErrorMessage")), "is not emulated") {
		t.Fatalf("run of the remote context: %v", run)
	}
	status, out = arm("POST", reg+"/scheduleRun", map[string]any{"type": "TaskRunRequest", "taskId": reg + "/tasks/docker-task", "agentPoolName": "pool1"})
	if status != 400 || get(out, "error", "code") != "AgentPoolNotFound" {
		t.Fatalf("run on a missing agent pool: %d %v", status, out)
	}
	if status, out := arm("PUT", reg+"/agentPools/pool1", map[string]any{"location": "eastus", "properties": map[string]any{"count": 1, "tier": "S1", "os": "Linux"}}); status != 201 {
		t.Fatalf("agent pool: %d %v", status, out)
	}
	status, out = arm("POST", reg+"/scheduleRun", map[string]any{"type": "TaskRunRequest", "taskId": reg + "/tasks/docker-task", "agentPoolName": "pool1",
		"overrideTaskStepProperties": map[string]any{"contextPath": src}})
	if run := waitRun(t, arm, reg, out); status != 200 || get(run, "properties", "status") != "Succeeded" || get(run, "properties", "agentPoolName") != "pool1" {
		t.Fatalf("run on the agent pool: %d %v", status, run)
	}
}
