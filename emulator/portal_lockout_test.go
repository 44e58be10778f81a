package emulator_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
)

// The Networking page says so when the firewall refuses the very machine looking at it while
// public access is enabled (what az's --public-network-enabled false then true leaves), and
// how to open the registry; the banner goes once the machine is let in.
func TestPortalLockedOutBanner(t *testing.T) {
	emu := emulatortest.New(t)
	page := emu.HTTPURL() + "/_emulator/portal/registries/myregistry/networking"
	get := func() string {
		t.Helper()
		res, err := http.Get(page)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	if strings.Contains(get(), `id="locked-out"`) {
		t.Fatal("banner shown on an open registry")
	}
	set := func(allow bool, rules ...string) {
		t.Helper()
		reg, err := emu.Store().GetRegistry("myregistry")
		if err != nil || reg == nil {
			t.Fatal(err)
		}
		next := *reg
		next.PublicNetworkAccess, next.DefaultActionAllow, next.IPRules = true, allow, rules
		if err := emu.Store().PutRegistry(&next); err != nil {
			t.Fatal(err)
		}
	}
	set(false)
	body := get()
	for _, want := range []string{`id="locked-out"`, "requests from '127.0.0.1' are refused with 403 DENIED", "no address range is listed",
		"az acr update -n myregistry --default-action Allow"} {
		if !strings.Contains(body, want) {
			t.Fatalf("page lacks %q:\n%s", want, body)
		}
	}
	set(false, "127.0.0.1")
	if strings.Contains(get(), `id="locked-out"`) {
		t.Fatal("banner shown while an IP rule lets this machine in")
	}
}
