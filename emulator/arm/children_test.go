package arm

import (
	"fmt"
	"strings"
	"testing"
)

// step is one request of a table test and the status and error code it must answer.
type step struct {
	desc, method, path, body string
	status                   int
	code                     string
}

func runSteps(t *testing.T, steps []step, send func(method, path, body string) result) {
	t.Helper()
	for _, c := range steps {
		if r := send(c.method, c.path, c.body); r.status != c.status || errCode(r) != c.code {
			t.Errorf("%s: %d %v, want %d %s", c.desc, r.status, r.body, c.status, c.code)
		}
	}
}

func TestAgentPools(t *testing.T) {
	srv := newAPI(t)
	send := func(method, path, body string) result { return call(t, srv, method, path+v, "owner", body) }
	pools := regs + "/myregistry/agentPools"
	runSteps(t, []step{
		{"Basic registry", "PUT", regs + "/basicregistry/agentPools/pool1", `{"location":"eastus","properties":{"count":1}}`, 400, "AgentPoolNotSupported"},
		{"bad name", "PUT", pools + "/p", `{"location":"eastus"}`, 400, "InvalidResourceName"},
		{"bad tier", "PUT", pools + "/pool1", `{"location":"eastus","properties":{"tier":"S9"}}`, 400, "InvalidRequestContent"},
		{"bad count", "PUT", pools + "/pool1", `{"location":"eastus","properties":{"count":101}}`, 400, "InvalidRequestContent"},
		{"bad location", "PUT", pools + "/pool1", `{"location":"moon"}`, 400, "LocationNotAvailableForResourceType"},
		{"create", "PUT", pools + "/pool1", `{"location":"eastus","properties":{"count":1,"tier":"S2","os":"Linux"}}`, 201, ""},
		{"tier is set once", "PATCH", pools + "/pool1", `{"properties":{"tier":"S3"}}`, 400, "InvalidRequestContent"},
		{"scale", "PATCH", pools + "/pool1", `{"properties":{"count":2}}`, 201, ""},
		{"missing", "GET", pools + "/nothere", "", 404, "ResourceNotFound"},
	}, send)
	r := send("GET", pools+"/pool1", "")
	if r.status != 200 || r.body["id"] != pools+"/pool1" || r.body["type"] != agentPoolType || r.body["location"] != "eastus" ||
		prop(r, "properties", "count") != 2.0 || prop(r, "properties", "tier") != "S2" || prop(r, "properties", "provisioningState") != "Succeeded" ||
		prop(r, "systemData", "createdBy") != owner {
		t.Fatalf("pool: %d %v", r.status, r.body)
	}
	if r := call(t, srv, "POST", pools+"/pool1/listQueueStatus"+v, "reader", ""); r.status != 403 {
		t.Fatalf("reader's queue status: %d", r.status)
	}
	if r := send("POST", pools+"/pool1/listQueueStatus", ""); r.status != 200 || r.body["count"] != 0.0 {
		t.Fatalf("queue status: %d %v", r.status, r.body)
	}
	// The generic resources list shows the pool (it is a tracked resource).
	if r := send("GET", "/subscriptions/"+sub+"/resources", ""); !strings.Contains(fmt.Sprint(r.body), "/agentPools/pool1") {
		t.Fatalf("resources list: %v", r.body)
	}
	res, _ := do(t, srv, "DELETE", pools+"/pool1"+v, "owner", "")
	loc := res.Header.Get("Location")
	if res.StatusCode != 202 || !strings.Contains(loc, "/registries/myregistry/agentPoolsOperationResults/") || !strings.HasSuffix(strings.Split(loc, "?")[0], "/status") {
		t.Fatalf("delete: %d %q", res.StatusCode, loc)
	}
	if res, _ := do(t, srv, "GET", pathOf(t, loc), "owner", ""); res.StatusCode != 200 {
		t.Fatalf("delete's poll: %d", res.StatusCode)
	}
	// One GET still shows the pool, Deleting (az 2.45 reads it right after the DELETE); then it is gone.
	if r := send("GET", pools+"/pool1", ""); r.status != 200 || prop(r, "properties", "provisioningState") != "Deleting" {
		t.Fatalf("GET right after the DELETE: %d %v", r.status, r.body)
	}
	if r := send("GET", pools+"/pool1", ""); r.status != 404 {
		t.Fatalf("GET after that: %d %v", r.status, r.body)
	}
	if r := send("GET", pools, ""); len(r.body["value"].([]any)) != 0 {
		t.Fatalf("pools after delete: %v", r.body)
	}
}

func TestConnectedRegistries(t *testing.T) {
	srv := newAPI(t)
	send := func(method, path, body string) result { return call(t, srv, method, path+v, "owner", body) }
	crs := regs + "/myregistry/connectedRegistries"
	token := regs + "/myregistry/tokens/sync-token"
	create := `{"properties":{"mode":"ReadWrite","parent":{"syncProperties":{"tokenId":"` + token + `","schedule":"* * * * *","messageTtl":"P2D"}},"clientTokenIds":[]}}`
	runSteps(t, []step{
		{"Basic registry", "PUT", regs + "/basicregistry/connectedRegistries/cr1", create, 400, "ConnectedRegistryNotSupported"},
		{"no data endpoint", "PUT", crs + "/myconnected", create, 400, "DataEndpointNotEnabled"},
		{"data endpoint", "PATCH", regs + "/myregistry", `{"properties":{"dataEndpointEnabled":true}}`, 200, ""},
		{"no token", "PUT", crs + "/myconnected", `{"properties":{"mode":"ReadWrite"}}`, 400, "InvalidRequestContent"},
		{"token of another registry", "PUT", crs + "/myconnected", strings.ReplaceAll(create, "/myregistry/", "/basicregistry/"), 400, "InvalidRequestContent"},
		{"bad mode", "PUT", crs + "/myconnected", strings.Replace(create, "ReadWrite", "Sometimes", 1), 400, "InvalidRequestContent"},
		{"create", "PUT", crs + "/myconnected", create, 201, ""},
		{"child", "PUT", crs + "/mychild", `{"properties":{"mode":"ReadOnly","parent":{"id":"` + crs + `/myconnected","syncProperties":{"tokenId":"` + token + `"}}}}`, 201, ""},
		{"missing parent", "PUT", crs + "/orphan", `{"properties":{"mode":"ReadOnly","parent":{"id":"` + crs + `/nothere","syncProperties":{"tokenId":"` + token + `"}}}}`, 404, "ResourceNotFound"},
		{"mode is set once", "PATCH", crs + "/myconnected", `{"properties":{"mode":"ReadOnly"}}`, 400, "InvalidRequestContent"},
		{"update", "PATCH", crs + "/myconnected", `{"properties":{"syncProperties":{"schedule":"0 9 * * *","syncWindow":"PT3H"},"logging":{"logLevel":"Debug"},"notificationsList":["hello-world:*:push"]}}`, 201, ""},
		{"bad window", "PATCH", crs + "/myconnected", `{"properties":{"syncProperties":{"syncWindow":"3 hours"}}}`, 400, "InvalidRequestContent"},
		{"parent of a child", "DELETE", crs + "/myconnected", "", 409, "ConnectedRegistryHasChildren"},
		{"deactivate", "POST", crs + "/myconnected/deactivate", "", 200, ""},
	}, send)
	r := send("GET", crs+"/myconnected", "")
	if r.status != 200 || prop(r, "properties", "mode") != "ReadWrite" || prop(r, "properties", "parent", "syncProperties", "schedule") != "0 9 * * *" ||
		prop(r, "properties", "parent", "syncProperties", "syncWindow") != "PT3H" || prop(r, "properties", "parent", "syncProperties", "messageTtl") != "P2D" ||
		prop(r, "properties", "logging", "logLevel") != "Debug" || prop(r, "properties", "activation", "status") != "Inactive" ||
		prop(r, "properties", "connectionState") != "Offline" || prop(r, "properties", "parent", "syncProperties", "gatewayEndpoint") != "myregistry.eastus.data.azurecr.io" {
		t.Fatalf("connected registry: %d %v", r.status, r.body)
	}
	if r := send("GET", crs, ""); len(r.body["value"].([]any)) != 2 {
		t.Fatalf("list: %v", r.body)
	}
	for _, n := range []string{"mychild", "myconnected"} {
		if r := send("DELETE", crs+"/"+n, ""); r.status != 202 && r.status != 200 {
			t.Fatalf("delete %s: %d %v", n, r.status, r.body)
		}
	}
	if r := send("GET", crs+"/myconnected", ""); r.status != 404 {
		t.Fatalf("after delete: %d", r.status)
	}
}

func TestCacheRulesAndCredentialSets(t *testing.T) {
	srv := newAPI(t)
	send := func(method, path, body string) result { return call(t, srv, method, path+v, "owner", body) }
	sets, rules := regs+"/myregistry/credentialSets", regs+"/myregistry/cacheRules"
	set := `{"identity":{"type":"SystemAssigned"},"properties":{"loginServer":"docker.io","authCredentials":[{"name":"Credential1",` +
		`"usernameSecretIdentifier":"https://myvault.vault.azure.net/secrets/user","passwordSecretIdentifier":"https://myvault.vault.azure.net/secrets/pass"}]}}`
	runSteps(t, []step{
		{"no credentials", "PUT", sets + "/dockerhub", `{"properties":{"loginServer":"docker.io"}}`, 400, "InvalidRequestContent"},
		{"not a secret", "PUT", sets + "/dockerhub", strings.Replace(set, "https://myvault.vault.azure.net/secrets/user", "user", 1), 400, "InvalidRequestContent"},
		{"credential set", "PUT", sets + "/dockerhub", set, 201, ""},
		{"login server is set once", "PATCH", sets + "/dockerhub", `{"properties":{"loginServer":"quay.io"}}`, 400, "InvalidRequestContent"},
		{"bad source", "PUT", rules + "/nginx-rule", `{"properties":{"sourceRepository":"nginx","targetRepository":"nginx"}}`, 400, "InvalidRequestContent"},
		{"missing set", "PUT", rules + "/nginx-rule", `{"properties":{"sourceRepository":"docker.io/library/nginx","targetRepository":"nginx","credentialSetResourceId":"` + sets + `/nothere"}}`, 404, "ResourceNotFound"},
		{"rule", "PUT", rules + "/nginx-rule", `{"properties":{"sourceRepository":"docker.io/library/nginx","targetRepository":"nginx","credentialSetResourceId":"` + sets + `/dockerhub"}}`, 201, ""},
		{"same target", "PUT", rules + "/other-rule", `{"properties":{"sourceRepository":"docker.io/library/httpd","targetRepository":"nginx"}}`, 409, "CacheRuleTargetInUse"},
		{"set in use", "DELETE", sets + "/dockerhub", "", 409, "CredentialSetInUse"},
		{"target is set once", "PATCH", rules + "/nginx-rule", `{"properties":{"targetRepository":"web"}}`, 400, "InvalidRequestContent"},
		{"credentials removed", "PATCH", rules + "/nginx-rule", `{"properties":{"credentialSetResourceId":null}}`, 201, ""},
		// Wildcards, as ACR documents them: both sides or neither, wildcard rules never overlapping.
		{"wildcard rule", "PUT", rules + "/dotnet-all", `{"properties":{"sourceRepository":"mcr.microsoft.com/dotnet/*","targetRepository":"dotnet/*"}}`, 201, ""},
		{"wildcard on one side", "PUT", rules + "/half-wild", `{"properties":{"sourceRepository":"mcr.microsoft.com/*","targetRepository":"mirror"}}`, 400, "InvalidRequestContent"},
		{"overlapping wildcard", "PUT", rules + "/everything", `{"properties":{"sourceRepository":"mcr.microsoft.com/*","targetRepository":"*"}}`, 409, "CacheRuleTargetInUse"},
		{"static rule under a wildcard", "PUT", rules + "/dotnet-sdk", `{"properties":{"sourceRepository":"ghcr.io/acme/sdk","targetRepository":"dotnet/sdk"}}`, 201, ""},
		{"loopback upstream with a port", "PUT", rules + "/loopback", `{"properties":{"sourceRepository":"127.0.0.1:5000/library/hello","targetRepository":"hello"}}`, 201, ""},
		{"bad port", "PUT", rules + "/badport", `{"properties":{"sourceRepository":"127.0.0.1:http/hello","targetRepository":"hello2"}}`, 400, "InvalidRequestContent"},
	}, send)
	for _, p := range []string{rules + "/dotnet-all", rules + "/dotnet-sdk", rules + "/loopback"} {
		if r := send("DELETE", p, ""); r.status >= 300 {
			t.Fatalf("delete %s: %d %v", p, r.status, r.body)
		}
	}
	r := send("GET", rules+"/nginx-rule", "")
	if r.status != 200 || prop(r, "properties", "credentialSetResourceId") != nil || prop(r, "properties", "sourceRepository") != "docker.io/library/nginx" ||
		prop(r, "properties", "creationDate") == nil {
		t.Fatalf("rule: %d %v", r.status, r.body)
	}
	r = send("GET", sets+"/dockerhub", "")
	if r.status != 200 || prop(r, "identity", "type") != "systemAssigned" || prop(r, "properties", "loginServer") != "docker.io" ||
		prop(r, "identity", "principalId") == "" {
		t.Fatalf("set: %d %v", r.status, r.body)
	}
	health := func() any {
		creds, _ := prop(send("GET", sets+"/dockerhub", ""), "properties", "authCredentials").([]any)
		if len(creds) != 1 {
			t.Fatalf("set's credentials: %v", creds)
		}
		h := creds[0].(map[string]any)["credentialHealth"].(map[string]any)
		return fmt.Sprint(h["status"], " ", h["errorCode"])
	}
	if h := health(); h != "Unhealthy Forbidden" {
		t.Fatalf("a new set's health: %s", h)
	}
	// Granting the set's identity a role on the vault makes it Healthy.
	vault := "/subscriptions/" + sub + "/resourceGroups/demo-rg/providers/Microsoft.KeyVault/vaults/myvault"
	if r := call(t, srv, "PUT", vault+"/providers/Microsoft.Authorization/roleAssignments/4e3d1d5c-7c55-4f5e-8d3e-6a8f0b6b7c11?api-version=2022-04-01", "owner",
		`{"properties":{"roleDefinitionId":"/subscriptions/`+sub+`/providers/Microsoft.Authorization/roleDefinitions/acdd72a7-3385-48ef-bd42-f606fba81ae7","principalId":"`+
			prop(r, "identity", "principalId").(string)+`","principalType":"ServicePrincipal"}}`); r.status != 201 {
		t.Fatalf("role assignment on the vault: %d %v", r.status, r.body)
	}
	if h := health(); h != "Healthy <nil>" {
		t.Fatalf("health once the identity may read the vault: %s", h)
	}
	for _, p := range []string{sets + "/dockerhub", rules + "/nginx-rule", sets + "/dockerhub"} {
		if r := send("DELETE", p, ""); r.status >= 300 {
			t.Fatalf("delete %s: %d %v", p, r.status, r.body)
		}
	}
}
