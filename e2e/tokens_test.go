package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// tokenCredentials is what az acr token create and az acr token credential generate print.
type tokenCredentials struct {
	Username  string `json:"username"`
	Passwords []struct {
		Name   string  `json:"name"`
		Value  string  `json:"value"`
		Expiry *string `json:"expiry"`
	} `json:"passwords"`
}

func (c tokenCredentials) password(t *testing.T, name string) string {
	t.Helper()
	for _, p := range c.Passwords {
		if p.Name == name && p.Value != "" {
			return p.Value
		}
	}
	t.Fatalf("no value for %s in %+v", name, c)
	return ""
}

// craneAs runs crane with the given registry credentials and reports its output and error.
func craneAs(t *testing.T, emu *harness.Emulator, user, pass string, args ...string) (string, error) {
	t.Helper()
	return emu.TryRunEnv(t, emu.EnvWithLogin(t, user, pass), harness.Tool(t, "CRANE", "crane"), args...)
}

// TestAzureCLITokens drives az acr scope-map and az acr token (Debian's az 2.45, where both
// groups are marked preview) against the binary, and checks the data-plane effect of each step
// with crane logged in as the token: pulls inside the scope map, pushes only where it allows
// them, another repository and the catalog refused, a disabled token and a regenerated
// password refused at the next token request.
func TestAzureCLITokens(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	az, env, run := azLogin(t, emu)
	host := emu.RegistryHost()
	src := t.TempDir()
	writeLayout(t, src, 1)
	for _, repo := range []string{"team/app", "team/tools", "other/app"} {
		emu.Run(t, crane, "push", src, host+"/"+repo+":v1")
	}

	// The system-defined scope maps are there from the start.
	if got := run("acr", "scope-map", "list", "-r", "myregistry", "--query", "[?typePropertiesType=='SystemDefined'].name | sort(@)", "-o", "tsv"); got !=
		"_repositories_admin\n_repositories_pull\n_repositories_pull_metadata_read\n_repositories_push\n_repositories_push_metadata_write" {
		t.Fatalf("system-defined scope maps: %q", got)
	}
	if got := run("acr", "scope-map", "show", "-r", "myregistry", "-n", "_repositories_pull", "--query", "actions[0]", "-o", "tsv"); got != "repositories/*/content/read" {
		t.Fatalf("_repositories_pull: %q", got)
	}
	got := run("acr", "scope-map", "create", "-r", "myregistry", "-n", "team-read", "--repository", "team/app", "content/read", "metadata/read",
		"--description", "Reads team/app", "--query", "[name, typePropertiesType, description, join(' ', actions)]", "-o", "tsv")
	if got != "team-read\nUserDefined\nReads team/app\nrepositories/team/app/content/read repositories/team/app/metadata/read" {
		t.Fatalf("az acr scope-map create: %q", got)
	}

	// A token on that scope map; az generates both passwords and prints them once.
	var created struct {
		Name        string           `json:"name"`
		Status      string           `json:"status"`
		ScopeMapID  string           `json:"scopeMapId"`
		Credentials tokenCredentials `json:"credentials"`
	}
	if err := json.Unmarshal([]byte(run("acr", "token", "create", "-r", "myregistry", "-n", "ci-token", "--scope-map", "team-read", "-o", "json")), &created); err != nil {
		t.Fatal(err)
	}
	if created.Status != "enabled" || !strings.HasSuffix(created.ScopeMapID, "/registries/myregistry/scopeMaps/team-read") || created.Credentials.Username != "ci-token" {
		t.Fatalf("az acr token create: %+v", created)
	}
	pw1, pw2 := created.Credentials.password(t, "password1"), created.Credentials.password(t, "password2")
	if got := run("acr", "token", "show", "-r", "myregistry", "-n", "ci-token", "--query", "[provisioningState, join(',', credentials.passwords[].name)]", "-o", "tsv"); got != "Succeeded\npassword1,password2" {
		t.Fatalf("az acr token show: %q", got)
	}

	// crane as the token: pull inside the scope map; push, another repository, the catalog refused.
	if out, err := craneAs(t, emu, "ci-token", pw1, "pull", host+"/team/app:v1", t.TempDir()+"/app.tar"); err != nil {
		t.Fatalf("pull inside the scope map: %v\n%s", err, out)
	}
	if out, err := craneAs(t, emu, "ci-token", pw1, "push", src, host+"/team/app:v2"); err == nil || !unauthorized(out) {
		t.Fatalf("push with content/read only: err=%v\n%s", err, out)
	}
	if out, err := craneAs(t, emu, "ci-token", pw1, "digest", host+"/other/app:v1"); err == nil || !unauthorized(out) {
		t.Fatalf("pull outside the scope map: err=%v\n%s", err, out)
	}
	if out, err := craneAs(t, emu, "ci-token", pw2, "catalog", host); err == nil || !unauthorized(out) {
		t.Fatalf("catalog with a token: err=%v\n%s", err, out)
	}
	// az with the token's credentials: the tags of team/app (metadata/read), not another's.
	if got := run("acr", "repository", "show-tags", "-n", "myregistry", "--repository", "team/app", "--username", "ci-token", "--password", pw2, "-o", "tsv"); got != "v1" {
		t.Fatalf("show-tags with the token: %q", got)
	}

	// A wider scope map applies at the next token request: team/* may now be pushed.
	run("acr", "scope-map", "update", "-r", "myregistry", "-n", "team-read", "--add-repository", "team/*", "content/read", "content/write", "-o", "none")
	if out, err := craneAs(t, emu, "ci-token", pw1, "push", src, host+"/team/tools:v2"); err != nil {
		t.Fatalf("push after the scope map grew: %v\n%s", err, out)
	}
	run("acr", "scope-map", "update", "-r", "myregistry", "-n", "team-read", "--remove-repository", "team/*", "content/write", "-o", "none")
	if out, err := craneAs(t, emu, "ci-token", pw1, "push", src, host+"/team/tools:v3"); err == nil || !unauthorized(out) {
		t.Fatalf("push after content/write was removed: err=%v\n%s", err, out)
	}

	// Disabled: refused at the next login; enabled again: accepted.
	if got := run("acr", "token", "update", "-r", "myregistry", "-n", "ci-token", "--status", "disabled", "--query", "status", "-o", "tsv"); got != "disabled" {
		t.Fatalf("az acr token update --status disabled: %q", got)
	}
	if out, err := craneAs(t, emu, "ci-token", pw1, "digest", host+"/team/app:v1"); err == nil || !unauthorized(out) {
		t.Fatalf("pull with a disabled token: err=%v\n%s", err, out)
	}
	run("acr", "token", "update", "-r", "myregistry", "-n", "ci-token", "--status", "enabled", "-o", "none")

	// password1 regenerated with an expiry: the old one refused, the new one and password2 accepted.
	var regen tokenCredentials
	if err := json.Unmarshal([]byte(run("acr", "token", "credential", "generate", "-r", "myregistry", "-n", "ci-token", "--password1", "--expiration-in-days", "30", "-o", "json")), &regen); err != nil {
		t.Fatal(err)
	}
	newPw1 := regen.password(t, "password1")
	if newPw1 == pw1 || regen.Passwords[0].Expiry == nil {
		t.Fatalf("az acr token credential generate: %+v", regen)
	}
	if out, err := craneAs(t, emu, "ci-token", pw1, "digest", host+"/team/app:v1"); err == nil || !unauthorized(out) {
		t.Fatalf("the regenerated password1's old value: err=%v\n%s", err, out)
	}
	for name, pw := range map[string]string{"new password1": newPw1, "password2": pw2} {
		if out, err := craneAs(t, emu, "ci-token", pw, "digest", host+"/team/app:v1"); err != nil {
			t.Fatalf("pull with %s: %v\n%s", name, err, out)
		}
	}
	// password2 removed (az acr token credential delete): refused.
	if got := run("acr", "token", "credential", "delete", "-r", "myregistry", "-n", "ci-token", "--password2", "--query", "join(',', credentials.passwords[].name)", "-o", "tsv"); got != "password1" {
		t.Fatalf("az acr token credential delete: %q", got)
	}
	if out, err := craneAs(t, emu, "ci-token", pw2, "digest", host+"/team/app:v1"); err == nil || !unauthorized(out) {
		t.Fatalf("a deleted password2: err=%v\n%s", err, out)
	}

	// Quick create: az makes <token>-scope-map from --repository.
	var quick struct {
		ScopeMapID  string           `json:"scopeMapId"`
		Credentials tokenCredentials `json:"credentials"`
	}
	if err := json.Unmarshal([]byte(run("acr", "token", "create", "-r", "myregistry", "-n", "quick-token", "--repository", "other/app", "content/read", "-o", "json")), &quick); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(quick.ScopeMapID, "/scopeMaps/quick-token-scope-map") {
		t.Fatalf("quick create scope map: %q", quick.ScopeMapID)
	}
	// az 2.45 sends no description for it (as the recording shows): none comes back.
	if got := run("acr", "scope-map", "show", "-r", "myregistry", "-n", "quick-token-scope-map", "--query", "[actions[0], description == null]", "-o", "tsv"); got != "repositories/other/app/content/read\ntrue" {
		t.Fatalf("quick-token-scope-map: %q", got)
	}
	if out, err := craneAs(t, emu, "quick-token", quick.Credentials.password(t, "password1"), "digest", host+"/other/app:v1"); err != nil {
		t.Fatalf("pull with the quick token: %v\n%s", err, out)
	}
	if got := run("acr", "token", "list", "-r", "myregistry", "--query", "sort([].name)", "-o", "tsv"); got != "ci-token\nquick-token" {
		t.Fatalf("az acr token list: %q", got)
	}

	// Deleting the scope map leaves the token nothing; deleting the token, no login at all.
	run("acr", "scope-map", "delete", "-r", "myregistry", "-n", "team-read", "--yes", "-o", "none")
	if out, err := craneAs(t, emu, "ci-token", newPw1, "digest", host+"/team/app:v1"); err == nil || !unauthorized(out) {
		t.Fatalf("pull after the scope map was deleted: err=%v\n%s", err, out)
	}
	run("acr", "token", "delete", "-r", "myregistry", "-n", "quick-token", "--yes", "-o", "none")
	if out, err := craneAs(t, emu, "quick-token", quick.Credentials.password(t, "password1"), "digest", host+"/other/app:v1"); err == nil || !unauthorized(out) {
		t.Fatalf("pull with a deleted token: err=%v\n%s", err, out)
	}
	if got := run("acr", "token", "list", "-r", "myregistry", "--query", "[].name", "-o", "tsv"); got != "ci-token" {
		t.Fatalf("tokens after delete: %q", got)
	}
	// The system-defined scope maps stay.
	out, err := emu.TryRunEnv(t, env, az, "acr", "scope-map", "delete", "-r", "myregistry", "-n", "_repositories_pull", "--yes")
	if err == nil || !strings.Contains(out, "system defined") {
		t.Fatalf("deleting a system-defined scope map: err=%v\n%s", err, out)
	}
}
