package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// TestPortal follows the seed's portal steps in a real browser: Networking, Allow public
// network access, the Firewall exception checkbox, Save; crane and ARM see the change.
func TestPortal(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	browser := harness.StartBrowser(t)
	repo := emu.RegistryHost() + "/portal/app"
	src := t.TempDir()
	writeLayout(t, src, 1)
	emu.Run(t, crane, "push", src, repo+":v1")

	index := "http://" + emu.HTTPAddr + "/_emulator/portal/"
	browser.Navigate(t, index)
	browser.Submit(t, `document.querySelector('a[href$="/myregistry/networking"]').click()`, `location.pathname.endsWith('/myregistry/networking')`)
	if got := browser.Eval(t, `document.querySelector('h1').innerText`); got != "myregistry | Networking" {
		t.Fatalf("heading %v", got)
	}
	// All networks: neither the firewall nor its exception shows, as in the portal.
	if got := browser.Eval(t, `[document.getElementById('access-all').checked, getComputedStyle(document.querySelector('.restricted')).display]`); !equalJSON(got, []any{true, "none"}) {
		t.Fatalf("initial state %v", got)
	}

	// 3. Allow public network access: Disabled. 4. Uncheck the trusted services. 5. Save.
	browser.Eval(t, `document.getElementById('access-disabled').click()`)
	if got := browser.Eval(t, `[getComputedStyle(document.querySelector('.restricted')).display, getComputedStyle(document.querySelector('.firewall')).display, document.getElementById('trusted').checked]`); !equalJSON(got, []any{"block", "none", true}) {
		t.Fatalf("after choosing Disabled: %v", got)
	}
	browser.Eval(t, `document.getElementById('trusted').click()`)
	browser.Submit(t, `document.getElementById('save').click()`, `location.search === '?saved=1'`)
	if got := browser.Eval(t, `[document.querySelector('[role=status]').innerText, document.getElementById('access-disabled').checked, document.getElementById('trusted').checked]`); !equalJSON(got, []any{"Successfully updated the registry 'myregistry'.", true, false}) {
		t.Fatalf("after save: %v", got)
	}
	// ARM shows what the portal saved, and the registry refuses this machine.
	if status, reg := armCall(t, emu, http.MethodGet, "/subscriptions/"+subscription+"/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry?api-version=2025-11-01", ""); status != 200 ||
		fmt.Sprint(reg["properties"].(map[string]any)["publicNetworkAccess"]) != "Disabled" || fmt.Sprint(reg["properties"].(map[string]any)["networkRuleBypassOptions"]) != "None" {
		t.Fatalf("ARM after the portal's save: %d %v", status, reg)
	}
	out, err := emu.TryRun(t, crane, "ls", repo)
	if err == nil || !strings.Contains(out, "DENIED: client with IP '127.0.0.1' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.") {
		t.Fatalf("crane ls with public access disabled: err=%v\n%s", err, out)
	}
	// The page lists the decision.
	browser.Navigate(t, "http://"+emu.HTTPAddr+"/_emulator/portal/registries/myregistry/networking")
	if got := browser.Eval(t, `[...document.querySelectorAll('#decisions td.denied')].map(td => td.nextElementSibling.innerText).includes('public-network-access-disabled')`); got != true {
		t.Fatalf("decisions table: %v", browser.Eval(t, `document.getElementById('decisions').innerText`))
	}

	// Selected networks with this machine's address: crane is let in again.
	browser.Eval(t, `document.getElementById('access-selected').click(); document.getElementById('addClientIP').click()`)
	browser.Submit(t, `document.getElementById('save').click()`, `location.search === '?saved=1'`)
	if got := browser.Eval(t, `document.getElementById('ipRules').value.trim()`); got != "127.0.0.1" {
		t.Fatalf("address ranges after save: %q", got)
	}
	if out := emu.Run(t, crane, "ls", repo); strings.TrimSpace(out) != "v1" {
		t.Fatalf("crane ls from an allowed address: %q", out)
	}

	// A bad range: the portal shows ARM's error and keeps what was saved.
	browser.Eval(t, `document.getElementById('ipRules').value = '10.0.0.300'`)
	browser.Submit(t, `document.getElementById('save').click()`, `document.querySelector('[role=alert]') !== null`)
	if got := browser.Eval(t, `document.querySelector('[role=alert]').innerText`); got != "Failed to update the registry 'myregistry'. The IP address or range '10.0.0.300' is invalid. Only IPv4 addresses and CIDR ranges are allowed." {
		t.Fatalf("error banner: %v", got)
	}
	if out := emu.Run(t, crane, "ls", repo); strings.TrimSpace(out) != "v1" {
		t.Fatalf("crane ls after a refused save: %q", out)
	}
}

func equalJSON(got any, want []any) bool {
	g, ok := got.([]any)
	if !ok || len(g) != len(want) {
		return false
	}
	for i := range g {
		if g[i] != want[i] {
			return false
		}
	}
	return true
}

// TestPortalPrivateAccess approves and rejects a private endpoint connection on the portal's
// Private access tab, with crane pushing from the VNet.
func TestPortalPrivateAccess(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu, vnet := lockedWithVNet(t)
	requestPrivateEndpoint(t, emu)
	browser := harness.StartBrowser(t)
	src := t.TempDir()
	writeLayout(t, src, 1)
	push := func() (string, error) {
		return emu.TryRunEnv(t, vnet, crane, "push", src, "myregistry.azurecr.io/portal/pe:v1")
	}
	if out, err := push(); err == nil {
		t.Fatalf("a Pending connection carried traffic:\n%s", out)
	}

	page := "http://" + emu.HTTPAddr + "/_emulator/portal/registries/myregistry/networking"
	browser.Navigate(t, page)
	row := `[...document.querySelectorAll('#connections tr')].find(tr => tr.cells[0].innerText === 'appvnet-conn')`
	if got := browser.Eval(t, `(r => r && [r.cells[1].innerText, r.cells[2].innerText, r.cells[3].innerText])(`+row+`)`); !equalJSON(got, []any{"app-pe", "appvnet", "Pending"}) {
		t.Fatalf("Private access row: %v", got)
	}
	click := func(action, want string) {
		t.Helper()
		browser.Submit(t, row+`.querySelector('button[value=`+action+`]').click()`, `location.search === '?connection=appvnet-conn'`)
		if got := browser.Eval(t, `[document.getElementById('connection-status').innerText, `+row+`.cells[3].innerText]`); !equalJSON(got, []any{"The private endpoint connection 'appvnet-conn' is " + want + ".", want}) {
			t.Fatalf("after %s: %v", action, got)
		}
	}
	click("approve", "Approved")
	if out, err := push(); err != nil {
		t.Fatalf("push through the connection approved in the portal: %v\n%s", err, out)
	}
	// ARM reports what the portal did.
	status, conn := armCall(t, emu, http.MethodGet, "/subscriptions/"+subscription+"/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry/privateEndpointConnections/appvnet-conn?api-version=2025-11-01", "")
	if status != 200 || !strings.Contains(fmt.Sprint(conn["properties"]), "status:Approved") {
		t.Fatalf("ARM after the portal's approval: %d %v", status, conn)
	}
	click("reject", "Rejected")
	if out, err := push(); err == nil || !strings.Contains(out, "client with IP '20.0.0.9' is not allowed access") {
		t.Fatalf("push through a rejected connection: err=%v\n%s", err, out)
	}
}
