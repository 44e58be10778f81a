package world

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultWorld(t *testing.T) {
	w := Default()
	if w.TenantID != "11111111-1111-1111-1111-111111111111" || w.SubscriptionID != "22222222-2222-2222-2222-222222222222" ||
		w.ResourceGroup != "demo-rg" || w.Location != "eastus" {
		t.Fatalf("well-known ids changed: %+v", w)
	}
	if len(w.Registries) != 1 {
		t.Fatalf("registries = %+v", w.Registries)
	}
	r := w.Registries[0]
	if r.Name != "myregistry" || r.SKU != "Premium" || !r.AdminUserEnabled || r.AdminPassword != "acr-emulator-admin-password" {
		t.Fatalf("default registry = %+v", r)
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		desc, file, body string
		err              string // in the message; "" for a valid world
		line             int    // of the first mistake
	}{
		{desc: "yaml", file: "w.yaml", body: "registries:\n  - name: myregistry\n"},
		{desc: "json", file: "w.json", body: `{"registries":[{"name":"myregistry","port":8444}]}`},
		{desc: "unknown yaml field", file: "w.yaml", body: "registries:\n  - name: myregistry\n    colour: blue\n", err: `unknown field "colour"`, line: 3},
		{desc: "unknown json field", file: "w.json", body: "{\"registries\":[{\"name\":\"myregistry\"}],\n \"extra\":1}", err: `unknown field "extra"`, line: 2},
		{desc: "wrong type", file: "w.yaml", body: "registries:\n  - name: myregistry\n    port: [1]\n", err: "cannot unmarshal", line: 3},
		{desc: "syntax", file: "w.yaml", body: "registries: [\n", err: "not found", line: 1},
		{desc: "no registry", file: "w.yaml", body: "tenantId: 11111111-1111-1111-1111-111111111111\n", err: "registries: at least one registry"},
		{desc: "short name", file: "w.yaml", body: "registries:\n  - name: abc\n", err: `registries[0].name: "abc" must be 5-50 lowercase`, line: 2},
		{desc: "uppercase name", file: "w.yaml", body: "registries:\n  - name: MyRegistry\n", err: "5-50 lowercase", line: 2},
		{desc: "duplicate", file: "w.yaml", body: "registries:\n  - name: myregistry\n    port: 1\n  - name: myregistry\n    port: 2\n", err: "registries[1].name: \"myregistry\" is defined twice", line: 4},
		{desc: "bad sku", file: "w.yaml", body: "registries:\n  - name: myregistry\n    sku: Gold\n", err: "Basic, Standard or Premium", line: 3},
		{desc: "port reuse", file: "w.yaml", body: "registries:\n  - name: registrya\n    port: 9000\n  - name: registryb\n    port: 9000\n", err: "registries[1].port: 9000 is used twice", line: 5},
		{desc: "two on main listener", file: "w.yaml", body: "registries:\n  - name: registrya\n  - name: registryb\n", err: "only one can use the main HTTPS listener", line: 2},
		{desc: "bad enum names the field", file: "w.yaml", body: "registries:\n  - name: myregistry\n    publicNetworkAccess: Sometimes\n", err: `registries[0].publicNetworkAccess: "Sometimes" must be Enabled or Disabled`, line: 3},
		{desc: "bad default action", file: "w.yaml", body: "registries:\n  - name: myregistry\n    networkRuleSet: {defaultAction: Maybe}\n", err: "networkRuleSet.defaultAction", line: 3},
		{desc: "network rules need Premium", file: "w.yaml", body: "registries:\n  - name: myregistry\n    sku: Basic\n    publicNetworkAccess: Disabled\n", err: "Premium SKU", line: 2},
		{desc: "IPv6 rule", file: "w.yaml", body: "registries:\n  - name: myregistry\n    networkRuleSet:\n      ipRules:\n        - 10.0.0.1\n        - '2001:db8::1'\n", err: "ipRules[1]: \"2001:db8::1\" is not an IPv4", line: 6},
		{desc: "origin PE to unknown registry", file: "w.yaml", body: "registries:\n  - name: myregistry\norigins:\n  - {name: v, privateEndpoints: [nothere]}\n", err: `unknown registry "nothere"`, line: 4},
		{desc: "PE needs Premium", file: "w.yaml", body: "registries:\n  - name: myregistry\n    sku: Standard\norigins:\n  - name: v\n    endpoints:\n      - registry: myregistry\n", err: "Premium SKU", line: 7},
		{desc: "PE status", file: "w.yaml", body: "registries:\n  - name: myregistry\norigins:\n  - name: v\n    endpoints:\n      - registry: myregistry\n        status: Maybe\n", err: `endpoints[0].status: "Maybe" must be Approved or Pending or Rejected or Disconnected`, line: 7},
		{desc: "two on main listener with suffix", file: "w.yaml", body: "loginServerSuffix: .azurecr.io\nregistries:\n  - name: registrya\n  - name: registryb\n"},
		{desc: "bad tenant", file: "w.yaml", body: "tenantId: contoso\nregistries:\n  - name: myregistry\n", err: `tenantId: "contoso" is not a GUID`, line: 1},
		{desc: "unknown principal", file: "w.yaml", body: "registries:\n  - name: myregistry\nroleAssignments:\n  - {principal: nobody, role: AcrPull, scope: myregistry}\n", err: `roleAssignments[0].principal: "nobody"`, line: 4},
		{desc: "unknown role", file: "w.yaml", body: "registries:\n  - name: myregistry\nmanagedIdentities:\n  - name: mi\nroleAssignments:\n  - principal: mi\n    role: AcrPulll\n    scope: myregistry\n", err: `"AcrPulll" is not a built-in role`, line: 7},
		{desc: "export policy needs public access disabled", file: "w.yaml", body: "registries:\n  - name: myregistry\n    policies:\n      exportPolicy: {status: disabled}\n", err: "publicNetworkAccess Disabled", line: 4},
		{desc: "export policy disabled", file: "w.yaml", body: "registries:\n  - name: myregistry\n    publicNetworkAccess: Disabled\n    policies:\n      exportPolicy: {status: disabled}\n      retentionPolicy: {status: enabled, days: 30}\n"},
		{desc: "retention days", file: "w.yaml", body: "registries:\n  - name: myregistry\n    policies:\n      retentionPolicy:\n        status: enabled\n        days: 400\n", err: "retentionPolicy.days: 400 must be 0 to 365", line: 6},
		{desc: "policy status", file: "w.yaml", body: "registries:\n  - name: myregistry\n    policies:\n      trustPolicy: {status: on}\n", err: "trustPolicy.status", line: 4},
		{desc: "tag name", file: "w.yaml", body: "registries:\n  - name: myregistry\n    tags: {'a/b': x}\n", err: "registries[0].tags: tag name", line: 3},
		{desc: "task step", file: "w.yaml", body: "registries:\n  - name: myregistry\n    tasks:\n      - name: build-app\n        properties: {platform: {os: linux}}\n", err: "tasks[0].properties.step: a step is required", line: 5},
		{desc: "task name", file: "w.yaml", body: "registries:\n  - name: myregistry\n    tasks:\n      - name: b\n        properties: {step: {type: EncodedTask}}\n", err: "tasks[0].name", line: 4},
		{desc: "task identity", file: "w.yaml", body: "registries:\n  - name: myregistry\n    tasks:\n      - name: build-app\n        identity: {type: UserAssigned, userAssignedIdentities: [ghost]}\n        properties: {step: {type: EncodedTask}}\n", err: `"ghost" is not a managed identity`, line: 5},
		{desc: "missing layout", file: "w.yaml", body: "registries:\n  - name: myregistry\n    images:\n      - repository: app\n        layout: ./no-such-layout\n", err: "registries[0].images[0].layout: stat no-such-layout: no such file or directory: an OCI image layout directory", line: 5},
		{desc: "missing archive", file: "w.yaml", body: "registries:\n  - name: myregistry\n    images:\n      - {repository: app, archive: /no/such.tar}\n", err: "images[0].archive: stat /no/such.tar", line: 4},
		{desc: "two sources", file: "w.yaml", body: "registries:\n  - name: myregistry\n    images:\n      - repository: app\n        layout: x\n        generate: {layers: 1}\n", err: "exactly one of generate, layout and archive", line: 4},
		{desc: "absurd layer size", file: "w.yaml", body: "registries:\n  - name: myregistry\n    images:\n      - repository: app\n        generate:\n          layerSize: 1TB\n", err: "generate.layerSize: must be a size from 1 byte to 64MiB", line: 6},
		{desc: "unreadable layer size", file: "w.yaml", body: "registries:\n  - name: myregistry\n    images:\n      - repository: app\n        generate: {layerSize: lots}\n", err: "generate.layerSize", line: 5},
		{desc: "too many layers", file: "w.yaml", body: "registries:\n  - name: myregistry\n    images:\n      - repository: app\n        generate: {layers: 100000}\n", err: "generate.layers: 100000 must be 1 to 32", line: 5},
		{desc: "too much in all", file: "w.yaml", body: "registries:\n  - name: myregistry\n    images:\n      - repository: app\n        generate: {layers: 32, layerSize: 64MiB, platforms: [linux/amd64, linux/arm64]}\n", err: "would hold 4096MiB; at most 256MiB", line: 4},
		{desc: "bad platform", file: "w.yaml", body: "registries:\n  - name: myregistry\n    images:\n      - repository: app\n        generate:\n          platforms: [linux/amd64, Linux]\n", err: "generate.platforms[1]: \"Linux\" is not a platform", line: 6},
		{desc: "bad repository", file: "w.yaml", body: "registries:\n  - name: myregistry\n    images:\n      - repository: My App\n        generate: {}\n", err: "images[0].repository", line: 4},
		{desc: "bad digest", file: "w.yaml", body: "registries:\n  - name: myregistry\n    images:\n      - repository: app\n        digest: md5:abc\n        generate: {}\n", err: "images[0].digest", line: 5},
		{desc: "generated image", file: "w.yaml", body: "registries:\n  - name: myregistry\n    images:\n      - repository: team/app\n        generate: {layers: 2, layerSize: 1MiB, platforms: [linux/amd64, linux/arm64]}\n"},
		{desc: "scope maps and tokens", file: "w.yaml", body: "registries:\n  - name: myregistry\n    scopeMaps:\n      - {name: team-read, actions: ['repositories/team/*/content/read']}\n    tokens:\n      - {name: ci-token, scopeMap: team-read, password1: ci-pw}\n      - {name: ops-token, scopeMap: _repositories_admin, status: disabled}\n"},
		{desc: "scope map action", file: "w.yaml", body: "registries:\n  - name: myregistry\n    scopeMaps:\n      - name: team-read\n        actions: [repositories/team/content/execute]\n", err: "scopeMaps[0].actions: the action 'repositories/team/content/execute' is not valid", line: 5},
		{desc: "scope map without actions", file: "w.yaml", body: "registries:\n  - name: myregistry\n    scopeMaps:\n      - name: team-read\n", err: "scopeMaps[0].actions: a scope map needs at least one action", line: 4},
		{desc: "system-defined scope map name", file: "w.yaml", body: "registries:\n  - name: myregistry\n    scopeMaps:\n      - {name: _repositories_pull, actions: ['repositories/a/content/read']}\n", err: "is a system-defined scope map", line: 4},
		{desc: "scope map twice", file: "w.yaml", body: "registries:\n  - name: myregistry\n    scopeMaps:\n      - {name: team-read, actions: ['repositories/a/content/read']}\n      - {name: Team-Read, actions: ['repositories/a/content/read']}\n", err: "scopeMaps[1].name: \"Team-Read\" is defined twice", line: 5},
		{desc: "token of an unknown scope map", file: "w.yaml", body: "registries:\n  - name: myregistry\n    tokens:\n      - name: ci-token\n        scopeMap: nothere\n", err: "tokens[0].scopeMap: \"nothere\" is neither", line: 5},
		{desc: "token name", file: "w.yaml", body: "registries:\n  - name: myregistry\n    tokens:\n      - {name: ci, scopeMap: _repositories_pull}\n", err: "tokens[0].name: \"ci\" must be 5-50", line: 4},
		{desc: "token status", file: "w.yaml", body: "registries:\n  - name: myregistry\n    tokens:\n      - {name: ci-token, scopeMap: _repositories_pull, status: paused}\n", err: "tokens[0].status: \"paused\" must be enabled or disabled", line: 4},
		{desc: "task principal in role assignment", file: "w.yaml", body: "registries:\n  - name: myregistry\n    tasks:\n      - name: build-app\n        identity: {type: SystemAssigned}\n        properties: {step: {type: EncodedTask}}\nroleAssignments:\n  - {principal: myregistry/tasks/build-app, role: AcrPush, scope: myregistry}\n"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			w, err := Parse([]byte(tc.body), tc.file)
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if w.Registries[0].SKU != "Premium" {
					t.Fatalf("SKU default = %q, want Premium", w.Registries[0].SKU)
				}
				return
			}
			var fe *FieldError
			if err == nil || !strings.Contains(err.Error(), tc.err) || !errors.As(err, &fe) || fe.File != tc.file {
				t.Fatalf("err = %v, want a FieldError naming %q and the file", err, tc.err)
			}
			if fe.Line != tc.line {
				t.Fatalf("err = %v: line %d, want %d", err, fe.Line, tc.line)
			}
			if tc.line > 0 && !strings.HasPrefix(err.Error(), fmt.Sprintf("%s:%d:", tc.file, tc.line)) {
				t.Fatalf("err = %q, want it to start with file:line", err)
			}
		})
	}
}

func TestParseReportsEveryMistake(t *testing.T) {
	_, err := Parse([]byte("registries:\n  - name: abc\n    sku: Gold\n  - name: registryb\n    port: 99999\n"), "w.yaml")
	for _, want := range []string{"w.yaml:2:11: registries[0].name", "w.yaml:3:10: registries[0].sku", "w.yaml:5:11: registries[1].port"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}
}

func TestMinimalWorldDefaults(t *testing.T) {
	w, err := Parse([]byte("registries:\n  - name: myregistry\n    location: West Europe\n"), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if w.TenantID != defaultTenant || w.SubscriptionID != defaultSubscription || w.ResourceGroup != "demo-rg" || w.Location != "eastus" {
		t.Fatalf("defaults = %+v", w)
	}
	if w.Registries[0].Location != "westeurope" {
		t.Fatalf("location = %q, want westeurope", w.Registries[0].Location)
	}
}

func TestLoadBoundsFileSize(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(p, append([]byte("registries: [{name: myregistry}]\n#"), bytes.Repeat([]byte("x"), MaxFileBytes)...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "at most 16 MiB") {
		t.Fatalf("err = %v", err)
	}
}

func TestErrorfNamesTheLine(t *testing.T) {
	w, err := Parse([]byte("registries:\n  - name: myregistry\n    tasks:\n      - name: build-app\n        properties:\n          step: {type: EncodedTask}\n"), "w.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got := w.Errorf("registries[0].tasks[0].properties.step", "refused: %s", "why").Error()
	if got != "w.yaml:6:17: registries[0].tasks[0].properties.step: refused: why" {
		t.Fatalf("Errorf = %q", got)
	}
	// A field the file leaves out is placed at its closest parent.
	if got := w.Errorf("registries[0].tasks[0].location", "x").Error(); !strings.HasPrefix(got, "w.yaml:4:") {
		t.Fatalf("Errorf of an absent field = %q", got)
	}
}

// blobDir is relative to the world file and absolute once loaded, so the world a snapshot
// keeps names the same directory from anywhere.
func TestBlobDirRelativeToTheFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "w.yaml")
	if err := os.WriteFile(p, []byte("blobDir: content/blobs\nregistries: [{name: myregistry}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "content", "blobs"); w.BlobDir != want {
		t.Fatalf("blobDir = %q, want %q", w.BlobDir, want)
	}
	again := *w
	if err := again.Revalidate("snapshot"); err != nil || again.BlobDir != w.BlobDir {
		t.Fatalf("revalidated blobDir = %q (%v), want %q", again.BlobDir, err, w.BlobDir)
	}
}
