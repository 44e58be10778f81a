package arm

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// recorder is a delegate's handler that records the paths it is handed.
type recorder struct {
	mu    sync.Mutex
	paths []string
}

func (h *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.paths = append(h.paths, r.Method+" "+r.URL.Path)
	h.mu.Unlock()
	status := http.StatusOK
	if r.Method == http.MethodPut {
		status = http.StatusCreated
	}
	seen := map[string]string{"seen": r.URL.Path}
	if c := CallerFrom(r.Context()); c != nil {
		seen["caller"] = c.ObjectID
	}
	writeJSON(w, status, seen)
}

func (h *recorder) last() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.paths) == 0 {
		return ""
	}
	return h.paths[len(h.paths)-1]
}

// routingAPI is the management plane with every delegate present.
func routingAPI(h http.Handler) *api {
	cfg := Config{Store: store.New(), SubscriptionID: sub, TenantID: tenant, Location: "eastus", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Tasks: h, Providers: map[string]http.Handler{"Microsoft.ContainerInstance": h, "Microsoft.Web": h, "Microsoft.Security": h, "Microsoft.MachineLearningServices": h}}
	return build(cfg)
}

// TestRouteTable checks the router's decision for paths in every casing: the route's type,
// the resource it is about and the RBAC action the request needs, or ARM's refusal.
func TestRouteTable(t *testing.T) {
	a := routingAPI(&recorder{})
	const (
		rg  = "/subscriptions/" + sub + "/resourceGroups/demo-rg"
		reg = rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
		cr  = "Microsoft.ContainerRegistry/registries"
		ml  = rg + "/providers/Microsoft.MachineLearningServices/workspaces/ws"
	)
	for _, c := range []struct {
		method, path, typ, action, code string
	}{
		{"GET", reg, cr, cr + "/read", ""},
		{"GET", strings.ToLower(reg), cr, cr + "/read", ""},
		{"GET", strings.Replace(reg, "resourceGroups", "ResourceGroups", 1), cr, cr + "/read", ""},
		{"GET", strings.Replace(reg, "/registries/", "/Registries/", 1), cr, cr + "/read", ""},
		{"PUT", strings.ToUpper(reg[:len(reg)-len("myregistry")]) + "myregistry", cr, cr + "/write", ""},
		{"GET", "/" + reg, cr, cr + "/read", ""},
		{"PATCH", reg, cr, cr + "/write", ""},
		{"DELETE", reg, cr, cr + "/delete", ""},
		{"HEAD", reg, cr, cr + "/read", ""},
		{"POST", reg, "", "", "MethodNotAllowed"},
		{"GET", rg + "/providers/Microsoft.ContainerRegistry/registries", cr, cr + "/read", ""},
		{"GET", "/subscriptions/" + sub + "/providers/microsoft.containerregistry/registries", cr, cr + "/read", ""},
		{"POST", reg + "/listCredentials", cr, cr + "/listCredentials/action", ""},
		{"POST", reg + "/LISTCREDENTIALS", cr, cr + "/listCredentials/action", ""},
		{"GET", reg + "/listCredentials", "", "", "MethodNotAllowed"},
		{"POST", reg + "/regenerateCredential", cr, cr + "/regenerateCredential/action", ""},
		{"GET", reg + "/listUsages", cr, cr + "/listUsages/read", ""},
		{"POST", reg + "/listUsages", "", "", "MethodNotAllowed"},
		{"POST", reg + "/importImage", cr, cr + "/importImage/action", ""},
		{"POST", "/subscriptions/" + sub + "/providers/Microsoft.ContainerRegistry/checkNameAvailability", "Microsoft.ContainerRegistry/checkNameAvailability",
			"Microsoft.ContainerRegistry/checkNameAvailability/read", ""},
		{"GET", "/providers/Microsoft.ContainerRegistry/operations", "Microsoft.ContainerRegistry/operations", "", ""},
		{"PUT", reg + "/replications/westus", cr + "/replications", cr + "/replications/write", ""},
		{"GET", reg + "/Replications", cr + "/replications", cr + "/replications/read", ""},
		{"DELETE", strings.ToLower(reg) + "/REPLICATIONS/westus", cr + "/replications", cr + "/replications/delete", ""},
		{"PUT", reg + "/privateEndpointConnections/c", cr + "/privateEndpointConnections", cr + "/privateEndpointConnections/write", ""},
		{"GET", reg + "/webHooks/h", cr + "/webhooks", cr + "/webhooks/read", ""},
		{"PUT", reg + "/webhooks/h", cr + "/webhooks", cr + "/webhooks/write", ""},
		{"POST", reg + "/webHooks/h/ping", cr + "/webhooks", cr + "/webhooks/ping/action", ""},
		{"POST", reg + "/WEBHOOKS/h/getCallbackConfig", cr + "/webhooks", cr + "/webhooks/getCallbackConfig/action", ""},
		{"POST", reg + "/webhooks/h/listEvents", cr + "/webhooks", cr + "/webhooks/listEvents/action", ""},
		{"GET", reg + "/webhooks/h/listEvents", "", "", "MethodNotAllowed"},
		{"POST", reg + "/webhooks", "", "", "MethodNotAllowed"},
		// ACR Tasks, handed to the Tasks handler.
		{"PUT", reg + "/tasks/t", cr + "/tasks", cr + "/tasks/write", ""},
		{"GET", reg + "/TASKS", cr + "/tasks", cr + "/tasks/read", ""},
		{"POST", reg + "/tasks/t/listDetails", cr + "/tasks", cr + "/tasks/listDetails/action", ""},
		{"POST", reg + "/scheduleRun", cr, cr + "/scheduleRun/action", ""},
		{"GET", reg + "/scheduleRun", "", "", "MethodNotAllowed"},
		{"POST", reg + "/listBuildSourceUploadUrl", cr, cr + "/listBuildSourceUploadUrl/action", ""},
		{"GET", reg + "/runs/ca1", cr + "/runs", cr + "/runs/read", ""},
		{"PATCH", reg + "/runs/ca1", cr + "/runs", cr + "/runs/write", ""},
		{"POST", reg + "/runs/ca1/listLogSasUrl", cr + "/runs", cr + "/runs/listLogSasUrl/action", ""},
		{"POST", reg + "/runs/ca1/cancel", cr + "/runs", cr + "/runs/cancel/action", ""},
		{"DELETE", reg + "/runs/ca1", "", "", "MethodNotAllowed"},
		// The simulated services' providers: the action is the full type's, not the first segment's.
		{"PUT", rg + "/providers/Microsoft.ContainerInstance/containerGroups/g", "Microsoft.ContainerInstance/containerGroups", "Microsoft.ContainerInstance/containerGroups/write", ""},
		{"DELETE", rg + "/providers/microsoft.containerinstance/CONTAINERGROUPS/g", "Microsoft.ContainerInstance/containerGroups", "Microsoft.ContainerInstance/containerGroups/delete", ""},
		{"PUT", ml, "Microsoft.MachineLearningServices/workspaces", "Microsoft.MachineLearningServices/workspaces/write", ""},
		{"PUT", ml + "/onlineEndpoints/ep/deployments/d", "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
			"Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments/write", ""},
		{"GET", ml + "/jobs/j", "Microsoft.MachineLearningServices/workspaces/jobs", "Microsoft.MachineLearningServices/workspaces/jobs/read", ""},
		{"GET", reg + "/providers/Microsoft.Security/assessments/k/subAssessments", "Microsoft.Security/assessments/subAssessments",
			"Microsoft.Security/assessments/subAssessments/read", ""},
		{"PUT", "/subscriptions/" + sub + "/providers/Microsoft.Security/pricings/Containers", "Microsoft.Security/pricings", "Microsoft.Security/pricings/write", ""},
		{"PUT", rg + "/providers/Microsoft.Web/sites/app", "Microsoft.Web/sites", "Microsoft.Web/sites/write", ""},
		// Microsoft.Authorization on any scope, // included.
		{"PUT", "/" + reg + "/providers/Microsoft.Authorization/roleAssignments/ra", "Microsoft.Authorization/roleAssignments",
			"Microsoft.Authorization/roleAssignments/write", ""},
		{"GET", "/subscriptions/" + sub + "/providers/microsoft.authorization/roleassignments", "Microsoft.Authorization/roleAssignments",
			"Microsoft.Authorization/roleAssignments/read", ""},
		{"GET", "/providers/Microsoft.Authorization/roleDefinitions", "Microsoft.Authorization/roleDefinitions", "", ""},
		{"PATCH", rg + "/providers/Microsoft.Authorization/roleAssignments/ra", "Microsoft.Authorization/roleAssignments", "Microsoft.Authorization/roleAssignments/write", ""},
		{"PUT", rg + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id", identityType, identityType + "/write", ""},
		{"PUT", rg + "/providers/Microsoft.Network/privateEndpoints/pe", "Microsoft.Network/privateEndpoints", "Microsoft.Network/privateEndpoints/write", ""},
		// ARM's own paths.
		{"GET", "/subscriptions", "Microsoft.Resources/subscriptions", "", ""},
		{"GET", "/subscriptions/" + sub, "Microsoft.Resources/subscriptions", "", ""},
		{"GET", "/tenants", "Microsoft.Resources/tenants", "", ""},
		{"PUT", "/subscriptions/" + sub + "/resourcegroups/rg2", "Microsoft.Resources/resourceGroups", "Microsoft.Resources/subscriptions/resourceGroups/write", ""},
		{"HEAD", "/subscriptions/" + sub + "/resourceGroups/rg2", "Microsoft.Resources/resourceGroups", "Microsoft.Resources/subscriptions/resourceGroups/read", ""},
		{"DELETE", "/subscriptions/" + sub + "/ResourceGroups/rg2", "Microsoft.Resources/resourceGroups", "Microsoft.Resources/subscriptions/resourceGroups/delete", ""},
		{"GET", "/subscriptions/" + sub + "/resourcegroups", "Microsoft.Resources/resourceGroups", "Microsoft.Resources/subscriptions/resourceGroups/read", ""},
		{"GET", rg + "/resources", "Microsoft.Resources/resourceGroups/resources", "", ""},
		{"GET", "/subscriptions/" + sub + "/resources", "Microsoft.Resources/resources", "", ""},
		{"GET", "/subscriptions/" + sub + "/providers", "Microsoft.Resources/providers", "", ""},
		{"GET", "/subscriptions/" + sub + "/providers/Microsoft.ContainerRegistry", "Microsoft.Resources/providers", "", ""},
		{"POST", "/subscriptions/" + sub + "/providers/Microsoft.ContainerRegistry/register", "Microsoft.Resources/providers", "*/register/action", ""},
		// What no route declares.
		{"GET", "/subscriptions/" + sub + "/providers/Microsoft.Nothing/things", "", "", "InvalidResourceNamespace"},
		{"GET", rg + "/providers/Microsoft.ContainerRegistry/nothings/x", "", "", "InvalidResourceType"},
		{"GET", "/subscriptions/" + sub + "//resourceGroups", "", "", "NotFound"},
	} {
		d, err := a.routes.decide(c.method, c.path, "2025-11-01")
		code := ""
		if ae, ok := err.(*Error); ok {
			code = ae.Code
		} else if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		typ := ""
		if err == nil {
			typ = d.route.typeName()
		}
		if typ != c.typ || d.action != c.action || code != c.code {
			t.Errorf("%s %s: route %q action %q error %q; want %q %q %q", c.method, c.path, typ, d.action, code, c.typ, c.action, c.code)
		}
	}
}

// TestTableRefusesDuplicates: a type, an action or a spelling declared twice is a programming
// mistake the table reports at once.
func TestTableRefusesDuplicates(t *testing.T) {
	k := func(typ string) route { return &Kind[subscription]{Type: typ} }
	for _, routes := range [][]route{
		{k("Microsoft.X/things"), k("microsoft.x/Things")},
		{k("Microsoft.X/things"), k("Microsoft.X/Things/parts")},
		{&Delegate{Type: "Microsoft.X/a", Actions: Actions{Do: map[string]string{"go": "a/go/action"}}},
			&Delegate{Type: "Microsoft.X/a", Actions: Actions{Do: map[string]string{"Go": "a/go/action"}}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%v: no panic", routes)
				}
			}()
			newTable(routes...)
		}()
	}
}

// Delegates get the path spelled as declared, with the caller's names; ACR Tasks' writes carry
// the async-operation headers.
func TestDelegatesGetDeclaredSpelling(t *testing.T) {
	h := &recorder{}
	srv := newAPIWith(t, h)
	for _, c := range []struct{ method, path, want string }{
		{"PUT", "/subscriptions/" + sub + "/resourcegroups/demo-rg/providers/microsoft.containerinstance/CONTAINERGROUPS/MyGroup",
			"PUT /subscriptions/" + sub + "/resourceGroups/demo-rg/providers/Microsoft.ContainerInstance/containerGroups/MyGroup"},
		{"POST", "//subscriptions/" + sub + "/ResourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/Registries/myregistry/Tasks/T1/LISTDETAILS",
			"POST /subscriptions/" + sub + "/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry/tasks/T1/listDetails"},
		{"GET", "/subscriptions/" + sub + "/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry/providers/microsoft.security/Assessments/k/SubAssessments",
			"GET /subscriptions/" + sub + "/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry/providers/Microsoft.Security/assessments/k/subAssessments"},
	} {
		// The caller travels in the request's context (the simulated services' Attach reads it).
		if r := call(t, srv, c.method, c.path+v, "owner", `{}`); r.status >= 300 || h.last() != c.want || r.body["caller"] != owner {
			t.Errorf("%s %s: %d %v, handler saw %q", c.method, c.path, r.status, r.body, h.last())
		}
	}
	// A delegated family's parent must exist, and its RBAC is checked before it is handed over.
	if r := call(t, srv, "GET", regs+"/nothere/tasks"+v, "owner", ""); r.status != 404 || errCode(r) != "ResourceNotFound" {
		t.Fatalf("tasks of a missing registry: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "PUT", regs+"/myregistry/tasks/t"+v, "reader", `{}`); r.status != 403 {
		t.Fatalf("reader creating a task: %d", r.status)
	}
	req, _ := http.NewRequest("PUT", srv.URL+regs+"/myregistry/tasks/t2"+v, strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer owner")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 || !strings.Contains(res.Header.Get("Azure-AsyncOperation"), "/tasks/t2/operationStatuses/tasks-") || res.Header.Get("Retry-After") != "0" {
		t.Fatalf("task PUT: %d %v", res.StatusCode, res.Header)
	}
}

// Paths beginning with // (SDKs joining a scope that begins with /) are served as ARM, and a
// role assignment made there is at the scope as ARM writes it.
func TestDoubleSlashPaths(t *testing.T) {
	srv := newAPI(t)
	if r := call(t, srv, "GET", "/"+regs+"/myregistry"+v, "reader", ""); r.status != 200 || r.body["id"] != regs+"/myregistry" {
		t.Fatalf("GET //...: %d %v", r.status, r.body)
	}
	if !IsARMPath("//subscriptions/"+sub) || IsARMPath("//v2/") {
		t.Fatal("IsARMPath and //")
	}
}

func TestCaseInsensitivePaths(t *testing.T) {
	srv := newAPI(t)
	for _, p := range []string{
		"/subscriptions/" + sub + "/ResourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry",
		"/subscriptions/" + sub + "/resourcegroups/DEMO-RG/providers/microsoft.containerregistry/Registries/MyRegistry",
		"/SUBSCRIPTIONS/" + sub + "/RESOURCEGROUPS/demo-rg/PROVIDERS/MICROSOFT.CONTAINERREGISTRY/REGISTRIES/myregistry",
	} {
		r := call(t, srv, "GET", p+v, "reader", "")
		// The id is the registry's, as created; the path's spelling does not change it.
		if r.status != 200 || r.body["id"] != regs+"/myregistry" || r.body["name"] != "myregistry" {
			t.Errorf("GET %s: %d %v", p, r.status, r.body["id"])
		}
	}
	// A registry created through a path in another spelling keeps the caller's names.
	r := call(t, srv, "PUT", "/subscriptions/"+sub+"/resourcegroups/demo-rg/providers/MICROSOFT.CONTAINERREGISTRY/registries/CasedRegistry"+v, "owner",
		`{"location":"eastus","sku":{"name":"Basic"}}`)
	if r.status != 201 || r.body["id"] != regs+"/CasedRegistry" || r.body["name"] != "CasedRegistry" || prop(r, "properties", "loginServer") != "casedregistry.azurecr.io" {
		t.Fatalf("PUT in another spelling: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "GET", regs+"/casedregistry"+v, "reader", ""); r.status != 200 || r.body["name"] != "CasedRegistry" {
		t.Fatalf("GET in lower case: %d %v", r.status, r.body)
	}
}

func TestUnknownRoutes(t *testing.T) {
	srv := newAPI(t)
	for _, c := range []struct {
		method, path, token string
		status              int
		code                string
	}{
		{"GET", "/subscriptions/" + sub + "/providers/Microsoft.Nothing/things" + v, "owner", 404, "InvalidResourceNamespace"},
		{"GET", rgPath + "/providers/Microsoft.ContainerRegistry/nothings/x" + v, "owner", 404, "InvalidResourceType"},
		{"GET", "/subscriptions/" + sub + "/providers/Microsoft.Nothing/things" + v, "", 401, "AuthenticationFailed"},
		{"DELETE", regs + "/myregistry/listUsages" + v, "owner", 405, "MethodNotAllowed"},
		{"GET", "/subscriptions/" + sub + "/resourceGroups/demo-rg/providers" + v, "owner", 404, "NotFound"},
		{"GET", "/providers/Microsoft.ContainerRegistry/operations" + v, "", 200, ""},
	} {
		if r := call(t, srv, c.method, c.path, c.token, ""); r.status != c.status || errCode(r) != c.code {
			t.Errorf("%s %s: %d %v, want %d %s", c.method, c.path, r.status, r.body, c.status, c.code)
		}
	}
}

func TestOperationsListsDeclaredActions(t *testing.T) {
	srv := newAPI(t)
	r := call(t, srv, "GET", "/providers/Microsoft.ContainerRegistry/operations"+v, "", "")
	names := map[string]bool{}
	for _, op := range r.body["value"].([]any) {
		names[op.(map[string]any)["name"].(string)] = true
	}
	for _, want := range []string{"Microsoft.ContainerRegistry/registries/importImage/action", "Microsoft.ContainerRegistry/registries/replications/write",
		"Microsoft.ContainerRegistry/registries/listUsages/read", "Microsoft.ContainerRegistry/checkNameAvailability/read",
		"Microsoft.ContainerRegistry/registries/pull/read", "Microsoft.ContainerRegistry/registries/privateEndpointConnections/delete"} {
		if !names[want] {
			t.Errorf("operations lack %s", want)
		}
	}
	if names["Microsoft.Authorization/roleAssignments/write"] {
		t.Error("operations list another provider's actions")
	}
}

// newAPIWith is newAPI with h serving ACR Tasks and the simulated services' providers.
func newAPIWith(t *testing.T, h http.Handler) *httptest.Server {
	return newAPIConfig(t, func(c *Config) {
		c.Tasks = h
		c.Providers = map[string]http.Handler{"Microsoft.ContainerInstance": h, "Microsoft.Security": h}
	})
}

// A delegate that reports its write's operation failed gets a Failed Azure-AsyncOperation
// status with its error; the report itself never reaches the client.
func TestDelegateReportsAFailedOperation(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(operationErrorHeader, `{"code":"ContainerAppOperationError","message":"the pull failed"}`)
		writeJSON(w, http.StatusCreated, map[string]string{"provisioningState": "Failed"})
	})
	srv := newAPIWith(t, h)
	req, _ := http.NewRequest("PUT", srv.URL+regs+"/myregistry/tasks/failing"+v, strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer owner")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	op := res.Header.Get("Azure-AsyncOperation")
	if res.StatusCode != 201 || op == "" || res.Header.Get(operationErrorHeader) != "" {
		t.Fatalf("PUT: %d %v", res.StatusCode, res.Header)
	}
	r := call(t, srv, "GET", op[strings.Index(op, "/subscriptions"):], "owner", "")
	if r.status != 200 || r.body["status"] != "Failed" || prop(r, "error", "code") != "ContainerAppOperationError" || prop(r, "error", "message") != "the pull failed" {
		t.Fatalf("operation status: %d %v", r.status, r.body)
	}
}
