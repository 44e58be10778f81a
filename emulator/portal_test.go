package emulator_test

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// The portal's Networking page changes the registry's network rules as `az acr update` does,
// and the data plane follows at once.
func TestPortalNetworkingPage(t *testing.T) {
	emu := emulatortest.New(t)
	page := emu.HTTPURL() + "/_emulator/portal/registries/myregistry/networking"
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) (int, string) {
		t.Helper()
		res, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	save := func(form url.Values, header ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, page, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}
	registry := func() *store.Registry {
		t.Helper()
		reg, err := emu.Store().GetRegistry("myregistry")
		if err != nil || reg == nil {
			t.Fatalf("registry: %v", err)
		}
		return reg
	}
	ping := func() int {
		t.Helper()
		res, err := emu.Client().Get("https://" + emu.Registry().Host + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}

	if status, body := get(emu.HTTPURL() + "/_emulator/portal/"); status != 200 || !strings.Contains(body, `href="/_emulator/portal/registries/myregistry/networking"`) {
		t.Fatalf("index: %d\n%s", status, body)
	}
	status, body := get(page)
	if status != 200 || !strings.Contains(body, `value="all" id="access-all" checked`) || !strings.Contains(body, `id="trusted" checked`) ||
		!strings.Contains(body, "Allow trusted Microsoft services to access this container registry") || !strings.Contains(body, "Add your client IPv4 address ('127.0.0.1')") {
		t.Fatalf("networking page: %d\n%s", status, body)
	}

	// Disabled, trusted services kept: Save redirects to the page with its notification.
	res, _ := save(url.Values{"access": {"disabled"}, "trusted": {"on"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/_emulator/portal/registries/myregistry/networking?saved=1" {
		t.Fatalf("save: %d %v", res.StatusCode, res.Header)
	}
	if reg := registry(); reg.PublicNetworkAccess || !reg.BypassAzureServices {
		t.Fatalf("after save: %+v", reg)
	}
	if got := ping(); got != http.StatusForbidden {
		t.Fatalf("/v2/ with public access disabled: %d", got)
	}
	status, body = get(page + "?saved=1")
	if status != 200 || !strings.Contains(body, "Successfully updated the registry 'myregistry'.") || !strings.Contains(body, `id="access-disabled" checked`) ||
		!strings.Contains(body, `<td class="denied">denied</td><td>public-network-access-disabled</td>`) {
		t.Fatalf("page after save: %d\n%s", status, body)
	}

	// A bad address range: ARM's message, the form as submitted, nothing stored.
	before := registry()
	res, body = save(url.Values{"access": {"selected"}, "ipRules": {"198.51.100.7\nnot-an-ip"}})
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "Failed to update the registry &#39;myregistry&#39;. The IP address or range &#39;not-an-ip&#39; is invalid.") ||
		!strings.Contains(body, `id="access-selected" checked`) || !strings.Contains(body, "198.51.100.7\nnot-an-ip\n</textarea>") {
		t.Fatalf("bad rule: %d\n%s", res.StatusCode, body)
	}
	if after := registry(); after.PublicNetworkAccess != before.PublicNetworkAccess || len(after.IPRules) != 0 {
		t.Fatalf("a refused save changed the registry: %+v", after)
	}

	// Selected networks with the client's own address, trusted services off.
	if res, _ := save(url.Values{"access": {"selected"}, "ipRules": {"203.0.113.0/24"}, "addClientIP": {"on"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save selected: %d", res.StatusCode)
	}
	if reg := registry(); !reg.PublicNetworkAccess || reg.DefaultActionAllow || reg.BypassAzureServices ||
		!slices.Equal(reg.IPRules, []string{"203.0.113.0/24", "127.0.0.1"}) {
		t.Fatalf("after selected: %+v", reg)
	}
	if got := ping(); got != http.StatusUnauthorized {
		t.Fatalf("/v2/ from an allowed address: %d", got)
	}

	// Enable dedicated data endpoint: the page lists them, and blob GETs redirect to them.
	if res, _ := save(url.Values{"access": {"all"}, "trusted": {"on"}, "dataEndpoint": {"on"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save data endpoint: %d", res.StatusCode)
	}
	if reg := registry(); !reg.DataEndpointEnabled {
		t.Fatalf("after enabling the data endpoint: %+v", reg)
	}
	if status, body := get(page); status != 200 || !strings.Contains(body, `id="dataEndpoint" checked`) || !strings.Contains(body, "<code>myregistry.eastus.data.azurecr.io</code>") {
		t.Fatalf("page with a data endpoint: %d\n%s", status, body)
	}

	// Another site's form cannot change the registry from the user's browser.
	before = registry()
	if res, _ := save(url.Values{"access": {"all"}, "trusted": {"on"}}, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site save: %d", res.StatusCode)
	}
	if after := registry(); after.DefaultActionAllow != before.DefaultActionAllow || after.BypassAzureServices != before.BypassAzureServices {
		t.Fatalf("a cross-site save changed the registry: %+v", after)
	}

	if status, body := get(emu.HTTPURL() + "/_emulator/portal/registries/nosuchregistry/networking"); status != 404 || !strings.Contains(body, "'nosuchregistry' was not found") {
		t.Fatalf("unknown registry: %d\n%s", status, body)
	}
}

// The Private access tab's buttons set a connection's state as ARM's PUT does; unknown
// connections and actions change nothing.
func TestPortalConnectionActions(t *testing.T) {
	emu := emulatortest.New(t)
	reg, err := emu.Store().GetRegistry("myregistry")
	if err != nil || reg == nil {
		t.Fatal(err)
	}
	pe := &store.PrivateEndpoint{ID: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/privateEndpoints/app-pe", Name: "app-pe",
		VNet: "appvnet", RegistryID: reg.ID, ConnectionName: "appvnet-conn", Status: "Pending"}
	if err := emu.Store().PutPrivateEndpoint(pe); err != nil {
		t.Fatal(err)
	}
	base := emu.HTTPURL() + "/_emulator/portal/registries/myregistry/privateEndpointConnections/"
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(conn, action string) (int, string) {
		t.Helper()
		res, err := noRedirect.PostForm(base+conn, url.Values{"action": {action}})
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	state := func() string {
		t.Helper()
		all, err := emu.Store().ListPrivateEndpoints()
		if err != nil || len(all) != 1 {
			t.Fatalf("private endpoints: %v %v", all, err)
		}
		return all[0].Status + "/" + all[0].Description
	}
	if status, body := post("nosuchconn", "approve"); status != http.StatusNotFound || !strings.Contains(body, "The private endpoint connection &#39;nosuchconn&#39; was not found.") {
		t.Fatalf("unknown connection: %d\n%s", status, body)
	}
	if status, body := post("appvnet-conn", "delete-everything"); status != http.StatusBadRequest || !strings.Contains(body, "Choose Approve, Reject or Remove.") {
		t.Fatalf("unknown action: %d\n%s", status, body)
	}
	if got := state(); got != "Pending/" {
		t.Fatalf("refused actions changed the connection: %s", got)
	}
	for _, tc := range []struct{ action, want string }{
		{"approve", "Approved/Approved from the portal"},
		{"reject", "Rejected/Rejected from the portal"},
		{"remove", "Disconnected/Removed by the registry owner"},
	} {
		if status, _ := post("appvnet-conn", tc.action); status != http.StatusSeeOther {
			t.Fatalf("%s: %d", tc.action, status)
		}
		if got := state(); got != tc.want {
			t.Fatalf("after %s: %s", tc.action, got)
		}
	}
}
