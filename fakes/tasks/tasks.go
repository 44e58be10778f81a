// Package tasks simulates ACR Tasks as far as a registry can tell: tasks
// (registries/<r>/tasks/<name>) with a managed identity and registry credentials, runs started
// by scheduleRun (a task, inline task YAML, a task file in an uploaded context, or az acr
// build's DockerBuildRequest), and each run's steps acting on registries from ACR Tasks'
// Azure-service origin with the credentials the task names, or for its own registry the
// registry's run credential unless the source registry login mode is None. Runs go on after
// scheduleRun answers: Queued, Running, then Succeeded, Failed or Canceled, with a log that
// grows as they go.
//
// A task's step is a Docker build (a build of its context, then a push of its image names), a
// task file of its context, or inline task YAML (taskres.go). Limits: a run's steps are an ACR
// Tasks YAML subset. A `cmd` step pulls its image (as the agent does before starting the
// container) and runs nothing; a `build` step builds with the fakes/dockerfile subset (no
// RUN); a `push` step pushes what the run built. Triggers (base image, source, timer) are kept
// on a task but never start a run; an agent pool, which must exist, runs as any agent; remote
// (git, URL) contexts fail the run with a message that says so (az acr task run -c <dir>
// uploads one that works).
package tasks

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/storage"
	"github.com/acr-emulator/acr-emulator/fakes/armio"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
	"github.com/go-chi/chi/v5"
	"github.com/google/go-containerregistry/pkg/authn"
)

// maxRuns is how many runs a registry keeps, logs included.
const maxRuns = 1000

// LogAccount is the storage account that holds run logs and uploaded sources.
const LogAccount = "acrtasklogs"

// Registries tells the service about the emulator's registries.
type Registries interface {
	// LoginServer of the registry with this ARM id, or "" when there is none.
	LoginServer(registryID string) string
	// AgentPool tells whether the registry with this ARM id has the agent pool.
	AgentPool(registryID, name string) bool
}

// Service serves tasks, scheduleRun and runs of every registry.
type Service struct {
	p     platform.Platform
	regs  Registries
	blobs *storage.Store
	// AccountURL is the base URL of LogAccount to put in the links handed to the client that
	// made r (storage.AccountURL).
	AccountURL func(r *http.Request) string

	// runAuth is the registry's own run credential, what a run uses for its registry when
	// the task's source registry login mode is not None.
	runAuth authn.Authenticator

	// ctx ends with Close; runs in progress use it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	tasks      map[string]*task // by lowercase task ARM id
	runs       map[string][]*run
	seq        map[string]int    // run counter by lowercase registry id
	containers map[string]string // storage container by lowercase registry id
	sources    []storage.Ref     // issued upload links, oldest first
}

type task struct {
	res map[string]any // the ARM resource, credentials included (view renders it)
	ids platform.Identities
	sys armio.SystemData
}

type run struct {
	res  map[string]any
	log  *runLog
	done bool
	// archived is isArchiveEnabled (PATCH runs/<id>); sys the run's systemData.
	archived bool
	sys      armio.SystemData
	// cancel stops the run (az acr task cancel-run); canceled records that it was asked to.
	cancel   context.CancelFunc
	canceled bool
}

// New returns the service, keeping logs and sources in blobs' account LogAccount, which it
// creates.
func New(p platform.Platform, regs Registries, runAuth authn.Authenticator, blobs *storage.Store) *Service {
	ctx, cancel := context.WithCancel(context.Background())
	_ = blobs.AddAccount(LogAccount) // a constant, valid name
	return &Service{p: p, regs: regs, runAuth: runAuth, blobs: blobs, ctx: ctx, cancel: cancel, tasks: map[string]*task{}, runs: map[string][]*run{},
		seq: map[string]int{}, containers: map[string]string{},
		AccountURL: func(r *http.Request) string {
			return storage.AccountURL(LogAccount, r.Host, r.TLS != nil, false, "https://"+r.Host)
		}}
}

// Handler serves the registry-scoped Tasks paths (already authenticated and authorized by ARM,
// which hands over paths spelled as these routes are).
func (s *Service) Handler() http.Handler {
	r := chi.NewRouter()
	reg := "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/{reg}"
	r.Get(reg+"/tasks", s.listTasks)
	r.Put(reg+"/tasks/{task}", s.putTask)
	r.Patch(reg+"/tasks/{task}", s.patchTask)
	r.Get(reg+"/tasks/{task}", s.getTask(false))
	r.Post(reg+"/tasks/{task}/listDetails", s.getTask(true))
	r.Delete(reg+"/tasks/{task}", s.deleteTask)
	r.Post(reg+"/scheduleRun", s.scheduleRun)
	r.Get(reg+"/runs", s.listRuns)
	r.Get(reg+"/runs/{run}", s.getRun)
	r.Patch(reg+"/runs/{run}", s.patchRun)
	r.Post(reg+"/runs/{run}/listLogSasUrl", s.logLink)
	r.Post(reg+"/runs/{run}/cancel", s.cancelRun)
	r.Post(reg+"/listBuildSourceUploadUrl", s.sourceUploadURL)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		armio.Error(w, http.StatusNotFound, "NotFound", "The requested resource does not exist or is not supported by the emulator: "+r.Method+" "+r.URL.Path)
	})
	return r
}

func registryID(r *http.Request) string {
	id, _ := armid.Parse(r.URL.Path)
	return id.Resource(1).String()
}

// dockerBuildSteps is what a DockerBuildRequest (az acr build) runs: a build of the uploaded
// context, then a push of its image names when pushing is on.
func dockerBuildSteps(images []string, push bool, dockerfile, target string, args []argument) ([]action, error) {
	if target != "" {
		return nil, errors.New("--target (multi-stage builds) is not emulated")
	}
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	b := &buildSpec{tags: images, dockerfile: dockerfile, context: ".", args: map[string]string{}}
	for _, a := range args {
		b.args[a.Name] = a.Value
	}
	steps := []action{{id: "build", build: b}}
	if push && len(images) > 0 {
		steps = append(steps, action{id: "push", push: images})
	}
	return steps, nil
}

// step is one step of a task's YAML.
type step struct {
	Cmd   string `yaml:"cmd"`
	Build string `yaml:"build"`
	Push  any    `yaml:"push"`
	ID    string `yaml:"id"`
}

// checkedYAML decodes base64 task YAML and checks that it parses, so a bad task or run request
// is refused at once.
func checkedYAML(encoded string, values map[string]string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("encodedTaskContent is not base64: %v", err)
	}
	if _, err := parseTaskYAML(raw, taskTemplate{registry: "registry.azurecr.io", id: "ca0", values: values}); err != nil {
		return nil, err
	}
	return raw, nil
}

// scheduleRun queues a run of a task (TaskRunRequest), of inline task YAML
// (EncodedTaskRunRequest), of a task file in an uploaded source (FileTaskRunRequest) or of a
// Dockerfile (DockerBuildRequest), and answers it Queued; the run goes on in the background.
func (s *Service) scheduleRun(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Type               string         `json:"type"`
		TaskID             string         `json:"taskId"`
		TaskName           string         `json:"taskName"`
		EncodedTaskContent string         `json:"encodedTaskContent"`
		Credentials        map[string]any `json:"credentials"`
		SourceLocation     string         `json:"sourceLocation"`
		IsArchiveEnabled   bool           `json:"isArchiveEnabled"`
		AgentPoolName      string         `json:"agentPoolName"`
		Platform           map[string]any `json:"platform"`
		AgentConfiguration map[string]any `json:"agentConfiguration"`
		// TaskRunRequest: az acr task run -c <dir> uploads a context and names it here.
		OverrideTaskStepProperties overrides `json:"overrideTaskStepProperties"`
		// FileTaskRunRequest (az acr run -f acb.yaml <dir>): a task file in the uploaded source.
		TaskFilePath   string     `json:"taskFilePath"`
		ValuesFilePath string     `json:"valuesFilePath"`
		Values         []argument `json:"values"`
		// DockerBuildRequest (az acr build)
		ImageNames     []string   `json:"imageNames"`
		IsPushEnabled  bool       `json:"isPushEnabled"`
		DockerFilePath string     `json:"dockerFilePath"`
		Target         string     `json:"target"`
		Arguments      []argument `json:"arguments"`
	}
	if !armio.Decode(w, r, &b) {
		return
	}
	regID := registryID(r)
	login := s.regs.LoginServer(regID)
	if login == "" {
		armio.Error(w, http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.ContainerRegistry/registries/"+chi.URLParam(r, "reg")+"' was not found.")
		return
	}
	values := map[string]string{}
	for _, v := range b.Values {
		values[v.Name] = v.Value
	}
	var (
		plan     runPlan
		err      error
		taskName string
		taskKey  string // the task's, for what its runs record on it
		ids      platform.Identities
		creds    any = b.Credentials
	)
	switch b.Type {
	case "TaskRunRequest":
		tid := b.TaskID
		if tid == "" {
			tid = regID + "/tasks/" + b.TaskName
		}
		s.mu.Lock()
		t, ok := s.tasks[strings.ToLower(tid)]
		s.mu.Unlock()
		if !ok {
			armio.Error(w, http.StatusNotFound, "TaskNotFound", "The task '"+tid+"' was not found.")
			return
		}
		props := t.res["properties"].(map[string]any)
		plan, err = t.plan(b.OverrideTaskStepProperties, values)
		taskKey = strings.ToLower(tid)
		taskName, ids, creds = t.res["name"].(string), t.ids, props["credentials"]
		b.Platform, _ = props["platform"].(map[string]any)
		b.AgentConfiguration, _ = props["agentConfiguration"].(map[string]any)
		if b.AgentPoolName == "" {
			b.AgentPoolName, _ = props["agentPoolName"].(string)
		}
	case "EncodedTaskRunRequest":
		plan.taskYAML, err = checkedYAML(b.EncodedTaskContent, values)
	case "FileTaskRunRequest":
		// The agent reads the file from the source when the run starts: so does execute.
		plan.taskFile = b.TaskFilePath
		if plan.taskFile == "" {
			plan.taskFile = "acb.yaml" // az's default
		}
		switch {
		case b.SourceLocation == "":
			err = errors.New("a FileTaskRunRequest needs a sourceLocation: upload the context (az acr run -f acb.yaml <dir>)")
		case b.ValuesFilePath != "":
			err = errors.New("valuesFilePath is not emulated: pass values with --set")
		}
	case "DockerBuildRequest":
		plan.steps, err = dockerBuildSteps(b.ImageNames, b.IsPushEnabled, b.DockerFilePath, b.Target, b.Arguments)
	default:
		armio.Error(w, http.StatusBadRequest, "RunRequestNotSupported", fmt.Sprintf("run requests of type %q are not emulated: use TaskRunRequest, EncodedTaskRunRequest, FileTaskRunRequest or DockerBuildRequest.", b.Type))
		return
	}
	if err != nil {
		armio.Error(w, http.StatusBadRequest, "TaskStepInvalid", err.Error())
		return
	}
	if b.AgentPoolName != "" && !s.regs.AgentPool(regID, b.AgentPoolName) {
		agentPoolNotFound(w, b.AgentPoolName, chi.URLParam(r, "reg"))
		return
	}
	if b.SourceLocation != "" {
		plan.sourceLocation = b.SourceLocation
	}
	if b.Platform == nil {
		b.Platform = map[string]any{"os": "linux", "architecture": "amd64"}
	}
	if b.AgentConfiguration == nil {
		b.AgentConfiguration = map[string]any{"cpu": 2}
	}
	s.mu.Lock()
	s.seq[strings.ToLower(regID)]++
	runID := "ca" + strconv.Itoa(s.seq[strings.ToLower(regID)])
	s.mu.Unlock()

	spec := runSpec{id: runID, registry: regID, login: login, actions: plan.steps, taskYAML: plan.taskYAML, taskFile: plan.taskFile, ids: ids, creds: creds,
		sourceLocation: plan.sourceLocation, template: taskTemplate{registry: login, id: runID, task: taskName, values: values}}
	created := time.Now().UTC()
	rn := &run{archived: b.IsArchiveEnabled, sys: armio.Touch(armio.SystemData{}, r, false, created)}
	// res renders the run (called with s.mu held, or before the run is published); a
	// published map is never changed (readers encode it unlocked), each change publishes a
	// new one. Every run is a QuickRun, as Azure types the runs az schedules (triggers never
	// start one here).
	res := func(status string, extra map[string]any) map[string]any {
		now := time.Now().UTC().Format(time.RFC3339Nano)
		props := map[string]any{"runId": runID, "status": status, "runType": "QuickRun", "provisioningState": "Succeeded",
			"createTime": created.Format(time.RFC3339Nano), "lastUpdatedTime": now, "platform": b.Platform,
			"agentConfiguration": b.AgentConfiguration, "isArchiveEnabled": rn.archived}
		if taskName != "" {
			props["task"] = taskName
		}
		if b.AgentPoolName != "" {
			props["agentPoolName"] = b.AgentPoolName
		}
		for k, v := range extra {
			props[k] = v
		}
		return map[string]any{"id": regID + "/runs/" + runID, "name": runID, "type": "Microsoft.ContainerRegistry/registries/runs", "properties": props,
			"systemData": rn.sys}
	}
	log, err := s.newRunLog(regID, runID)
	if err != nil {
		armio.Error(w, http.StatusServiceUnavailable, "ServiceUnavailable", "The run's log cannot be kept: "+err.Error())
		return
	}
	ctx, cancel := context.WithCancel(s.ctx)
	rn.res, rn.log, rn.cancel = res("Queued", nil), log, cancel
	s.mu.Lock()
	if s.ctx.Err() != nil { // shutting down: no new run may start after Close waited
		s.mu.Unlock()
		cancel()
		armio.Error(w, http.StatusServiceUnavailable, "ServiceUnavailable", "The emulator is shutting down.")
		return
	}
	s.wg.Add(1)
	runs := append(s.runs[strings.ToLower(regID)], rn)
	var purged []*run
	if len(runs) > maxRuns { // bounded memory: the oldest runs go, with their logs, as ACR purges its run history
		purged, runs = runs[:len(runs)-maxRuns], runs[len(runs)-maxRuns:]
	}
	s.runs[strings.ToLower(regID)] = runs
	queued := rn.res
	s.mu.Unlock()
	for _, old := range purged {
		_ = s.blobs.Delete(old.log.ref)
	}

	// The run goes on after the answer, Queued then Running then Succeeded or Failed, as in
	// Azure; clients poll the run or stream its log.
	go func() {
		defer s.wg.Done()
		defer cancel()
		started := time.Now().UTC()
		s.mu.Lock()
		rn.res = res("Running", map[string]any{"startTime": started.Format(time.RFC3339Nano)})
		s.mu.Unlock()
		o := s.execute(ctx, spec, rn.log)
		extra := map[string]any{"startTime": started.Format(time.RFC3339Nano), "finishTime": time.Now().UTC().Format(time.RFC3339Nano)}
		s.mu.Lock()
		defer s.mu.Unlock()
		status := "Succeeded"
		switch {
		case rn.canceled && o.err != nil: // a run that ended anyway keeps its outcome
			status = "Canceled"
		case o.err != nil:
			status = "Failed"
			extra["runErrorMessage"] = o.err.Error()
		}
		if len(o.outputs) > 0 {
			extra["outputImages"] = o.outputs
		}
		if status == "Succeeded" && taskKey != "" && len(o.bases) > 0 {
			s.recordBases(taskKey, o.bases)
		}
		rn.res, rn.done = res(status, extra), true
		rn.log.complete(status)
	}()
	armio.WriteJSON(w, http.StatusOK, queuedView(queued))
}

// queuedView is scheduleRun's answer, as ACR writes it: the run's id, status and times,
// before the agent has it.
func queuedView(res map[string]any) map[string]any {
	props := res["properties"].(map[string]any)
	out := map[string]any{"id": res["id"], "name": res["name"], "type": res["type"], "properties": map[string]any{}}
	for _, k := range []string{"runId", "status", "lastUpdatedTime", "provisioningState", "isArchiveEnabled"} {
		out["properties"].(map[string]any)[k] = props[k]
	}
	sys := res["systemData"].(armio.SystemData)
	out["systemData"] = armio.SystemData{LastModifiedBy: sys.LastModifiedBy, LastModifiedByType: sys.LastModifiedByType, LastModifiedAt: sys.LastModifiedAt}
	return out
}

// findRun finds a registry's run by id (nil when there is none).
func (s *Service) findRun(registryID, runID string) *run {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rn := range s.runs[strings.ToLower(registryID)] {
		if strings.EqualFold(rn.res["name"].(string), runID) {
			return rn
		}
	}
	return nil
}

// cancelRun stops a run that has not ended (az acr task cancel-run); it ends Canceled. A run
// that has ended stays as it is (ACR's answer there is not recorded; 200 lets clients go on).
func (s *Service) cancelRun(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rn := range s.runs[strings.ToLower(registryID(r))] {
		if strings.EqualFold(rn.res["name"].(string), chi.URLParam(r, "run")) {
			if !rn.done {
				rn.canceled = true
				rn.cancel()
			}
			w.WriteHeader(http.StatusOK)
			return
		}
	}
	armio.Error(w, http.StatusNotFound, "RunNotFound", "The run '"+chi.URLParam(r, "run")+"' was not found.")
}

// Close stops runs in progress and waits for them.
func (s *Service) Close() {
	s.mu.Lock()
	s.cancel()
	s.mu.Unlock()
	s.wg.Wait()
}

// patchRun answers PATCH runs/<id> (az acr task update-run --no-archive false): it sets
// isArchiveEnabled and, as the recording shows, writes the run's systemData anew, created by
// the caller now.
func (s *Service) patchRun(w http.ResponseWriter, r *http.Request) {
	var b struct {
		IsArchiveEnabled *bool `json:"isArchiveEnabled"`
	}
	if !armio.Decode(w, r, &b) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rn := range s.runs[strings.ToLower(registryID(r))] {
		if !strings.EqualFold(rn.res["name"].(string), chi.URLParam(r, "run")) {
			continue
		}
		if b.IsArchiveEnabled != nil {
			rn.archived = *b.IsArchiveEnabled
		}
		now := time.Now().UTC()
		rn.sys = armio.Touch(armio.SystemData{}, r, true, now)
		res := maps.Clone(rn.res)
		props := maps.Clone(res["properties"].(map[string]any))
		props["isArchiveEnabled"], props["lastUpdatedTime"] = rn.archived, now.Format(time.RFC3339Nano)
		res["properties"], res["systemData"] = props, rn.sys
		rn.res = res
		armio.WriteJSON(w, http.StatusOK, res)
		return
	}
	armio.Error(w, http.StatusNotFound, "RunNotFound", "The run '"+chi.URLParam(r, "run")+"' was not found.")
}

func (s *Service) getRun(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rn := range s.runs[strings.ToLower(registryID(r))] {
		if strings.EqualFold(rn.res["name"].(string), chi.URLParam(r, "run")) {
			armio.WriteJSON(w, http.StatusOK, rn.res)
			return
		}
	}
	armio.Error(w, http.StatusNotFound, "RunNotFound", "The run '"+chi.URLParam(r, "run")+"' was not found.")
}

// listRuns answers GET runs with $filter (az acr task list-runs --name/--run-status/--image,
// az acr task logs --name) and $top.
func (s *Service) listRuns(w http.ResponseWriter, r *http.Request) {
	filter, err := parseRunFilter(r.URL.Query().Get("$filter"))
	if err != nil {
		armio.Error(w, http.StatusBadRequest, "InvalidFilter", err.Error())
		return
	}
	top := maxRuns
	if v := r.URL.Query().Get("$top"); v != "" {
		if top, err = strconv.Atoi(v); err != nil || top < 1 {
			armio.Error(w, http.StatusBadRequest, "InvalidTop", "The value '"+v+"' of $top is not valid: use a positive integer.")
			return
		}
	}
	s.mu.Lock()
	runs := s.runs[strings.ToLower(registryID(r))]
	out := make([]map[string]any, 0, min(len(runs), top))
	for i := len(runs) - 1; i >= 0 && len(out) < top; i-- { // newest first, as az acr task list-runs shows
		if filter.match(runs[i].res["properties"].(map[string]any)) {
			out = append(out, runs[i].res)
		}
	}
	s.mu.Unlock()
	armio.WriteJSON(w, http.StatusOK, map[string]any{"value": out})
}
