package emulator_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// entraToken gets an Entra token for scope as a service principal of the world.
func entraToken(t *testing.T, emu *emulatortest.Emulator, clientID, secret, scope string) string {
	t.Helper()
	tenant, _, _ := emu.ServicePrincipal()
	res, err := emu.Client().PostForm(emu.HTTPSURL()+"/"+tenant+"/oauth2/v2.0/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {clientID}, "client_secret": {secret}, "scope": {scope}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token for %s: %d %v", clientID, res.StatusCode, err)
	}
	return tok.AccessToken
}

// Issue 12 item 1: import reads a source as the request says, never with ACR's own identity
// on behalf of a caller who cannot read it. A caller holding only "Container Registry Data
// Importer and Data Reader" on the target cannot copy out of a registry it cannot read,
// whichever way it names the source, and the positive controls pass.
func TestImportReadsTheSourceAsTheRequestSays(t *testing.T) {
	w := world.Default()
	const importerID, importerObject = "88888888-0000-4000-8000-000000000011", "88888888-0000-4000-8000-000000000012"
	w.Registries = append(w.Registries, world.Registry{Name: "secretregistry", SKU: "Premium", AdminUserEnabled: true, AdminPassword: "secret-pass", Port: 1})
	w.ServicePrincipals = append(w.ServicePrincipals, world.ServicePrincipal{Name: "importer", ClientID: importerID, ObjectID: importerObject, Secret: "importer-secret"})
	w.RoleAssignments = append(w.RoleAssignments, world.RoleAssignment{Principal: "importer", Role: "Container Registry Data Importer and Data Reader", Scope: "myregistry"})
	emu := emulatortest.New(t, emulatortest.WithWorld(w))
	owner := armClient(t, emu)
	img, _ := random.Image(1024, 2)
	src, _ := name.ParseReference(emu.Registry("secretregistry").Host + "/private/app:v1")
	if err := remote.Write(src, img, remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: "secretregistry", Password: "secret-pass"})); err != nil {
		t.Fatal(err)
	}
	digest, _ := img.Digest()
	srcID := rg + "/providers/Microsoft.ContainerRegistry/registries/secretregistry"
	dstID := rg + "/providers/Microsoft.ContainerRegistry/registries/myregistry"
	setPublic := func(state string) {
		t.Helper()
		if status, out := owner("PATCH", srcID, map[string]any{"properties": map[string]any{"publicNetworkAccess": state}}); status != 200 {
			t.Fatalf("public access %s: %d %v", state, status, out)
		}
	}
	// importImage answers 202 (or a synchronous refusal); the Location tells the outcome.
	importerToken := entraToken(t, emu, importerID, "importer-secret", "https://management.azure.com/.default")
	importAs := func(source map[string]any, target string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("POST", emu.HTTPSURL()+dstID+"/importImage?api-version=2025-03-01-preview",
			strings.NewReader(mustJSON(map[string]any{"source": source, "targetTags": []string{target}, "mode": "Force"})))
		req.Header.Set("Authorization", "Bearer "+importerToken)
		req.Header.Set("Content-Type", "application/json")
		res, err := emu.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if res.StatusCode != http.StatusAccepted {
			out := map[string]any{}
			_ = json.NewDecoder(res.Body).Decode(&out)
			return res.StatusCode, out
		}
		loc := res.Header.Get("Location")
		return owner("GET", loc[strings.Index(loc, "/subscriptions"):strings.Index(loc, "?")], nil)
	}
	imported := func(repo, tag string) bool {
		got, _ := emu.Store().GetTag("myregistry", repo, tag)
		return got != nil && got.Digest.String() == digest.String()
	}
	byID := map[string]any{"resourceId": srcID, "sourceImage": "private/app:v1"}
	byURI := func(image string, creds map[string]any) map[string]any {
		m := map[string]any{"registryUri": "secretregistry.azurecr.io", "sourceImage": image}
		if creds != nil {
			m["credentials"] = creds
		}
		return m
	}
	admin := map[string]any{"username": "secretregistry", "password": "secret-pass"}
	setPublic("Disabled")

	// By resource id: the caller's own pull right on the source is missing.
	status, out := importAs(byID, "stolen/app:v1")
	want := "The client '" + importerObject + "' with object id '" + importerObject + "' has permission to perform action 'Microsoft.ContainerRegistry/registries/importImage/action' on scope '" +
		dstID + "'; however, it does not have permission to perform action(s) 'Microsoft.ContainerRegistry/registries/pull/read' on the linked scope(s) '" + srcID +
		"' (respectively) or the linked scope(s) are invalid."
	if status != 403 || get(out, "error", "code") != "LinkedAuthorizationFailed" || get(out, "error", "message") != want {
		t.Fatalf("by resource id without pull on the source: %d %v", status, out)
	}
	// By registry URI: anonymous, or even the right credentials, come from import's public
	// side, which the locked source refuses.
	for _, creds := range []map[string]any{nil, admin} {
		status, out := importAs(byURI("private/app:v1", creds), "stolen/app:v1")
		msg := fmt.Sprint(get(out, "error", "message"))
		if status != 400 || get(out, "error", "code") != "Forbidden" || !strings.Contains(msg, "denied: client with IP '20.0.0.12' is not allowed access") {
			t.Fatalf("by registry URI (credentials %v) with public access disabled: %d %v", creds != nil, status, out)
		}
	}
	if imported("stolen/app", "v1") {
		t.Fatal("a refused import wrote the target")
	}

	// Public access on: anonymous and wrong credentials are refused by the source's token
	// service; the source's admin credentials work, by tag and by digest.
	setPublic("Enabled")
	for _, creds := range []map[string]any{nil, {"username": "secretregistry", "password": "wrong"}} {
		if status, out := importAs(byURI("private/app:v1", creds), "stolen/app:v1"); status != 400 || get(out, "error", "code") != "Forbidden" {
			t.Fatalf("by registry URI without valid credentials: %d %v", status, out)
		}
	}
	if status, out := importAs(byURI("private/app:v1", admin), "copied/app:v1"); status != 200 || !imported("copied/app", "v1") {
		t.Fatalf("by registry URI with the source's credentials: %d %v", status, out)
	}
	if status, out := importAs(byURI("private/app@"+digest.String(), admin), "bydigest/app:v1"); status != 200 || !imported("bydigest/app", "v1") {
		t.Fatalf("by digest with credentials: %d %v", status, out)
	}
	// A target without a tag takes the source's.
	if status, out := importAs(byURI("private/app:v1", admin), "untagged/app"); status != 200 || !imported("untagged/app", "v1") {
		t.Fatalf("target without a tag: %d %v", status, out)
	}
	// A password alone is an Entra token (az acr import -p <token>): the importer's own
	// cannot pull from the source, the owner's can.
	if status, out := importAs(byURI("private/app:v1", map[string]any{"password": entraToken(t, emu, importerID, "importer-secret", "https://management.azure.com/.default")}),
		"stolen/app:v2"); status != 400 || imported("stolen/app", "v2") {
		t.Fatalf("by registry URI with the importer's Entra token: %d %v", status, out)
	}
	_, ownerID, ownerSecret := emu.ServicePrincipal()
	if status, out := importAs(byURI("private/app:v1", map[string]any{"password": entraToken(t, emu, ownerID, ownerSecret, "https://management.azure.com/.default")}),
		"token/app:v1"); status != 200 || !imported("token/app", "v1") {
		t.Fatalf("by registry URI with the owner's Entra token: %d %v", status, out)
	}

	// With AcrPull on the source the importer imports by resource id, public access disabled
	// or not: ACR reads the source as its trusted self.
	if status, out := owner("PUT", srcID+"/providers/Microsoft.Authorization/roleAssignments/9a9a9a9a-0000-4000-8000-0000000000bb", map[string]any{"properties": map[string]any{
		"roleDefinitionId": "/subscriptions/22222222-2222-2222-2222-222222222222/providers/Microsoft.Authorization/roleDefinitions/7f951dda-4ed3-4680-a7ca-43fe172d538d",
		"principalId":      importerObject, "principalType": "ServicePrincipal"}}); status != 201 {
		t.Fatalf("AcrPull on the source: %d %v", status, out)
	}
	setPublic("Disabled")
	if status, out := importAs(byID, "granted/app:v1"); status != 200 || !imported("granted/app", "v1") {
		t.Fatalf("by resource id with AcrPull on the source: %d %v", status, out)
	}
	if status, out := importAs(map[string]any{"resourceId": srcID, "sourceImage": "private/app@" + digest.String()}, "granteddigest/app:v1"); status != 200 ||
		!imported("granteddigest/app", "v1") {
		t.Fatalf("by resource id and digest: %d %v", status, out)
	}
}
