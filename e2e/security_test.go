package e2e

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// Attacks on the built binary with the default world's public secrets. Each asserts the
// refusal and has a positive control that succeeds.

func securityClient(t *testing.T, emu *harness.Emulator) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(emu.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

func send(t *testing.T, c *http.Client, method, u string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// POST /_emulator/reset from another site must not empty the registries.
func TestSecurityCrossSiteControl(t *testing.T) {
	emu := harness.Start(t)
	c := securityClient(t, emu)
	img := emu.RegistryHost() + "/kept:v1"
	emu.Run(t, harness.Tool(t, "CRANE", "crane"), "append", "-f", "/dev/null", "-t", img)
	base := "http://" + emu.HTTPAddr
	for _, h := range []map[string]string{
		{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
		{"Origin": "https://evil.example"},
	} {
		if status, body := send(t, c, "POST", base+"/_emulator/reset", h, ""); status != http.StatusForbidden {
			t.Fatalf("cross-site reset %v: %d %s", h, status, body)
		}
	}
	emu.Run(t, harness.Tool(t, "CRANE", "crane"), "digest", img) // still there
	// Positive control: a same-origin (or non-browser) reset works.
	if status, body := send(t, c, "POST", base+"/_emulator/reset", map[string]string{"Sec-Fetch-Site": "same-origin"}, ""); status != http.StatusOK {
		t.Fatalf("same-origin reset: %d %s", status, body)
	}
	if out, err := emu.TryRun(t, harness.Tool(t, "CRANE", "crane"), "digest", img); err == nil {
		t.Fatalf("the reset left the image: %s", out)
	}
}

// DNS rebinding: a page whose name resolves to 127.0.0.1 reaches the listeners with its own
// Host; the emulator serves only names it owns.
func TestSecurityDNSRebinding(t *testing.T) {
	emu := harness.Start(t)
	c := securityClient(t, emu)
	state := "http://" + emu.HTTPAddr + "/_emulator/state"
	status, body := send(t, c, "GET", state, map[string]string{"Host": "evil.example:" + strings.Split(emu.HTTPAddr, ":")[1]}, "")
	if status != http.StatusMisdirectedRequest || strings.Contains(body, harness.ClientSecret) || !strings.Contains(body, "--allowed-hosts evil.example") {
		t.Fatalf("state for a rebinding page: %d %s", status, body)
	}
	form := url.Values{"publicNetworkAccess": {"Disabled"}}.Encode()
	status, _ = send(t, c, "POST", "http://"+emu.HTTPAddr+"/_emulator/portal/registries/myregistry/networking",
		map[string]string{"Host": "evil.example", "Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"}, form)
	if status != http.StatusMisdirectedRequest {
		t.Fatalf("portal save from a rebinding page: %d", status)
	}
	status, body = send(t, c, "GET", "https://"+emu.HTTPSAddr+"/v2/", map[string]string{"Host": "evil.example"}, "")
	if status != http.StatusMisdirectedRequest || !strings.Contains(body, `"code":"DENIED"`) {
		t.Fatalf("registry for a rebinding name: %d %s", status, body)
	}
	// Positive controls: the emulator's own names, and a name the operator allows.
	for _, host := range []string{"localhost", "127.0.0.1", "myregistry.azurecr.io", "management.azure.com"} {
		if status, body := send(t, c, "GET", state, map[string]string{"Host": host}, ""); status != http.StatusOK {
			t.Errorf("state for %s: %d %s", host, status, body)
		}
	}
	allowed := harness.Start(t, harness.WithArgs("--allowed-hosts", "registry.corp.example"))
	status, body = send(t, securityClient(t, allowed), "GET", "http://"+allowed.HTTPAddr+"/_emulator/state", map[string]string{"Host": "registry.corp.example"}, "")
	if status != http.StatusOK {
		t.Fatalf("an allowed name: %d %s", status, body)
	}
}

// An ACR access token is not a password: a chain of renewed access tokens would outlive the
// revocation of the credential it came from.
func TestSecurityTokenChain(t *testing.T) {
	emu := harness.Start(t)
	c := securityClient(t, emu)
	token := "https://" + emu.HTTPSAddr + "/oauth2/token?service=" + emu.RegistryHost() + "&scope=repository:app:pull"
	basic := func(u, p string) map[string]string {
		req, _ := http.NewRequest("GET", "/", nil)
		req.SetBasicAuth(u, p)
		return map[string]string{"Authorization": req.Header.Get("Authorization")}
	}
	status, body := send(t, c, "GET", token+"&offline_token=true&client_id=docker", basic(harness.AdminUser, harness.AdminPassword), "")
	if status != http.StatusOK {
		t.Fatalf("admin login: %d %s", status, body)
	}
	var tok struct{ AccessToken, RefreshToken string }
	var raw map[string]string
	_ = json.Unmarshal([]byte(body), &raw)
	tok.AccessToken, tok.RefreshToken = raw["access_token"], raw["refresh_token"]
	if status, body := send(t, c, "GET", token, basic(harness.NullGUID, tok.AccessToken), ""); status != http.StatusUnauthorized {
		t.Fatalf("access token renewing itself: %d %s", status, body)
	}
	// Positive control: the refresh token is the null GUID's password.
	if status, body := send(t, c, "GET", token, basic(harness.NullGUID, tok.RefreshToken), ""); status != http.StatusOK {
		t.Fatalf("refresh token as password: %d %s", status, body)
	}
}
