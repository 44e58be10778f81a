package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// TestOpenTofu applies the module in testdata/tofu step by step with the real OpenTofu and
// azurerm provider, as a platform engineer builds a network-restricted registry, in both ways
// the provider can be pointed at the emulator. After each step `tofu plan` must show no changes
// and a real client checks the step's effect; at the end `tofu destroy` removes everything.
// Each step is a subtest, so the output shows how far the emulator gets; a failing step names
// the ARM exchange that failed (from the provider's TF_LOG=DEBUG log).
func TestOpenTofu(t *testing.T) {
	tofu := harness.Tool(t, "TOFU", "tofu")
	provider := filepath.Dir(harness.Tool(t, "TERRAFORM_PROVIDER_AZURERM", "terraform-provider-azurerm"))
	crane := harness.Tool(t, "CRANE", "crane")

	// Azure's public names (management.azure.com, login.microsoftonline.com) through the
	// emulator's proxy.
	t.Run("proxy", func(t *testing.T) {
		s := newTofuSuite(t, tofu, provider, crane, "provider_proxy.tf", true)
		s.init(t)
		s.steps(t, s.moduleSteps())
	})
	// The provider's custom-cloud mode: metadata_host at the emulator.
	t.Run("metadata_host", func(t *testing.T) {
		s := newTofuSuite(t, tofu, provider, crane, "provider_metadata_host.tf", false)
		s.steps(t, s.moduleSteps()[:1])
	})
}

// tofuSuite is one emulator and one tofu working directory on it.
type tofuSuite struct {
	emu       *harness.Emulator
	tofu      string
	crane     string
	dir       string // the working directory: module files added so far, terraform.tfvars.json
	logs      string // TF_LOG_PATH of each command
	env       []string
	vars      map[string]any
	runs      int
	vnetProxy string // the default world's VNet appvnet, where the module puts a private endpoint
	image     string // an OCI layout to push
	hook      *hookRecorder
}

const (
	tofuRG       = "tofu-rg"
	tofuRegistry = "tofuregistry"
	tofuLogin    = tofuRegistry + ".azurecr.io"
)

func newTofuSuite(t *testing.T, tofu, providerDir, crane, providerFile string, viaProxy bool) *tofuSuite {
	t.Helper()
	world, vnetPort := defaultWorldWithVNetPort(t, func(w string) string { return w })
	s := &tofuSuite{
		emu: harness.Start(t, harness.WithArgs("--config", world)), tofu: tofu, crane: crane,
		dir: t.TempDir(), logs: t.TempDir(), vars: map[string]any{}, vnetProxy: "127.0.0.1:" + vnetPort,
		image: t.TempDir(), hook: newHookRecorder(t),
	}
	writeLayout(t, s.image, 1)
	// dev_overrides: tofu uses the prebuilt provider where it is, and needs no registry.
	cliConfig := filepath.Join(t.TempDir(), "dev_overrides.tfrc")
	tfrc, err := os.ReadFile(filepath.Join("testdata", "tofu", "dev_overrides.tfrc"))
	if err != nil {
		t.Fatal(err)
	}
	placeholder := `"/path/to/acr-emulator/build/tools/bin"`
	if !strings.Contains(string(tfrc), placeholder) {
		t.Fatalf("dev_overrides.tfrc does not name %s", placeholder)
	}
	writeFile(t, cliConfig, strings.Replace(string(tfrc), placeholder, fmt.Sprintf("%q", providerDir), 1))
	for _, kv := range s.emu.AnonymousEnv(t) {
		if k, _, _ := strings.Cut(kv, "="); !strings.HasPrefix(k, "TF_") && !strings.HasPrefix(k, "ARM_") && !strings.HasPrefix(k, "AZURE_") {
			s.env = append(s.env, kv)
		}
	}
	s.env = append(s.env, "TF_CLI_CONFIG_FILE="+cliConfig, "TF_IN_AUTOMATION=1", "TF_INPUT=0", "CHECKPOINT_DISABLE=1", "TF_LOG=DEBUG")
	if viaProxy {
		s.env = append(s.env, "HTTPS_PROXY=http://"+s.emu.ProxyAddr)
	}
	s.add(t, providerFile)
	return s
}

// tofuStep adds module files and sets variables, applies, checks that a plan shows no
// changes, then checks the effect with a real client.
type tofuStep struct {
	name  string
	files []string
	vars  map[string]any
	needs []string // steps whose effect this one's check relies on (the first step: always)
	check func(t *testing.T)
}

// moduleSteps is the realistic module, one step at a time: the registry and what it
// holds first, then the network lock-down, which later checks reach through the private
// endpoint or as a trusted service.
func (s *tofuSuite) moduleSteps() []tofuStep {
	local := s.emu.ProxyAddr // this machine, 127.0.0.1, on the internet
	return []tofuStep{
		{name: "registry", files: []string{"main.tf"}, check: s.checkRegistry},
		{name: "identity_with_acrpull", files: []string{"identity.tf"}, check: s.checkIdentity},
		{name: "georeplications", vars: map[string]any{"georeplication_locations": []string{"northeurope", "westeurope"}}, check: s.checkReplications},
		{name: "token_with_scope_map", files: []string{"tokens.tf"}, check: func(t *testing.T) { s.checkToken(t, local) }},
		{name: "webhook", files: []string{"webhook.tf"}, vars: map[string]any{"webhook_service_uri": s.hook.url + "/acr-events"},
			check: func(t *testing.T) { s.checkWebhook(t, local) }},
		{name: "firewall_refuses_this_machine", vars: map[string]any{"firewall_default_action": "Deny", "firewall_ip_ranges": []string{"203.0.113.0/24"}},
			check: func(t *testing.T) { s.expectDenied(t, local, "127.0.0.1") }},
		{name: "firewall_allows_this_machine", vars: map[string]any{"firewall_ip_ranges": []string{"203.0.113.0/24", "127.0.0.1/32"}},
			needs: []string{"firewall_refuses_this_machine"}, check: func(t *testing.T) { s.expectPull(t, local, s.admin(t), "app:v1") }},
		{name: "public_access_disabled", vars: map[string]any{"public_network_access_enabled": false, "network_rule_bypass_for_tasks_enabled": true},
			check: func(t *testing.T) { s.expectDenied(t, local, "127.0.0.1") }},
		{name: "task_run_through_trusted_services", files: []string{"task.tf"}, needs: []string{"public_access_disabled"}, check: s.checkTaskRun},
		{name: "trusted_services_off", vars: map[string]any{"network_rule_bypass_option": "None"}, needs: []string{"task_run_through_trusted_services"},
			check: s.checkTaskRefused},
		{name: "private_endpoint", files: []string{"private_endpoint.tf"}, needs: []string{"public_access_disabled"}, check: func(t *testing.T) {
			s.expectPull(t, s.vnetProxy, s.admin(t), "app:v1")
			s.expectDenied(t, local, "127.0.0.1")
		}},
	}
}

// steps runs the steps as subtests, then destroys. A failed step is undone (its files
// removed, its variables restored, applied again) so the following steps still show what
// works; a step whose check relies on a failed one does not run, and nothing runs after the
// first step fails or a failed step cannot be undone. Destroy always runs.
func (s *tofuSuite) steps(t *testing.T, steps []tofuStep) {
	passed := map[string]bool{}
	blocked := ""
	for i, st := range steps {
		ran := false
		ok := t.Run(st.name, func(t *testing.T) {
			if blocked != "" {
				t.Skipf("not run: %s", blocked)
			}
			for _, n := range st.needs {
				if !passed[n] {
					t.Skipf("not run: it relies on step %s, which failed or did not run", n)
				}
			}
			ran = true
			before := maps.Clone(s.vars)
			defer func() {
				if !t.Failed() {
					return
				}
				if i == 0 {
					blocked = "the first step failed"
				} else if !s.undo(t, st, before) {
					blocked = "step " + st.name + " failed and could not be undone"
				}
			}()
			s.add(t, st.files...)
			maps.Copy(s.vars, st.vars)
			s.writeVars(t)
			s.must(t, "apply", "-auto-approve")
			s.noChanges(t)
			st.check(t)
		})
		passed[st.name] = ok && ran
	}
	t.Run("destroy", func(t *testing.T) {
		s.must(t, "destroy", "-auto-approve")
		rg := "/subscriptions/" + subscription + "/resourceGroups/" + tofuRG
		for _, p := range []string{
			rg + "/providers/Microsoft.ContainerRegistry/registries/" + tofuRegistry + "?api-version=2025-11-01",
			rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/tofu-puller?api-version=2024-11-30",
			rg + "/providers/Microsoft.Network/privateEndpoints/tofuregistry-pe?api-version=2024-05-01",
			rg + "?api-version=2023-07-01",
		} {
			if status, body := armCall(t, s.emu, "GET", p, ""); status != http.StatusNotFound {
				t.Errorf("after destroy, GET %s: %d %v", p, status, body)
			}
		}
	})
}

// undo removes a failed step's files and variables and applies, so that tofu removes what the
// step created.
func (s *tofuSuite) undo(t *testing.T, st tofuStep, vars map[string]any) bool {
	t.Helper()
	t.Logf("undoing step %s: removing %v, restoring the variables, applying", st.name, st.files)
	for _, f := range st.files {
		_ = os.Remove(filepath.Join(s.dir, f))
	}
	s.vars = vars
	s.writeVars(t)
	out, log, err := s.run(t, "apply", "-auto-approve")
	if err != nil {
		t.Errorf("undoing step %s: tofu apply: %v\n%s\n%s", st.name, err, errorsOf(out), failureReport(log))
		return false
	}
	return true
}

func (s *tofuSuite) writeVars(t *testing.T) {
	t.Helper()
	b, _ := json.MarshalIndent(s.vars, "", "  ")
	writeFile(t, filepath.Join(s.dir, "terraform.tfvars.json"), string(b))
}

// init: with dev_overrides, tofu needs no init (and init would look the provider up in the
// registry); it says so.
func (s *tofuSuite) init(t *testing.T) {
	t.Run("init_not_needed", func(t *testing.T) {
		out, _, _ := s.run(t, "init")
		if !strings.Contains(out, "Skip tofu init when using provider development overrides") {
			t.Errorf("tofu init with dev_overrides:\n%s", out)
		}
	})
}

// add copies module files from testdata/tofu into the working directory; the metadata_host
// provider block is pointed at this emulator.
func (s *tofuSuite) add(t *testing.T, files ...string) {
	t.Helper()
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join("testdata", "tofu", f))
		if err != nil {
			t.Fatal(err)
		}
		body := string(b)
		if f == "provider_metadata_host.tf" {
			const readme = `metadata_host   = "localhost:8443"`
			if !strings.Contains(body, readme) {
				t.Fatalf("%s does not say %s", f, readme)
			}
			body = strings.Replace(body, readme, fmt.Sprintf("metadata_host   = %q", s.emu.RegistryHost()), 1)
		}
		writeFile(t, filepath.Join(s.dir, f), body)
	}
}

// run runs tofu with its own debug log; out is what tofu printed.
func (s *tofuSuite) run(t *testing.T, args ...string) (out, log string, err error) {
	t.Helper()
	s.runs++
	logPath := filepath.Join(s.logs, fmt.Sprintf("%02d-%s.log", s.runs, args[0]))
	cmd := exec.Command(s.tofu, append(args, "-no-color")...)
	cmd.Dir, cmd.Env = s.dir, append(s.env, "TF_LOG_PATH="+logPath)
	b, err := cmd.CombinedOutput()
	l, _ := os.ReadFile(logPath)
	return string(b), string(l), err
}

// must runs tofu and fails the test with its output and the ARM exchange that failed.
func (s *tofuSuite) must(t *testing.T, args ...string) string {
	t.Helper()
	out, log, err := s.run(t, args...)
	if err != nil {
		t.Fatalf("tofu %s: %v\n%s\n%s", strings.Join(args, " "), err, errorsOf(out), failureReport(log))
	}
	// What took how long: a resource that waits shows here first.
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, " complete after ") {
			t.Log(strings.TrimSpace(line))
		}
	}
	return out
}

// noChanges: a plan right after apply must find the infrastructure as configured.
func (s *tofuSuite) noChanges(t *testing.T) {
	t.Helper()
	out, log, err := s.run(t, "plan", "-detailed-exitcode")
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 2 {
		t.Fatalf("tofu plan after apply shows changes (drift in what ARM answers):\n%s", planOf(out))
	} else if err != nil {
		t.Fatalf("tofu plan: %v\n%s\n%s", err, errorsOf(out), failureReport(log))
	}
}

// errorsOf keeps tofu's diagnostics, dropping the dev_overrides warning and the plan it
// printed before failing.
func errorsOf(out string) string {
	if i := strings.Index(out, "\nError: "); i >= 0 {
		return out[i+1:]
	}
	return out
}

func planOf(out string) string {
	if i := strings.Index(out, "OpenTofu used the selected providers"); i >= 0 {
		return out[i:]
	}
	return out
}

func (s *tofuSuite) output(t *testing.T, name string) string {
	t.Helper()
	return strings.TrimSpace(s.must(t, "output", "-raw", name))
}

// admin is the registry's admin user as the module outputs it.
func (s *tofuSuite) admin(t *testing.T) [2]string {
	return [2]string{s.output(t, "admin_username"), s.output(t, "admin_password")}
}

// client is an environment for crane through a proxy of the emulator (its local proxy: this
// machine, 127.0.0.1; the VNet's: through the private endpoint), logged in to the registry.
func (s *tofuSuite) client(t *testing.T, proxy string, login [2]string) []string {
	env := s.emu.AnonymousEnv(t)
	auth := base64.StdEncoding.EncodeToString([]byte(login[0] + ":" + login[1]))
	writeDockerConfig(t, env, fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, tofuLogin, auth))
	return append(env, "HTTPS_PROXY=http://"+proxy)
}

func (s *tofuSuite) craneRun(t *testing.T, proxy string, login [2]string, args ...string) (string, error) {
	t.Helper()
	return s.emu.TryRunEnv(t, s.client(t, proxy, login), s.crane, args...)
}

func (s *tofuSuite) expectPull(t *testing.T, proxy string, login [2]string, ref string) {
	t.Helper()
	if out, err := s.craneRun(t, proxy, login, "pull", tofuLogin+"/"+ref, filepath.Join(t.TempDir(), "img.tar")); err != nil {
		t.Fatalf("crane pull %s through %s as %s: %v\n%s", ref, proxy, login[0], err, out)
	}
}

// expectDenied: the registry's network rules refuse the origin, before authentication.
func (s *tofuSuite) expectDenied(t *testing.T, proxy, ip string) {
	t.Helper()
	out, err := s.craneRun(t, proxy, s.admin(t), "digest", tofuLogin+"/app:v1")
	if err == nil || !strings.Contains(out, "DENIED: client with IP '"+ip+"' is not allowed access") {
		t.Fatalf("crane digest through %s: err=%v, want the firewall's DENIED for %s\n%s", proxy, err, ip, out)
	}
}

// checkRegistry: the admin user pushes (the task's and the token's images), and ARM has the
// registry as the module wrote it.
func (s *tofuSuite) checkRegistry(t *testing.T) {
	if got := s.output(t, "login_server"); got != tofuLogin {
		t.Fatalf("login_server = %q", got)
	}
	admin := s.admin(t)
	for _, ref := range []string{"hello:v1", "app:v1"} {
		if out, err := s.craneRun(t, s.emu.ProxyAddr, admin, "push", s.image, tofuLogin+"/"+ref); err != nil {
			t.Fatalf("crane push %s as the admin user: %v\n%s", ref, err, out)
		}
	}
	status, reg := armCall(t, s.emu, "GET", s.registryID()+"?api-version=2025-11-01", "")
	if status != http.StatusOK || fmt.Sprint(reg["tags"]) != "map[environment:dev owner:platform]" || fmt.Sprint(reg["sku"]) != "map[name:Premium tier:Premium]" {
		t.Errorf("GET registry: %d %v", status, reg)
	}
}

func (s *tofuSuite) registryID() string {
	return "/subscriptions/" + subscription + "/resourceGroups/" + tofuRG + "/providers/Microsoft.ContainerRegistry/registries/" + tofuRegistry
}

// checkIdentity: ARM has the identity and its AcrPull assignment on the registry.
func (s *tofuSuite) checkIdentity(t *testing.T) {
	idPath := "/subscriptions/" + subscription + "/resourceGroups/" + tofuRG + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/tofu-puller?api-version=2024-11-30"
	status, id := armCall(t, s.emu, "GET", idPath, "")
	props, _ := id["properties"].(map[string]any)
	if status != http.StatusOK || props["principalId"] == nil {
		t.Fatalf("GET identity: %d %v", status, id)
	}
	status, list := armCall(t, s.emu, "GET", s.registryID()+"/providers/Microsoft.Authorization/roleAssignments?api-version=2022-04-01", "")
	for _, a := range values(list) {
		p, _ := a["properties"].(map[string]any)
		if p["principalId"] == props["principalId"] && strings.HasSuffix(fmt.Sprint(p["roleDefinitionId"]), "/7f951dda-4ed3-4680-a7ca-43fe172d538d") {
			return
		}
	}
	t.Errorf("no AcrPull assignment for the identity on the registry: %d %v", status, list)
}

func values(list map[string]any) []map[string]any {
	vs, _ := list["value"].([]any)
	var out []map[string]any
	for _, v := range vs {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// checkTaskRun: the run the module scheduled pulled through trusted services with the task's
// system-assigned identity, public access being disabled.
func (s *tofuSuite) checkTaskRun(t *testing.T) {
	status, list := armCall(t, s.emu, "GET", s.registryID()+"/runs?api-version=2019-06-01-preview", "")
	runs := values(list)
	if status != http.StatusOK || len(runs) != 1 {
		t.Fatalf("runs: %d %v", status, list)
	}
	if p, _ := runs[0]["properties"].(map[string]any); p["status"] != "Succeeded" || p["task"] != "hello" {
		t.Errorf("the scheduled run: %v", p)
	}
}

// checkTaskRefused: with trusted services off, a new run of the task is refused by the
// registry's network rules.
func (s *tofuSuite) checkTaskRefused(t *testing.T) {
	status, run := armCall(t, s.emu, "POST", s.registryID()+"/scheduleRun?api-version=2019-06-01-preview",
		`{"type":"TaskRunRequest","taskId":"`+s.registryID()+`/tasks/hello"}`)
	if status != http.StatusOK && status != http.StatusAccepted {
		t.Fatalf("scheduleRun: %d %v", status, run)
	}
	p := s.waitRun(t, fmt.Sprint(run["name"]))
	if p["status"] != "Failed" || !strings.Contains(fmt.Sprint(p["runErrorMessage"]), "is not allowed access") {
		t.Errorf("run with trusted services off: %v", p)
	}
}

// waitRun waits for a task run to end and returns its properties.
func (s *tofuSuite) waitRun(t *testing.T, name string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		status, run := armCall(t, s.emu, "GET", s.registryID()+"/runs/"+name+"?api-version=2019-06-01-preview", "")
		p, _ := run["properties"].(map[string]any)
		switch {
		case status != http.StatusOK:
			t.Fatalf("GET run %s: %d %v", name, status, run)
		case p["status"] != "Queued" && p["status"] != "Started" && p["status"] != "Running":
			return p
		case time.Now().After(deadline):
			t.Fatalf("run %s still %v", name, p["status"])
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// checkReplications: ARM lists the registry's replications, its home location among them as
// Azure lists it.
func (s *tofuSuite) checkReplications(t *testing.T) {
	status, list := armCall(t, s.emu, "GET", s.registryID()+"/replications?api-version=2025-11-01", "")
	var got []string
	for _, r := range values(list) {
		got = append(got, fmt.Sprint(r["location"]))
	}
	slices.Sort(got)
	if status != http.StatusOK || strings.Join(got, ",") != "eastus,northeurope,westeurope" {
		t.Errorf("replications: %d %v", status, list)
	}
}

// checkToken: the token pulls inside its scope map only.
func (s *tofuSuite) checkToken(t *testing.T, proxy string) {
	token := [2]string{s.output(t, "token_username"), s.output(t, "token_password")}
	s.expectPull(t, proxy, token, "app:v1")
	for _, args := range [][]string{
		{"digest", tofuLogin + "/hello:v1"},
		{"catalog", tofuLogin},
		{"push", s.image, tofuLogin + "/app:v2"},
	} {
		if out, err := s.craneRun(t, proxy, token, args...); err == nil {
			t.Errorf("crane %s with the token, outside its scope map, succeeded:\n%s", args[0], out)
		}
	}
}

// checkWebhook: a push to the webhook's scope is POSTed to its service URI, with its headers.
func (s *tofuSuite) checkWebhook(t *testing.T, proxy string) {
	if out, err := s.craneRun(t, proxy, s.admin(t), "push", s.image, tofuLogin+"/app:v2"); err != nil {
		t.Fatalf("crane push app:v2: %v\n%s", err, out)
	}
	ev, hdr := s.hook.wait(t, func(ev acrEvent) bool {
		return ev.Action == "push" && ev.Target.Repository == "app" && ev.Target.Tag == "v2"
	})
	if hdr.Get("X-Source") != "tofu" || !strings.HasPrefix(ev.Target.Digest, "sha256:") {
		t.Errorf("webhook delivery: %+v, headers %v", ev, hdr)
	}
}

// acrEvent is the part of ACR's webhook payload the test reads.
// https://learn.microsoft.com/azure/container-registry/container-registry-webhook-reference
type acrEvent struct {
	Action string `json:"action"`
	Target struct {
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
		Digest     string `json:"digest"`
	} `json:"target"`
}

// hookRecorder is a webhook receiver on 127.0.0.1.
type hookRecorder struct {
	url string
	mu  sync.Mutex
	got []hookDelivery
}

type hookDelivery struct {
	header http.Header
	body   []byte
}

func newHookRecorder(t *testing.T) *hookRecorder {
	h := &hookRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		h.mu.Lock()
		h.got = append(h.got, hookDelivery{r.Header.Clone(), b})
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL
	return h
}

// wait returns the first delivery whose event matches, waiting for the emulator to send it.
func (h *hookRecorder) wait(t *testing.T, match func(acrEvent) bool) (acrEvent, http.Header) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		h.mu.Lock()
		got := append([]hookDelivery(nil), h.got...)
		h.mu.Unlock()
		for _, d := range got {
			var ev acrEvent
			if json.Unmarshal(d.body, &ev) == nil && match(ev) {
				return ev, d.header
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching webhook delivery in 30s; got %d deliveries", len(got))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
