package imds

import (
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/acr-emulator/acr-emulator/fakes/entra"
)

type dir struct{ c *Compute }

func (d dir) ComputeByHeader(h string) (*Compute, error) {
	if h == "secret" {
		return d.c, nil
	}
	return nil, nil
}
func (d dir) IMDSCompute() (*Compute, error) { return d.c, nil }

func TestEndpoints(t *testing.T) {
	iss, err := entra.NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	const vm = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
	const uami = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id"
	system := &entra.Principal{ObjectID: "o-system", AppID: "c-system", TenantID: "t", Kind: entra.KindManagedIdentity, ResourceID: vm}
	user := &entra.Principal{ObjectID: "o-user", AppID: "c-user", TenantID: "t", Kind: entra.KindManagedIdentity, ResourceID: uami}
	h := NewHandler(dir{&Compute{ID: vm, System: system, User: []*entra.Principal{user}}}, iss)
	const acr = "resource=https://containerregistry.azure.net"
	tests := []struct {
		desc, url string
		header    map[string]string
		status    int
		oid       string // expected token subject
		errCode   string
	}{
		{"app service, system", AppServicePath + "?api-version=2019-08-01&" + acr, map[string]string{"X-IDENTITY-HEADER": "secret"}, 200, "o-system", ""},
		{"app service, client_id", AppServicePath + "?" + acr + "&client_id=c-user", map[string]string{"X-IDENTITY-HEADER": "secret"}, 200, "o-user", ""},
		{"app service, object_id", AppServicePath + "?" + acr + "&object_id=o-user", map[string]string{"X-IDENTITY-HEADER": "secret"}, 200, "o-user", ""},
		{"app service, mi_res_id", AppServicePath + "?" + acr + "&mi_res_id=" + uami, map[string]string{"X-IDENTITY-HEADER": "secret"}, 200, "o-user", ""},
		{"app service, unknown identity is 400", AppServicePath + "?" + acr + "&client_id=nope", map[string]string{"X-IDENTITY-HEADER": "secret"}, 400, "", "invalid_request"},
		{"app service, wrong header", AppServicePath + "?" + acr, map[string]string{"X-IDENTITY-HEADER": "guess"}, 401, "", "unknown_source"},
		{"app service, no header", AppServicePath + "?" + acr, nil, 400, "", "invalid_request"},
		{"unknown resource", AppServicePath + "?resource=https://vault.azure.net", map[string]string{"X-IDENTITY-HEADER": "secret"}, 400, "", "invalid_resource"},
		{"imds, system", IMDSPath + "?api-version=2018-02-01&" + acr, map[string]string{"Metadata": "true"}, 200, "o-system", ""},
		{"imds, msi_res_id", IMDSPath + "?" + acr + "&msi_res_id=" + uami, map[string]string{"Metadata": "true"}, 200, "o-user", ""},
		{"imds probe without Metadata", IMDSPath, nil, 400, "", "bad_request_102"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			req := httptest.NewRequest("GET", tc.url, nil)
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			var body map[string]string
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("not JSON: %s", rec.Body)
			}
			if rec.Code != tc.status || body["error"] != tc.errCode {
				t.Fatalf("got %d %v", rec.Code, body)
			}
			if tc.oid == "" {
				return
			}
			c, err := iss.Verify(body["access_token"])
			if err != nil || c.ObjectID != tc.oid || c.Audience != "https://containerregistry.azure.net" || body["expires_on"] == "" {
				t.Fatalf("token %+v %v, body %v", c, err, body)
			}
		})
	}
}
