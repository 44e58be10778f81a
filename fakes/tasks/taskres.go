package tasks

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/fakes/armio"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
	"github.com/go-chi/chi/v5"
)

// The task resource (registries/<r>/tasks/<name>, api-version 2019-06-01-preview as az uses
// it), shaped as the az CLI's recording (test_acr_task) shows it:
//   - PUT answers 200 on creation too; PATCH merges its body into the task, object by object
//     (a partial step keeps the step's other fields), a null removing a field;
//   - GET, PUT and PATCH write each custom registry's credentials as null and listDetails
//     writes them whole; an empty credentials block is left out;
//   - the step is a Docker build (DockerBuildStep), a task file in the context (FileTaskStep)
//     or inline task YAML (EncodedTaskStep); creation checks the step's shape, not what a run
//     would make of it (Azure accepts "steps:\n  - build:" and fails the run);
//   - agentPoolName must name an agent pool of the registry (the refusal's text is
//     UNCONFIRMED);
//   - systemData records who created and last changed the task.

type taskBody struct {
	Location   string          `json:"location"`
	Tags       map[string]any  `json:"tags"`
	Identity   *armio.Identity `json:"identity"`
	Properties map[string]any  `json:"properties"`
}

func (s *Service) putTask(w http.ResponseWriter, r *http.Request) {
	var b taskBody
	if !armio.Decode(w, r, &b) {
		return
	}
	s.saveTask(w, r, b, s.lookupTask(r), false)
}

// patchTask merges properties (az acr task update and credential add send partial bodies).
func (s *Service) patchTask(w http.ResponseWriter, r *http.Request) {
	var b taskBody
	if !armio.Decode(w, r, &b) {
		return
	}
	t := s.lookupTask(r)
	if t == nil {
		s.notFound(w, r)
		return
	}
	s.saveTask(w, r, b, t, true)
}

func (s *Service) lookupTask(r *http.Request) *task {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tasks[strings.ToLower(registryID(r)+"/tasks/"+chi.URLParam(r, "task"))]
}

func (s *Service) saveTask(w http.ResponseWriter, r *http.Request, b taskBody, old *task, patch bool) {
	regID := registryID(r)
	if s.regs.LoginServer(regID) == "" {
		armio.Error(w, http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.ContainerRegistry/registries/"+chi.URLParam(r, "reg")+"' was not found.")
		return
	}
	id := regID + "/tasks/" + chi.URLParam(r, "task")
	props := map[string]any{}
	var ident map[string]any
	var sys armio.SystemData
	if old != nil {
		sys = old.sys
		if patch {
			props = maps.Clone(old.res["properties"].(map[string]any))
			ident, _ = old.res["identity"].(map[string]any)
			if b.Location == "" {
				b.Location, _ = old.res["location"].(string)
			}
			if b.Tags == nil {
				b.Tags, _ = old.res["tags"].(map[string]any)
			}
		} else {
			props["creationDate"] = old.res["properties"].(map[string]any)["creationDate"]
		}
	}
	for k, v := range b.Properties {
		switch {
		case k == "credentials":
			props[k] = mergeCredentials(props[k], v)
		case v == nil:
			delete(props, k)
		case k == "step" && !sameStepType(props[k], v):
			props[k] = v // another kind of step replaces the old one
		default:
			props[k] = mergeJSON(props[k], v)
		}
	}
	step, err := checkStep(props["step"])
	if err != nil {
		armio.Error(w, http.StatusBadRequest, "TaskStepInvalid", err.Error())
		return
	}
	props["step"] = step
	if pool, _ := props["agentPoolName"].(string); pool != "" && !s.regs.AgentPool(regID, pool) {
		agentPoolNotFound(w, pool, chi.URLParam(r, "reg"))
		return
	}
	system, user := b.Identity.Assigned()
	if b.Identity != nil {
		ident = map[string]any{"type": b.Identity.Type}
	} else if old != nil {
		system = old.ids.System != nil
		for uid := range old.ids.User {
			user = append(user, uid)
		}
	}
	ids, err := s.p.Attach(r.Context(), "Microsoft.ContainerRegistry/registries/tasks", id, system, user)
	if err != nil {
		platform.WriteError(w, err)
		return
	}
	if ident != nil {
		ident = ids.JSON(ident["type"].(string), s.p.TenantID())
	}
	now := time.Now().UTC()
	props["provisioningState"] = "Succeeded"
	for k, v := range map[string]any{"status": "Enabled", "platform": map[string]any{"os": "linux", "architecture": "amd64"},
		"timeout": 3600, "isSystemTask": false,
		"creationDate": now.Format("2006-01-02T15:04:05.0000000+00:00")} {
		if props[k] == nil {
			props[k] = v
		}
	}
	// No agentConfiguration is made up for a task created without one (az always sends its
	// --cpu, 2 by default; the azurerm provider reads one back as a block its config lacks).
	if ac, ok := props["agentConfiguration"].(map[string]any); ok && ac["cpu"] == nil {
		props["agentConfiguration"] = mergeJSON(ac, map[string]any{"cpu": 2})
	}
	res := map[string]any{"id": id, "name": chi.URLParam(r, "task"), "type": "Microsoft.ContainerRegistry/registries/tasks",
		"location": b.Location, "properties": props}
	if b.Tags != nil {
		res["tags"] = b.Tags
	}
	if ident != nil {
		res["identity"] = ident
	}
	t := &task{res: res, ids: ids, sys: armio.Touch(sys, r, old == nil, now)}
	s.mu.Lock()
	s.tasks[strings.ToLower(id)] = t
	s.mu.Unlock()
	// 200 on creation too: az acr task create prints the task only for a 200 (it works around
	// an SDK bug and returns the raw response on other codes), so ACR must answer 200.
	armio.WriteJSON(w, http.StatusOK, t.view(false))
}

// agentPoolNotFound refuses a task or run that names an agent pool the registry lacks.
func agentPoolNotFound(w http.ResponseWriter, pool, registry string) {
	armio.Error(w, http.StatusBadRequest, "AgentPoolNotFound", "The agent pool '"+pool+"' was not found in registry '"+registry+
		"'. Create it first (az acr agentpool create).")
}

// view renders a task as answered: with its custom registries' credentials (listDetails) or
// with each of them null (GET, PUT, PATCH, list).
func (t *task) view(details bool) map[string]any {
	out := maps.Clone(t.res)
	props := maps.Clone(t.res["properties"].(map[string]any))
	out["properties"], out["systemData"] = props, t.sys
	creds, _ := props["credentials"].(map[string]any)
	switch {
	case len(creds) == 0:
		delete(props, "credentials")
	case !details:
		creds = maps.Clone(creds)
		if regs, ok := creds["customRegistries"].(map[string]any); ok {
			hidden := map[string]any{}
			for server := range regs {
				hidden[server] = nil
			}
			creds["customRegistries"] = hidden
		}
		props["credentials"] = creds
	}
	return out
}

// mergeJSON merges a PATCH's value into the old one: objects key by key (a null removes a
// key), anything else replaced.
func mergeJSON(old, upd any) any {
	o, ok1 := old.(map[string]any)
	u, ok2 := upd.(map[string]any)
	if !ok1 || !ok2 {
		return upd
	}
	out := maps.Clone(o)
	for k, v := range u {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = mergeJSON(o[k], v)
	}
	return out
}

func sameStepType(old, upd any) bool {
	o, _ := old.(map[string]any)
	u, _ := upd.(map[string]any)
	ot, _ := o["type"].(string)
	ut, _ := u["type"].(string)
	return o != nil && u != nil && strings.EqualFold(ot, ut)
}

// mergeCredentials adds or replaces custom registry credentials by login server; a null
// entry removes one (az acr task credential remove).
func mergeCredentials(old, upd any) any {
	o, _ := old.(map[string]any)
	u, _ := upd.(map[string]any)
	if o == nil || u == nil {
		return upd
	}
	out := maps.Clone(o)
	for k, v := range u {
		if k != "customRegistries" {
			out[k] = v
			continue
		}
		regs := map[string]any{}
		if prev, ok := o[k].(map[string]any); ok {
			maps.Copy(regs, prev)
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

// stepTypes are the task step types of ACR Tasks, by their lowercase spelling.
var stepTypes = map[string]string{"docker": "Docker", "filetask": "FileTask", "encodedtask": "EncodedTask"}

// checkStep checks a task step's shape and fills in ACR's defaults: a Docker step's
// Dockerfile (Dockerfile), push (on), cache (used) and arguments (none); a step's values (none).
func checkStep(v any) (map[string]any, error) {
	st, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("properties.step is required.")
	}
	st = maps.Clone(st)
	typ, _ := st["type"].(string)
	canon, ok := stepTypes[strings.ToLower(typ)]
	if !ok {
		return nil, fmt.Errorf("the step type %q is not valid: use Docker, FileTask or EncodedTask.", typ)
	}
	st["type"] = canon
	defaults := map[string]any{"values": []any{}}
	switch canon {
	case "Docker":
		defaults = map[string]any{"dockerFilePath": "Dockerfile", "isPushEnabled": true, "noCache": false, "arguments": []any{}}
	case "FileTask":
		if f, _ := st["taskFilePath"].(string); f == "" {
			return nil, errors.New("a FileTask step needs taskFilePath.")
		}
	case "EncodedTask":
		content, _ := st["encodedTaskContent"].(string)
		raw, err := base64.StdEncoding.DecodeString(content)
		switch {
		case err != nil:
			return nil, fmt.Errorf("encodedTaskContent is not base64: %v", err)
		case len(raw) == 0:
			return nil, errors.New("an EncodedTask step needs encodedTaskContent.")
		case len(raw) > maxTaskYAMLBytes:
			return nil, fmt.Errorf("the task YAML is larger than %d KiB.", maxTaskYAMLBytes>>10)
		}
	}
	for k, d := range defaults {
		if st[k] == nil {
			st[k] = d
		}
	}
	// What runs read must have its type; a run reads the step through stepSpec.
	if _, err := readStep(st); err != nil {
		return nil, err
	}
	return st, nil
}

// stepSpec is a task step as a run reads it.
type stepSpec struct {
	Type               string     `json:"type"`
	ContextPath        string     `json:"contextPath"`
	DockerFilePath     string     `json:"dockerFilePath"`
	ImageNames         []string   `json:"imageNames"`
	IsPushEnabled      bool       `json:"isPushEnabled"`
	Target             string     `json:"target"`
	Arguments          []argument `json:"arguments"`
	TaskFilePath       string     `json:"taskFilePath"`
	ValuesFilePath     string     `json:"valuesFilePath"`
	EncodedTaskContent string     `json:"encodedTaskContent"`
	Values             []argument `json:"values"`
}

// argument is a build argument or a task value.
type argument struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	IsSecret bool   `json:"isSecret"`
}

func readStep(st map[string]any) (stepSpec, error) {
	var out stepSpec
	b, _ := json.Marshal(st)
	if err := json.Unmarshal(b, &out); err != nil {
		return out, fmt.Errorf("the step is not valid: %v", err)
	}
	return out, nil
}

// overrides are a TaskRunRequest's overrideTaskStepProperties.
type overrides struct {
	ContextPath string     `json:"contextPath"`
	File        string     `json:"file"`
	Target      string     `json:"target"`
	Arguments   []argument `json:"arguments"`
	Values      []argument `json:"values"`
}

// runPlan is what a run of a task does: a Dockerfile build's steps, or task YAML (inline, or
// a file of the context), with the context it reads.
type runPlan struct {
	steps          []action
	taskYAML       []byte
	taskFile       string
	sourceLocation string
}

// plan turns a task's step and a run's overrides into the run's plan; values gets the step's
// values under the run's own.
func (t *task) plan(o overrides, values map[string]string) (runPlan, error) {
	st, err := readStep(t.res["properties"].(map[string]any)["step"].(map[string]any))
	if err != nil {
		return runPlan{}, err
	}
	p := runPlan{sourceLocation: st.ContextPath}
	if o.ContextPath != "" {
		p.sourceLocation = o.ContextPath // az acr task run -c <dir> uploads one
	}
	for _, v := range append(o.Values, st.Values...) {
		if _, set := values[v.Name]; !set { // the run's own values win
			values[v.Name] = v.Value
		}
	}
	switch st.Type {
	case "Docker":
		file, target, args := st.DockerFilePath, st.Target, st.Arguments
		if o.File != "" {
			file = o.File
		}
		if o.Target != "" {
			target = o.Target
		}
		if len(o.Arguments) > 0 {
			args = o.Arguments
		}
		p.steps, err = dockerBuildSteps(st.ImageNames, st.IsPushEnabled, file, target, args)
	case "FileTask":
		p.taskFile = st.TaskFilePath
		if o.File != "" {
			p.taskFile = o.File
		}
		if st.ValuesFilePath != "" {
			err = errors.New("valuesFilePath is not emulated: give the task values")
		}
	default:
		p.taskYAML, err = checkedYAML(st.EncodedTaskContent, values)
	}
	if p.sourceLocation == "/dev/null" { // az's spelling of a task without a context
		p.sourceLocation = ""
	}
	return p, err
}

// recordBases writes the base images a Docker task's run pulled into the task's step
// (baseImageDependencies, which base image triggers would watch), with s.mu held. The task is
// replaced, never changed: its maps are read unlocked.
func (s *Service) recordBases(key string, bases []map[string]string) {
	t := s.tasks[key]
	if t == nil {
		return
	}
	props := maps.Clone(t.res["properties"].(map[string]any))
	step := maps.Clone(props["step"].(map[string]any))
	if step["type"] != "Docker" {
		return
	}
	deps := make([]any, len(bases))
	for i, b := range bases {
		deps[i] = b
	}
	step["baseImageDependencies"], props["step"] = deps, step
	res := maps.Clone(t.res)
	res["properties"] = props
	s.tasks[key] = &task{res: res, ids: t.ids, sys: t.sys}
}

func (s *Service) notFound(w http.ResponseWriter, r *http.Request) {
	armio.Error(w, http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.ContainerRegistry/registries/"+chi.URLParam(r, "reg")+
		"/tasks/"+chi.URLParam(r, "task")+"' under resource group '"+chi.URLParam(r, "rg")+"' was not found.")
}

// getTask answers GET (details false) and listDetails (true: with the task's credentials).
func (s *Service) getTask(details bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		t := s.lookupTask(r)
		if t == nil {
			s.notFound(w, r)
			return
		}
		armio.WriteJSON(w, http.StatusOK, t.view(details))
	}
}

func (s *Service) listTasks(w http.ResponseWriter, r *http.Request) {
	prefix := strings.ToLower(registryID(r) + "/tasks/")
	s.mu.Lock()
	out := []map[string]any{}
	for id, t := range s.tasks {
		if strings.HasPrefix(id, prefix) {
			out = append(out, t.view(false))
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
