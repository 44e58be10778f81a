// Package tasks simulates ACR Tasks as far as a registry can tell: tasks
// (registries/<r>/tasks/<name>) with a managed identity and registry credentials, runs started
// by scheduleRun, and each run's steps acting on registries from ACR Tasks' Azure-service
// origin with the credentials the task names.
//
// Limits: a run's steps are an ACR Tasks YAML subset. A `cmd` step pulls its image (as the
// agent does before starting the container) and runs nothing; `build` and `push` steps, source
// contexts (az acr build, DockerBuildRequest), triggers, timers and agent pools are not
// emulated and fail the run or the request with a message that says so. The default source
// registry credential (auth mode Default) is treated as None: give the task an identity and a
// customRegistries credential, as the trusted-services workflow does.
package tasks

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/acr-emulator/acr-emulator/fakes/acrclient"
	"github.com/acr-emulator/acr-emulator/fakes/armio"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
	"github.com/go-chi/chi/v5"
	"github.com/goccy/go-yaml"
)

const service = "tasks"

// maxRuns is how many runs a registry keeps, logs included.
const maxRuns = 1000

// LogAccount is the storage account name in run log links; requests for
// <LogAccount>.blob.<anything> go to LogBlobs.
const LogAccount = "acrtasklogs"

// Registries tells the service about the emulator's registries.
type Registries interface {
	// LoginServer of the registry with this ARM id, or "" when there is none.
	LoginServer(registryID string) string
}

// Service serves tasks, scheduleRun and runs of every registry.
type Service struct {
	p    platform.Platform
	regs Registries
	// LogHost is the host[:port] of the storage account that serves run logs
	// (LogAccount.blob.<something>), as listLogSasUrl links name it.
	LogHost func() string

	mu    sync.Mutex
	tasks map[string]*task // by lowercase task ARM id
	runs  map[string][]*run
	seq   map[string]int // run counter by lowercase registry id
}

type task struct {
	res map[string]any // the ARM resource as answered
	ids platform.Identities
}

type run struct {
	res map[string]any
	log string
}

// New returns the service.
func New(p platform.Platform, regs Registries) *Service {
	return &Service{p: p, regs: regs, tasks: map[string]*task{}, runs: map[string][]*run{}, seq: map[string]int{}}
}

// Handler serves the registry-scoped Tasks paths (already authenticated and authorized).
func (s *Service) Handler() http.Handler {
	r := chi.NewRouter()
	for _, rgs := range []string{"resourceGroups", "resourcegroups"} {
		reg := "/subscriptions/{sub}/" + rgs + "/{rg}/providers/Microsoft.ContainerRegistry/registries/{reg}"
		r.Get(reg+"/tasks", s.listTasks)
		r.Put(reg+"/tasks/{task}", s.putTask)
		r.Patch(reg+"/tasks/{task}", s.patchTask)
		r.Get(reg+"/tasks/{task}", s.getTask)
		r.Post(reg+"/tasks/{task}/listDetails", s.getTask)
		r.Delete(reg+"/tasks/{task}", s.deleteTask)
		r.Post(reg+"/scheduleRun", s.scheduleRun)
		r.Get(reg+"/runs", s.listRuns)
		r.Get(reg+"/runs/{run}", s.getRun)
		r.Post(reg+"/runs/{run}/listLogSasUrl", s.logLink)
	}
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		armio.Error(w, http.StatusNotFound, "NotFound", "The requested resource does not exist or is not supported by the emulator: "+r.Method+" "+r.URL.Path)
	})
	return r
}

func registryID(r *http.Request) string {
	return "/subscriptions/" + chi.URLParam(r, "sub") + "/resourceGroups/" + chi.URLParam(r, "rg") +
		"/providers/Microsoft.ContainerRegistry/registries/" + chi.URLParam(r, "reg")
}

type taskBody struct {
	Location string         `json:"location"`
	Tags     map[string]any `json:"tags"`
	Identity *struct {
		Type                   string         `json:"type"`
		UserAssignedIdentities map[string]any `json:"userAssignedIdentities"`
	} `json:"identity"`
	Properties map[string]any `json:"properties"`
}

func (s *Service) putTask(w http.ResponseWriter, r *http.Request) {
	var b taskBody
	if !armio.Decode(w, r, &b) {
		return
	}
	s.saveTask(w, r, b, nil)
}

// patchTask merges properties (az acr task update and credential add send partial bodies).
func (s *Service) patchTask(w http.ResponseWriter, r *http.Request) {
	var b taskBody
	if !armio.Decode(w, r, &b) {
		return
	}
	s.mu.Lock()
	t, ok := s.tasks[strings.ToLower(registryID(r)+"/tasks/"+chi.URLParam(r, "task"))]
	s.mu.Unlock()
	if !ok {
		s.notFound(w, r)
		return
	}
	s.saveTask(w, r, b, t)
}

func (s *Service) saveTask(w http.ResponseWriter, r *http.Request, b taskBody, old *task) {
	regID := registryID(r)
	if s.regs.LoginServer(regID) == "" {
		armio.Error(w, http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.ContainerRegistry/registries/"+chi.URLParam(r, "reg")+"' was not found.")
		return
	}
	id := regID + "/tasks/" + chi.URLParam(r, "task")
	props := map[string]any{}
	var ident map[string]any
	if old != nil {
		props = old.res["properties"].(map[string]any)
		ident, _ = old.res["identity"].(map[string]any)
		if b.Location == "" {
			b.Location, _ = old.res["location"].(string)
		}
	}
	for k, v := range b.Properties {
		if k == "credentials" {
			props[k] = mergeCredentials(props[k], v)
			continue
		}
		props[k] = v
	}
	if step, _ := props["step"].(map[string]any); step != nil {
		if _, err := taskSteps(step); err != nil {
			armio.Error(w, http.StatusBadRequest, "TaskStepInvalid", err.Error())
			return
		}
	} else {
		armio.Error(w, http.StatusBadRequest, "TaskStepInvalid", "properties.step is required.")
		return
	}
	system, user := false, []string{}
	if b.Identity != nil {
		system = strings.Contains(strings.ToLower(b.Identity.Type), "systemassigned")
		for uid := range b.Identity.UserAssignedIdentities {
			user = append(user, uid)
		}
		ident = map[string]any{"type": b.Identity.Type}
	} else if old != nil {
		system = old.ids.System != nil
		for uid := range old.ids.User {
			user = append(user, uid)
		}
	}
	ids, err := s.p.Attach(id, system, user)
	if err != nil {
		armio.Error(w, http.StatusBadRequest, "InvalidIdentity", err.Error())
		return
	}
	if ident != nil {
		ident["tenantId"] = s.p.TenantID()
		if ids.System != nil {
			ident["principalId"] = ids.System.PrincipalID
		}
		if len(ids.User) > 0 {
			ua := map[string]any{}
			for uid, u := range ids.User {
				ua[uid] = map[string]string{"principalId": u.PrincipalID, "clientId": u.ClientID}
			}
			ident["userAssignedIdentities"] = ua
		}
	}
	props["provisioningState"] = "Succeeded"
	if props["status"] == nil {
		props["status"] = "Enabled"
	}
	if props["platform"] == nil {
		props["platform"] = map[string]any{"os": "linux", "architecture": "amd64"}
	}
	if props["timeout"] == nil {
		props["timeout"] = 3600
	}
	if props["creationDate"] == nil {
		props["creationDate"] = time.Now().UTC().Format(time.RFC3339Nano)
	}
	res := map[string]any{"id": id, "name": chi.URLParam(r, "task"), "type": "Microsoft.ContainerRegistry/registries/tasks",
		"location": b.Location, "properties": props}
	if b.Tags != nil {
		res["tags"] = b.Tags
	}
	if ident != nil {
		res["identity"] = ident
	}
	s.mu.Lock()
	s.tasks[strings.ToLower(id)] = &task{res: res, ids: ids}
	s.mu.Unlock()
	// 200 on creation too: az acr task create prints the task only for a 200 (it works around
	// an SDK bug and returns the raw response on other codes), so ACR must answer 200.
	armio.WriteJSON(w, http.StatusOK, res)
}

// mergeCredentials adds or replaces custom registry credentials by login server; a null
// entry removes one (az acr task credential remove).
func mergeCredentials(old, upd any) any {
	o, _ := old.(map[string]any)
	u, _ := upd.(map[string]any)
	if o == nil || u == nil {
		return upd
	}
	out := map[string]any{}
	for k, v := range o {
		out[k] = v
	}
	for k, v := range u {
		if k != "customRegistries" {
			out[k] = v
			continue
		}
		regs := map[string]any{}
		if prev, ok := o[k].(map[string]any); ok {
			for s, c := range prev {
				regs[s] = c
			}
		}
		nv, _ := v.(map[string]any)
		for s, c := range nv {
			if c == nil {
				delete(regs, s)
			} else {
				regs[s] = c
			}
		}
		out[k] = regs
	}
	return out
}

func (s *Service) notFound(w http.ResponseWriter, r *http.Request) {
	armio.Error(w, http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.ContainerRegistry/registries/"+chi.URLParam(r, "reg")+
		"/tasks/"+chi.URLParam(r, "task")+"' under resource group '"+chi.URLParam(r, "rg")+"' was not found.")
}

func (s *Service) getTask(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	t, ok := s.tasks[strings.ToLower(registryID(r)+"/tasks/"+chi.URLParam(r, "task"))]
	s.mu.Unlock()
	if !ok {
		s.notFound(w, r)
		return
	}
	armio.WriteJSON(w, http.StatusOK, t.res)
}

func (s *Service) listTasks(w http.ResponseWriter, r *http.Request) {
	prefix := strings.ToLower(registryID(r) + "/tasks/")
	s.mu.Lock()
	out := []map[string]any{}
	for id, t := range s.tasks {
		if strings.HasPrefix(id, prefix) {
			out = append(out, t.res)
		}
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i]["name"].(string) < out[j]["name"].(string) })
	armio.WriteJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (s *Service) deleteTask(w http.ResponseWriter, r *http.Request) {
	id := registryID(r) + "/tasks/" + chi.URLParam(r, "task")
	s.mu.Lock()
	_, ok := s.tasks[strings.ToLower(id)]
	delete(s.tasks, strings.ToLower(id))
	s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if err := s.p.Detach(id); err != nil {
		armio.Error(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	w.WriteHeader(http.StatusOK)
}

// step is one step of a task's YAML.
type step struct {
	Cmd   string `yaml:"cmd"`
	Build string `yaml:"build"`
	Push  any    `yaml:"push"`
	ID    string `yaml:"id"`
}

// taskSteps decodes an EncodedTask step's YAML.
func taskSteps(st map[string]any) ([]step, error) {
	typ, _ := st["type"].(string)
	if !strings.EqualFold(typ, "EncodedTask") {
		return nil, fmt.Errorf("step type %q is not emulated: use an EncodedTask step (ACR Tasks YAML with cmd steps).", typ)
	}
	content, _ := st["encodedTaskContent"].(string)
	return parseSteps(content)
}

func parseSteps(encoded string) ([]step, error) {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("encodedTaskContent is not base64: %v", err)
	}
	var doc struct {
		Version string `yaml:"version"`
		Steps   []step `yaml:"steps"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("the task YAML is invalid: %v", err)
	}
	if len(doc.Steps) == 0 {
		return nil, errors.New("the task YAML has no steps.")
	}
	return doc.Steps, nil
}

// scheduleRun runs a task (TaskRunRequest) or an inline one (EncodedTaskRunRequest) to its end
// and answers the finished run, which a poller takes as the operation's result.
func (s *Service) scheduleRun(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Type               string         `json:"type"`
		TaskID             string         `json:"taskId"`
		TaskName           string         `json:"taskName"`
		EncodedTaskContent string         `json:"encodedTaskContent"`
		Credentials        map[string]any `json:"credentials"`
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
	var (
		steps    []step
		err      error
		taskName string
		ids      platform.Identities
		creds    any
		runType  = "QuickRun"
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
		steps, err = taskSteps(props["step"].(map[string]any))
		taskName, ids, creds, runType = t.res["name"].(string), t.ids, props["credentials"], "AutoRun"
	case "EncodedTaskRunRequest":
		steps, err = parseSteps(b.EncodedTaskContent)
		creds = b.Credentials
	default:
		armio.Error(w, http.StatusBadRequest, "RunRequestNotSupported", fmt.Sprintf("run requests of type %q are not emulated: use TaskRunRequest or EncodedTaskRunRequest.", b.Type))
		return
	}
	if err != nil {
		armio.Error(w, http.StatusBadRequest, "TaskStepInvalid", err.Error())
		return
	}
	s.mu.Lock()
	s.seq[strings.ToLower(regID)]++
	runID := "ca" + strconv.Itoa(s.seq[strings.ToLower(regID)])
	s.mu.Unlock()

	start := time.Now().UTC()
	log, runErr := s.execute(r.Context(), runID, login, steps, ids, creds)
	status, props := "Succeeded", map[string]any{}
	if runErr != nil {
		status = "Failed"
		props["runErrorMessage"] = runErr.Error()
	}
	end := time.Now().UTC()
	for k, v := range map[string]any{"runId": runID, "status": status, "runType": runType, "provisioningState": "Succeeded",
		"createTime": start.Format(time.RFC3339Nano), "startTime": start.Format(time.RFC3339Nano), "finishTime": end.Format(time.RFC3339Nano),
		"lastUpdatedTime": end.Format(time.RFC3339Nano), "platform": map[string]string{"os": "linux", "architecture": "amd64"},
		"agentConfiguration": map[string]int{"cpu": 2}, "isArchiveEnabled": false} {
		props[k] = v
	}
	if taskName != "" {
		props["task"] = taskName
	}
	res := map[string]any{"id": regID + "/runs/" + runID, "name": runID, "type": "Microsoft.ContainerRegistry/registries/runs", "properties": props}
	s.mu.Lock()
	runs := append(s.runs[strings.ToLower(regID)], &run{res: res, log: log})
	if len(runs) > maxRuns { // bounded memory: the oldest runs go, as ACR purges its run history
		runs = runs[len(runs)-maxRuns:]
	}
	s.runs[strings.ToLower(regID)] = runs
	s.mu.Unlock()
	armio.WriteJSON(w, http.StatusOK, res)
}

// execute runs the steps in order and returns the run log, written like the agent's.
func (s *Service) execute(ctx context.Context, runID, login string, steps []step, ids platform.Identities, creds any) (string, error) {
	start := time.Now()
	var log strings.Builder
	logf := func(format string, a ...any) {
		fmt.Fprintf(&log, "%s %s\n", time.Now().UTC().Format("2006/01/02 15:04:05"), fmt.Sprintf(format, a...))
	}
	fail := func(err error) (string, error) {
		fmt.Fprintf(&log, "Run ID: %s failed after %ds. Error: failed during run, err: exit status 1\nRun failed\n", runID, int(time.Since(start).Seconds()))
		return log.String(), err
	}
	logf("Alias support enabled for version >= 1.1.0, please see https://aka.ms/acr/tasks/task-aliases for more information.")
	replacer := strings.NewReplacer("{{.Run.Registry}}", login, "$Registry", login, "{{.Run.ID}}", runID, "$ID", runID)
	for i, st := range steps {
		name := st.ID
		if name == "" {
			name = "acb_step_" + strconv.Itoa(i)
		}
		fields := strings.Fields(replacer.Replace(st.Cmd))
		if len(fields) == 0 {
			return fail(fmt.Errorf("step %s: only cmd steps with an image are emulated (build and push are not)", name))
		}
		image := fields[0]
		server := image[:max(strings.Index(image, "/"), 0)]
		client, credential, err := s.client(server, ids, creds)
		if err != nil {
			logf("%v", err)
			return fail(fmt.Errorf("step %s: %v", name, err))
		}
		logf("Executing step ID: %s. Timeout(sec): 600, Working directory: '', Network: 'acb_default_network'", name)
		if credential != "" {
			logf("Logging in to registry: %s (%s)", server, credential)
		}
		logf("Launching container with name: %s", name)
		pull := client.Pull
		if credential == "" {
			pull = client.PullAnonymous
		}
		digest, err := pull(ctx, image)
		if err != nil {
			fmt.Fprintf(&log, "Unable to find image '%s' locally\nError response from daemon: %s\n", image, pullMessage(err))
			return fail(fmt.Errorf("step %s: pulling %s: %s", name, image, pullMessage(err)))
		}
		fmt.Fprintf(&log, "%s: Pulling from %s\nDigest: %s\nStatus: Downloaded newer image for %s\n", image, image, digest, image)
		logf("Successfully executed container: %s (the emulator pulls the image and runs nothing)", name)
	}
	fmt.Fprintf(&log, "Run ID: %s was successful after %ds\n", runID, int(time.Since(start).Seconds()))
	return log.String(), nil
}

func pullMessage(err error) string {
	var e *acrclient.Error
	if errors.As(err, &e) {
		if e.Code == "DENIED" {
			return "denied: " + e.Message
		}
		return strings.ToLower(e.Code) + ": " + e.Message
	}
	return err.Error()
}

// client picks the credential the run uses for a registry: a customRegistries entry with an
// identity ("[system]" or a user-assigned identity's client id), or none.
func (s *Service) client(server string, ids platform.Identities, creds any) (*acrclient.Client, string, error) {
	c, _ := creds.(map[string]any)
	regs, _ := c["customRegistries"].(map[string]any)
	var ident string
	for k, v := range regs {
		if strings.EqualFold(k, server) {
			entry, _ := v.(map[string]any)
			ident, _ = entry["identity"].(string)
		}
	}
	if ident == "" {
		return &acrclient.Client{Transport: s.p.Transport(service, false)}, "", nil
	}
	identity := acrclient.Identity{Endpoint: s.p.IdentityEndpoint(), Header: ids.Header}
	if ident == "[system]" {
		if ids.System == nil {
			return nil, "", fmt.Errorf("the credential for %s uses the task's system-assigned identity, which the task does not have", server)
		}
	} else {
		u := ids.UserIdentity(ident)
		if u == nil {
			return nil, "", fmt.Errorf("the identity %s for %s is not assigned to the task", ident, server)
		}
		identity.ClientID = u.ClientID
	}
	return &acrclient.Client{Transport: s.p.Transport(service, identity.ClientID == ""), Identity: identity}, ident, nil
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

func (s *Service) listRuns(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	runs := s.runs[strings.ToLower(registryID(r))]
	out := make([]map[string]any, 0, len(runs))
	for i := len(runs) - 1; i >= 0; i-- { // newest first, as az acr task list-runs shows
		out = append(out, runs[i].res)
	}
	s.mu.Unlock()
	armio.WriteJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (s *Service) logLink(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.logAndStatus(registryID(r), chi.URLParam(r, "run")); !ok {
		armio.Error(w, http.StatusNotFound, "RunNotFound", "The run '"+chi.URLParam(r, "run")+"' was not found.")
		return
	}
	// The shape az acr task logs parses: https://<account>.blob.<suffix>/<container>/<blob>?<sas>.
	link := "https://" + s.LogHost() + "/logs/" + chi.URLParam(r, "sub") + "/" + chi.URLParam(r, "rg") + "/" + chi.URLParam(r, "reg") + "/" +
		chi.URLParam(r, "run") + "/rawtext.log?sv=2019-07-07&sr=b&sp=r&sig=acr-emulator"
	armio.WriteJSON(w, http.StatusOK, map[string]string{"logLink": link})
}

// LogBlobs serves run logs the way Azure Storage serves the append blobs ACR Tasks writes,
// as far as log readers go: HEAD for the length and the Complete metadata (the run's outcome,
// which az acr task run turns into its exit status), GET with x-ms-range or Range.
func (s *Service) LogBlobs() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		var log, status string
		var ok bool
		if len(parts) == 6 && parts[0] == "logs" && parts[5] == "rawtext.log" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			regID := "/subscriptions/" + parts[1] + "/resourceGroups/" + parts[2] + "/providers/Microsoft.ContainerRegistry/registries/" + parts[3]
			log, status, ok = s.logAndStatus(regID, parts[4])
		}
		w.Header().Set("x-ms-version", "2019-07-07")
		if !ok {
			w.Header().Set("x-ms-error-code", "BlobNotFound")
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotFound)
			if r.Method == http.MethodGet {
				_, _ = io.WriteString(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>BlobNotFound</Code><Message>The specified blob does not exist.</Message></Error>`)
			}
			return
		}
		w.Header().Set("x-ms-blob-type", "AppendBlob")
		w.Header().Set("x-ms-meta-Complete", status)
		w.Header().Set("ETag", fmt.Sprintf(`"0x%X"`, len(log)))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rng := r.Header.Get("x-ms-range")
		if rng == "" {
			rng = r.Header.Get("Range")
		}
		start, end, ranged := parseRange(rng, len(log))
		if ranged && start >= len(log) {
			w.Header().Set("x-ms-error-code", "InvalidRange")
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(log)))
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		body, code := log, http.StatusOK
		if ranged {
			body, code = log[start:end+1], http.StatusPartialContent
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, len(log)))
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(code)
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, body)
		}
	})
}

// parseRange reads "bytes=start-end" (end optional, clamped to the blob).
func parseRange(h string, size int) (start, end int, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found {
		return 0, 0, false
	}
	a, b, _ := strings.Cut(spec, "-")
	start, err := strconv.Atoi(a)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	end = size - 1
	if e, err := strconv.Atoi(b); err == nil && e < end {
		end = e
	}
	return start, end, true
}

// logAndStatus returns a run's log and its outcome as the Complete metadata names it.
func (s *Service) logAndStatus(registryID, runID string) (string, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rn := range s.runs[strings.ToLower(registryID)] {
		if strings.EqualFold(rn.res["name"].(string), runID) {
			status := "successful"
			if p := rn.res["properties"].(map[string]any); p["status"] != "Succeeded" {
				status = "failed"
			}
			return rn.log, status, true
		}
	}
	return "", "", false
}
