package arm

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/rbac"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

const (
	sub    = "22222222-2222-2222-2222-222222222222"
	tenant = "11111111-1111-1111-1111-111111111111"
	owner  = "aaaaaaaa-0000-0000-0000-000000000001"
	reader = "aaaaaaaa-0000-0000-0000-000000000002"
	contr  = "aaaaaaaa-0000-0000-0000-000000000003"
	other  = "aaaaaaaa-0000-0000-0000-000000000004"
	rgPath = "/subscriptions/" + sub + "/resourceGroups/demo-rg"
	regs   = rgPath + "/providers/Microsoft.ContainerRegistry/registries"
	v      = "?api-version=2025-11-01"
)

type verifier map[string]*Identity

func (f verifier) VerifyEntraToken(raw string) (*Identity, error) {
	if id, ok := f[raw]; ok {
		return id, nil
	}
	return nil, errors.New("invalid")
}

func newAPI(t *testing.T) *httptest.Server { return newAPIConfig(t, func(*Config) {}) }

// newAPIConfig serves the management plane over a store with the demo world's resource group,
// myregistry (Premium) and basicregistry (Basic), and principals with the roles their names say.
func newAPIConfig(t *testing.T, configure func(*Config)) *httptest.Server {
	t.Helper()
	st := store.New()
	arm := "https://management.azure.com/"
	ver := verifier{
		"owner":    {TenantID: tenant, ObjectID: owner, Audience: arm},
		"reader":   {TenantID: tenant, ObjectID: reader, Audience: "https://management.core.windows.net/"},
		"contrib":  {TenantID: tenant, ObjectID: contr, Audience: arm},
		"other":    {TenantID: tenant, ObjectID: other, Audience: arm},
		"acrtoken": {TenantID: tenant, ObjectID: owner, Audience: "https://containerregistry.azure.net"},
		// The Owner's object id, signed by this Entra, but issued in another tenant.
		"foreign": {TenantID: "99999999-9999-9999-9999-999999999999", ObjectID: owner, Audience: arm},
	}
	for id, role := range map[string]string{owner: "Owner", reader: "Reader", contr: "Contributor"} {
		r, _ := rbac.RoleByName(role)
		if err := st.PutPrincipal(&store.Principal{ObjectID: id, AppID: "app-" + id, TenantID: tenant, Kind: store.KindServicePrincipal}); err != nil {
			t.Fatal(err)
		}
		if err := st.PutRoleAssignment(&store.RoleAssignment{ID: "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleAssignments/" + id,
			Name: id, Scope: "/subscriptions/" + sub, RoleDefinitionID: rbac.DefinitionID(sub, r.ID), PrincipalID: id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.PutResourceGroup(&store.ResourceGroup{Name: "demo-rg", Location: "eastus"}); err != nil {
		t.Fatal(err)
	}
	_ = st.PutPrincipal(&store.Principal{ObjectID: other, AppID: "app-other", TenantID: tenant, Kind: store.KindManagedIdentity})
	for name, sku := range map[string]string{"myregistry": "Premium", "basicregistry": "Basic"} {
		if err := st.PutRegistry(&store.Registry{Name: name, LoginServer: name + ".azurecr.io", ID: regs + "/" + name, SKU: sku, AdminUserEnabled: true,
			AdminUsername: name, AdminPasswords: [2]string{"p1", "p2"}, AuthAsARM: true, RoleAssignmentMode: "LegacyRegistryPermissions",
			PublicNetworkAccess: true, DefaultActionAllow: true, BypassAzureServices: true, IPRules: []string{"198.51.100.7"}}); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Store: st, Entra: ver, TenantID: tenant, SubscriptionID: sub, Location: "eastus",
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Create: st.PutRegistry, Delete: st.DeleteRegistry}
	configure(&cfg)
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	return srv
}

type result struct {
	status int
	body   map[string]any
}

func call(t *testing.T, srv *httptest.Server, method, path, token, body string) result {
	t.Helper()
	req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(res.Body).Decode(&m)
	return result{res.StatusCode, m}
}

func errCode(r result) string {
	e, _ := r.body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func prop(r result, path ...string) any {
	var cur any = r.body
	for _, p := range path {
		m, _ := cur.(map[string]any)
		cur = m[p]
	}
	return cur
}

func TestCalls(t *testing.T) {
	srv := newAPI(t)
	tests := []struct {
		desc, method, path, token, body string
		status                          int
		code                            string
	}{
		{"missing api-version", "GET", regs + "/myregistry", "owner", "", 400, "MissingApiVersionParameter"},
		{"any api-version of the right form", "GET", regs + "/myregistry?api-version=2099-12-31-preview", "owner", "", 200, ""},
		{"malformed api-version", "GET", regs + "/myregistry?api-version=latest", "owner", "", 400, "InvalidApiVersionParameter"},
		{"no token", "GET", regs + "/myregistry" + v, "", "", 401, "AuthenticationFailed"},
		{"invalid token", "GET", regs + "/myregistry" + v, "forged", "", 401, "InvalidAuthenticationToken"},
		{"ACR audience is not ARM", "GET", regs + "/myregistry" + v, "acrtoken", "", 401, "InvalidAuthenticationTokenAudience"},
		{"reader reads (lowercase resourcegroups too)", "GET", strings.Replace(regs, "resourceGroups", "resourcegroups", 1) + "/myregistry" + v, "reader", "", 200, ""},
		{"reader cannot write", "PATCH", regs + "/myregistry" + v, "reader", `{"properties":{"adminUserEnabled":false}}`, 403, "AuthorizationFailed"},
		{"unknown registry", "GET", regs + "/nothere" + v, "owner", "", 404, "ResourceNotFound"},
		{"unknown resource group", "GET", "/subscriptions/" + sub + "/resourceGroups/x/providers/Microsoft.ContainerRegistry/registries/myregistry" + v, "owner", "", 404, "ResourceGroupNotFound"},
		{"unknown subscription", "GET", "/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/demo-rg" + v, "owner", "", 404, "SubscriptionNotFound"},
		{"Basic cannot disable public access", "PATCH", regs + "/basicregistry" + v, "owner", `{"properties":{"publicNetworkAccess":"Disabled"}}`, 400, "DisablingPublicNetworkAccessNotSupported"},
		{"Basic cannot have network rules", "PATCH", regs + "/basicregistry" + v, "owner", `{"properties":{"networkRuleSet":{"defaultAction":"Deny"}}}`, 400, "NetworkRuleSetNotSupported"},
		{"IPv6 rule", "PATCH", regs + "/myregistry" + v, "owner", `{"properties":{"networkRuleSet":{"ipRules":[{"value":"2001:db8::1"}]}}}`, 400, "InvalidIpAddressOrRange"},
		{"unknown enum value", "PATCH", regs + "/myregistry" + v, "owner", `{"properties":{"publicNetworkAccess":"Sometimes"}}`, 400, "InvalidRequestContent"},
		{"bad JSON", "PATCH", regs + "/myregistry" + v, "owner", `{"properties":`, 400, "InvalidRequestContent"},
		{"wrong type", "PATCH", regs + "/myregistry" + v, "owner", `{"properties":{"adminUserEnabled":"yes"}}`, 400, "InvalidRequestContent"},
		{"invalid name on PUT", "PUT", regs + "/my-registry" + v, "owner", `{"location":"eastus","sku":{"name":"Basic"}}`, 400, "InvalidResourceName"},
		{"sku required on create", "PUT", regs + "/newregistry" + v, "owner", `{"location":"eastus"}`, 400, "InvalidRequestContent"},
		{"create", "PUT", regs + "/newregistry" + v, "owner", `{"location":"eastus","sku":{"name":"Standard"}}`, 201, ""},
		{"update by PUT", "PUT", regs + "/newregistry" + v, "owner", `{"location":"eastus","sku":{"name":"Premium"}}`, 200, ""},
		{"location required on create", "PUT", regs + "/otherregistry" + v, "owner", `{"sku":{"name":"Basic"}}`, 400, "LocationRequired"},
		{"a PUT cannot move a registry", "PUT", regs + "/myregistry" + v, "owner", `{"location":"westus","sku":{"name":"Premium"}}`, 400, "InvalidResourceLocation"},
		{"listCredentials", "POST", regs + "/myregistry/listCredentials" + v, "owner", "", 200, ""},
		{"name taken", "POST", "/subscriptions/" + sub + "/providers/Microsoft.ContainerRegistry/checkNameAvailability" + v, "owner", `{"name":"myregistry","type":"Microsoft.ContainerRegistry/registries"}`, 200, ""},
		{"regenerate unknown password", "POST", regs + "/myregistry/regenerateCredential" + v, "owner", `{"name":"password3"}`, 400, "InvalidRequestContent"},
		{"usages", "GET", regs + "/myregistry/listUsages" + v, "reader", "", 200, ""},
		{"operations need no token", "GET", "/providers/Microsoft.ContainerRegistry/operations" + v, "", "", 200, ""},
		{"reader cannot delete", "DELETE", regs + "/myregistry" + v, "reader", "", 403, "AuthorizationFailed"},
		{"role definitions by name", "GET", "/subscriptions/" + sub + "/providers/Microsoft.Authorization/roleDefinitions" + v + "&$filter=roleName%20eq%20'acrpull'", "owner", "", 200, ""},
		{"unknown namespace", "GET", "/subscriptions/" + sub + "/providers/Microsoft.Nothing/things" + v, "owner", "", 404, "InvalidResourceNamespace"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			r := call(t, srv, tc.method, tc.path, tc.token, tc.body)
			if r.status != tc.status || errCode(r) != tc.code {
				t.Fatalf("got %d %q (%v), want %d %q", r.status, errCode(r), r.body, tc.status, tc.code)
			}
		})
	}
}

// properties.policies: kept and shown; export can be disabled only on a Premium registry with
// public network access disabled.
func TestRegistryPolicies(t *testing.T) {
	srv := newAPI(t)
	for _, tc := range []struct {
		desc, path, body string
		status           int
		code             string
	}{
		{"export off on Basic", "/basicregistry", `{"properties":{"networkRuleSet":{"ipRules":[]},"policies":{"exportPolicy":{"status":"disabled"}}}}`, 400, "ExportPolicyNotSupported"},
		{"export off with public access", "/myregistry", `{"properties":{"policies":{"exportPolicy":{"status":"disabled"}}}}`, 400, "ExportPolicyRequiresPublicNetworkAccessDisabled"},
		{"retention of 400 days", "/myregistry", `{"properties":{"policies":{"retentionPolicy":{"status":"enabled","days":400}}}}`, 400, "InvalidRequestContent"},
		{"trust status", "/myregistry", `{"properties":{"policies":{"trustPolicy":{"type":"Notary","status":"maybe"}}}}`, 400, "InvalidRequestContent"},
	} {
		if r := call(t, srv, "PATCH", regs+tc.path+v, "owner", tc.body); r.status != tc.status || errCode(r) != tc.code {
			t.Errorf("%s: %d %v", tc.desc, r.status, r.body)
		}
	}
	if r := call(t, srv, "GET", regs+"/myregistry"+v, "reader", ""); prop(r, "properties", "policies", "exportPolicy", "status") != "enabled" ||
		prop(r, "properties", "publicNetworkAccess") != "Enabled" || prop(r, "properties", "policies", "retentionPolicy", "status") != "disabled" {
		t.Fatalf("refused PATCHes changed the registry: %v", r.body)
	}
	r := call(t, srv, "PATCH", regs+"/myregistry"+v, "owner", `{"properties":{"publicNetworkAccess":"Disabled","policies":{"exportPolicy":{"status":"disabled"},`+
		`"retentionPolicy":{"status":"enabled","days":30},"trustPolicy":{"type":"Notary","status":"enabled"},"quarantinePolicy":{"status":"enabled"}}}}`)
	if r.status != 200 || prop(r, "properties", "policies", "exportPolicy", "status") != "disabled" ||
		prop(r, "properties", "policies", "retentionPolicy", "days") != float64(30) || prop(r, "properties", "policies", "retentionPolicy", "status") != "enabled" ||
		prop(r, "properties", "policies", "trustPolicy", "status") != "enabled" || prop(r, "properties", "policies", "quarantinePolicy", "status") != "enabled" {
		t.Fatalf("policies: %d %v", r.status, r.body["properties"])
	}
	// A PATCH of one policy keeps the others.
	r = call(t, srv, "PATCH", regs+"/myregistry"+v, "owner", `{"properties":{"policies":{"retentionPolicy":{"days":10}}}}`)
	if prop(r, "properties", "policies", "retentionPolicy", "days") != float64(10) || prop(r, "properties", "policies", "retentionPolicy", "status") != "enabled" ||
		prop(r, "properties", "policies", "exportPolicy", "status") != "disabled" {
		t.Fatalf("partial policies PATCH: %v", r.body["properties"])
	}
	r = call(t, srv, "PATCH", regs+"/myregistry"+v, "owner", `{"properties":{"policies":{"azureADAuthenticationAsArmPolicy":{"status":"Disabled"}}}}`)
	if prop(r, "properties", "policies", "azureADAuthenticationAsArmPolicy", "status") != "disabled" || prop(r, "properties", "policies", "trustPolicy", "status") != "enabled" {
		t.Fatalf("azureADAuthenticationAsArmPolicy: %v", r.body["properties"])
	}
}

// A registry is where it was created, spelled as ARM spells locations.
func TestRegistryLocation(t *testing.T) {
	srv := newAPI(t)
	r := call(t, srv, "PUT", regs+"/eurregistry"+v, "owner", `{"location":"West Europe","sku":{"name":"Basic"},"tags":{"team":"eu"}}`)
	if r.status != 201 || r.body["location"] != "westeurope" {
		t.Fatalf("create in West Europe: %d %v", r.status, r.body)
	}
	if got := call(t, srv, "GET", regs+"/eurregistry"+v, "reader", ""); got.body["location"] != "westeurope" {
		t.Fatalf("GET: %v", got.body["location"])
	}
	if r := call(t, srv, "PUT", regs+"/eurregistry"+v, "owner", `{"location":"westeurope","sku":{"name":"Standard"}}`); r.status != 200 || r.body["location"] != "westeurope" {
		t.Fatalf("update in place: %d %v", r.status, r.body)
	}
	list := call(t, srv, "GET", "/subscriptions/"+sub+"/resources"+v, "reader", "")
	found := false
	for _, item := range list.body["value"].([]any) {
		if m := item.(map[string]any); m["name"] == "eurregistry" {
			found = m["location"] == "westeurope"
		}
	}
	if !found {
		t.Fatalf("resources list: %v", list.body)
	}
	if r := call(t, srv, "PUT", regs+"/nowhereregistry"+v, "owner", `{"sku":{"name":"Basic"}}`); r.status != 400 || errCode(r) != "LocationRequired" {
		t.Fatalf("create without a location: %d %v", r.status, r.body)
	}
	if got := call(t, srv, "GET", regs+"/nowhereregistry"+v, "reader", ""); got.status != 404 {
		t.Fatalf("a refused create left a registry: %d", got.status)
	}
}

func TestAsyncOperationHeader(t *testing.T) {
	srv := newAPI(t)
	req, _ := http.NewRequest("PUT", srv.URL+regs+"/myregistry"+v, strings.NewReader(`{"location":"eastus","sku":{"name":"Premium"}}`))
	req.Header.Set("Authorization", "Bearer owner")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	op := res.Header.Get("Azure-AsyncOperation")
	if !strings.Contains(op, regs+"/myregistry/operationStatuses/registries-") || !strings.HasSuffix(op, "api-version=2025-11-01") {
		t.Fatalf("Azure-AsyncOperation = %q", op)
	}
	path := op[strings.Index(op, "/subscriptions"):]
	if r := call(t, srv, "GET", path, "reader", ""); r.status != 200 || r.body["status"] != "Succeeded" {
		t.Fatalf("operation status: %d %v", r.status, r.body)
	}
}

func TestPatchMerges(t *testing.T) {
	srv := newAPI(t)
	r := call(t, srv, "PATCH", regs+"/myregistry"+v, "owner", `{"properties":{"networkRuleSet":{"defaultAction":"Deny"}}}`)
	if r.status != 200 || prop(r, "properties", "networkRuleSet", "defaultAction") != "Deny" {
		t.Fatalf("PATCH defaultAction: %d %v", r.status, r.body)
	}
	rules, _ := prop(r, "properties", "networkRuleSet", "ipRules").([]any)
	if len(rules) != 1 {
		t.Fatalf("a PATCH without ipRules must keep them: %v", rules)
	}
	// Everything else is unchanged.
	if prop(r, "properties", "publicNetworkAccess") != "Enabled" || prop(r, "properties", "networkRuleBypassOptions") != "AzureServices" ||
		prop(r, "properties", "adminUserEnabled") != true || prop(r, "sku", "name") != "Premium" {
		t.Fatalf("PATCH changed other properties: %v", r.body)
	}
	r = call(t, srv, "PATCH", regs+"/myregistry"+v, "owner", `{"properties":{"networkRuleSet":{"ipRules":[]},"networkRuleBypassOptions":"None"}}`)
	rules, _ = prop(r, "properties", "networkRuleSet", "ipRules").([]any)
	if len(rules) != 0 || prop(r, "properties", "networkRuleBypassOptions") != "None" {
		t.Fatalf("clearing rules / bypass off: %v", r.body)
	}
	// Tags: a PATCH without them keeps them, a PATCH with them replaces them all, and so does a PUT.
	r = call(t, srv, "PATCH", regs+"/myregistry"+v, "owner", `{"tags":{"env":"dev","team":"blue"}}`)
	if r.status != 200 || prop(r, "tags", "env") != "dev" || prop(r, "tags", "team") != "blue" {
		t.Fatalf("PATCH tags: %d %v", r.status, r.body)
	}
	r = call(t, srv, "PATCH", regs+"/myregistry"+v, "owner", `{"properties":{"adminUserEnabled":true}}`)
	if prop(r, "tags", "env") != "dev" {
		t.Fatalf("a PATCH without tags must keep them: %v", r.body)
	}
	r = call(t, srv, "PATCH", regs+"/myregistry"+v, "owner", `{"tags":{"env":"prod"}}`)
	if tags, _ := r.body["tags"].(map[string]any); len(tags) != 1 || tags["env"] != "prod" {
		t.Fatalf("PATCH tags replaces them: %v", r.body["tags"])
	}
	if got := call(t, srv, "GET", regs+"/myregistry"+v, "reader", ""); prop(got, "tags", "env") != "prod" {
		t.Fatalf("GET after PATCH tags: %v", got.body["tags"])
	}
	r = call(t, srv, "PUT", regs+"/myregistry"+v, "owner", `{"location":"eastus","sku":{"name":"Premium"}}`)
	if tags, ok := r.body["tags"].(map[string]any); r.status != 200 || !ok || len(tags) != 0 {
		t.Fatalf("PUT without tags: %d %v", r.status, r.body["tags"])
	}
	big := `{"properties":{"networkRuleSet":{"ipRules":[` + strings.TrimSuffix(strings.Repeat(`{"value":"203.0.113.1"},`, 201), ",") + `]}}}`
	if r := call(t, srv, "PATCH", regs+"/myregistry"+v, "owner", big); r.status != 400 || errCode(r) != "TooManyIpRules" {
		t.Fatalf("201 rules: %d %v", r.status, r.body)
	}
}

func TestRoleAssignments(t *testing.T) {
	srv := newAPI(t)
	acrPull, _ := rbac.RoleByName("AcrPull")
	scope := regs + "/myregistry"
	base := scope + "/providers/Microsoft.Authorization/roleAssignments/"
	body := `{"properties":{"roleDefinitionId":"` + rbac.DefinitionID(sub, acrPull.ID) + `","principalId":"` + other + `","principalType":"ServicePrincipal"}}`
	if r := call(t, srv, "PUT", base+"11111111-aaaa-aaaa-aaaa-000000000001"+v, "contrib", body); r.status != 403 || errCode(r) != "AuthorizationFailed" {
		t.Fatalf("Contributor assigning a role: %d %v", r.status, r.body)
	}
	r := call(t, srv, "PUT", base+"11111111-aaaa-aaaa-aaaa-000000000001"+v, "owner", body)
	if r.status != 201 || prop(r, "properties", "scope") != scope || prop(r, "properties", "principalId") != other {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "PUT", base+"11111111-aaaa-aaaa-aaaa-000000000002"+v, "owner", body); r.status != 409 || errCode(r) != "RoleAssignmentExists" {
		t.Fatalf("duplicate: %d %v", r.status, r.body)
	}
	missing := strings.Replace(body, other, "bbbbbbbb-0000-0000-0000-000000000000", 1)
	if r := call(t, srv, "PUT", base+"11111111-aaaa-aaaa-aaaa-000000000003"+v, "owner", missing); r.status != 400 || errCode(r) != "PrincipalNotFound" {
		t.Fatalf("unknown principal: %d %v", r.status, r.body)
	}
	list := call(t, srv, "GET", scope+"/providers/Microsoft.Authorization/roleAssignments"+v+"&$filter=principalId%20eq%20'"+other+"'", "reader", "")
	if vals, _ := list.body["value"].([]any); list.status != 200 || len(vals) != 1 {
		t.Fatalf("list by principal: %d %v", list.status, list.body)
	}
	// At the registry scope, the subscription-level assignments apply too.
	all := call(t, srv, "GET", scope+"/providers/Microsoft.Authorization/roleAssignments"+v+"&$filter=atScope()", "reader", "")
	if vals, _ := all.body["value"].([]any); len(vals) != 4 {
		t.Fatalf("atScope list: %v", all.body)
	}
	if r := call(t, srv, "DELETE", base+"11111111-aaaa-aaaa-aaaa-000000000001"+v, "owner", ""); r.status != 200 {
		t.Fatalf("delete: %d", r.status)
	}
	if r := call(t, srv, "DELETE", base+"11111111-aaaa-aaaa-aaaa-000000000001"+v, "owner", ""); r.status != 204 {
		t.Fatalf("delete again: %d", r.status)
	}
	if r := call(t, srv, "GET", base+"11111111-aaaa-aaaa-aaaa-000000000001"+v, "owner", ""); r.status != 404 || errCode(r) != "RoleAssignmentNotFound" {
		t.Fatalf("get deleted: %d %v", r.status, r.body)
	}
}

func TestRegistryLifecycleOps(t *testing.T) {
	srv := newAPI(t)
	check := func(name string) (bool, string) {
		r := call(t, srv, "POST", "/subscriptions/"+sub+"/providers/Microsoft.ContainerRegistry/checkNameAvailability"+v, "owner",
			`{"name":"`+name+`","type":"Microsoft.ContainerRegistry/registries"}`)
		reason, _ := r.body["reason"].(string)
		return r.body["nameAvailable"] == true, reason
	}
	if ok, reason := check("myregistry"); ok || reason != "AlreadyExists" {
		t.Fatalf("taken name: %v %s", ok, reason)
	}
	if ok, reason := check("a-b"); ok || reason != "Invalid" {
		t.Fatalf("invalid name: %v %s", ok, reason)
	}
	if ok, _ := check("freshname"); !ok {
		t.Fatal("free name reported taken")
	}
	r := call(t, srv, "POST", regs+"/myregistry/regenerateCredential"+v, "owner", `{"name":"password2"}`)
	pw, _ := r.body["passwords"].([]any)
	if r.status != 200 || len(pw) != 2 || pw[0].(map[string]any)["value"] != "p1" || pw[1].(map[string]any)["value"] == "p2" {
		t.Fatalf("regenerate password2: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "DELETE", regs+"/myregistry"+v, "owner", ""); r.status != 200 {
		t.Fatalf("delete: %d", r.status)
	}
	if r := call(t, srv, "GET", regs+"/myregistry"+v, "owner", ""); r.status != 404 {
		t.Fatalf("get after delete: %d", r.status)
	}
	if r := call(t, srv, "DELETE", regs+"/myregistry"+v, "owner", ""); r.status != 204 {
		t.Fatalf("delete again: %d", r.status)
	}
	if ok, _ := check("myregistry"); !ok {
		t.Fatal("a deleted registry's name stays taken")
	}
}

func TestUserAssignedIdentities(t *testing.T) {
	srv := newAPI(t)
	path := rgPath + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/puller" + v
	r := call(t, srv, "PUT", path, "owner", `{"location":"eastus"}`)
	principal, _ := prop(r, "properties", "principalId").(string)
	clientID, _ := prop(r, "properties", "clientId").(string)
	if r.status != 201 || len(principal) != 36 || len(clientID) != 36 || prop(r, "properties", "tenantId") != tenant {
		t.Fatalf("create: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "PUT", path, "owner", `{"location":"eastus"}`); r.status != 200 || prop(r, "properties", "principalId") != principal {
		t.Fatalf("PUT again must keep the identity: %d %v", r.status, r.body)
	}
	// The new identity can be granted a role at once.
	acrPull, _ := rbac.RoleByName("AcrPull")
	ra := `{"properties":{"roleDefinitionId":"` + rbac.DefinitionID(sub, acrPull.ID) + `","principalId":"` + principal + `"}}`
	if r := call(t, srv, "PUT", regs+"/myregistry/providers/Microsoft.Authorization/roleAssignments/22222222-aaaa-aaaa-aaaa-000000000001"+v, "owner", ra); r.status != 201 {
		t.Fatalf("role for the new identity: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "GET", rgPath+"/providers/Microsoft.ManagedIdentity/userAssignedIdentities"+v, "reader", ""); len(r.body["value"].([]any)) != 1 {
		t.Fatalf("list: %v", r.body)
	}
	if r := call(t, srv, "PUT", path, "reader", `{}`); r.status != 403 {
		t.Fatalf("reader creating an identity: %d", r.status)
	}
	if r := call(t, srv, "DELETE", path, "owner", ""); r.status != 200 {
		t.Fatalf("delete: %d", r.status)
	}
	if r := call(t, srv, "GET", path, "owner", ""); r.status != 404 {
		t.Fatalf("get after delete: %d", r.status)
	}
}

// ARM refuses a token issued in another tenant than the subscription's, whatever roles its
// object id holds here.
func TestForeignTenantToken(t *testing.T) {
	srv := newAPI(t)
	r := call(t, srv, "GET", regs+"/myregistry"+v, "foreign", "")
	if r.status != 401 || errCode(r) != "InvalidAuthenticationTokenTenant" {
		t.Fatalf("token of another tenant: %d %v", r.status, r.body)
	}
	msg, _ := r.body["error"].(map[string]any)["message"].(string)
	if !strings.Contains(msg, "https://sts.windows.net/99999999-9999-9999-9999-999999999999/") || !strings.Contains(msg, "https://sts.windows.net/"+tenant+"/") {
		t.Errorf("message = %q", msg)
	}
	if r := call(t, srv, "GET", regs+"/myregistry"+v, "owner", ""); r.status != 200 {
		t.Fatalf("the same principal in its own tenant: %d %v", r.status, r.body)
	}
}

// A custom cloud (the azurerm provider's metadata_host) reads resourceManager from the metadata
// and asks for a token of that audience: the emulator's own URL is an ARM audience.
func TestCustomCloudAudienceAndMetadata(t *testing.T) {
	var ver verifier
	srv := newAPIConfig(t, func(c *Config) { ver = c.Entra.(verifier) })
	host := strings.TrimPrefix(srv.URL, "http://")
	ver["self"] = &Identity{TenantID: tenant, ObjectID: owner, Audience: "https://" + host}
	ver["elsewhere"] = &Identity{TenantID: tenant, ObjectID: owner, Audience: "https://elsewhere.example"}
	if r := call(t, srv, "GET", regs+"/myregistry"+v, "self", ""); r.status != 200 {
		t.Fatalf("the emulator's own audience: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "GET", regs+"/myregistry"+v, "elsewhere", ""); r.status != 401 || errCode(r) != "InvalidAuthenticationTokenAudience" {
		t.Fatalf("another audience: %d %v", r.status, r.body)
	}
	get := func(version string) any {
		res, err := http.Get(srv.URL + "/metadata/endpoints?api-version=" + version)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body any
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body
	}
	old, _ := get("2015-01-01").(map[string]any)
	if old["galleryEndpoint"] != "https://"+host+"/" || old["authentication"].(map[string]any)["loginEndpoint"] != "https://"+host+"/" {
		t.Errorf("2015-01-01: %v", old)
	}
	if list, ok := get("2019-05-01").([]any); !ok || len(list) != 1 {
		t.Errorf("2019-05-01 lists the clouds: %v", list)
	}
	cur, _ := get("2022-09-01").(map[string]any)
	if cur["resourceManager"] != "https://"+host+"/" || cur["authentication"].(map[string]any)["loginEndpoint"] != "https://"+host || cur["name"] == nil || cur["microsoftGraphResourceId"] == nil {
		t.Errorf("2022-09-01: %v", cur)
	}
}
