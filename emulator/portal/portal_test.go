package portal

import (
	"slices"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/arm"
	"github.com/acr-emulator/acr-emulator/emulator/store"
)

func premium() *store.Registry {
	return &store.Registry{Name: "myregistry", SKU: "Premium", PublicNetworkAccess: true, DefaultActionAllow: true, BypassAzureServices: true}
}

func TestNetworkingOf(t *testing.T) {
	for _, tc := range []struct {
		name          string
		public, allow bool
		want          string
	}{
		{"all networks", true, true, AccessAll},
		{"selected networks", true, false, AccessSelected},
		{"disabled, firewall allowing", false, true, AccessDisabled},
		{"disabled, firewall denying", false, false, AccessDisabled},
	} {
		reg := premium()
		reg.PublicNetworkAccess, reg.DefaultActionAllow, reg.IPRules = tc.public, tc.allow, []string{"203.0.113.0/24"}
		got := NetworkingOf(reg)
		if got.Access != tc.want || !got.Trusted || !slices.Equal(got.IPRules, reg.IPRules) {
			t.Errorf("%s: %+v", tc.name, got)
		}
	}
}

// Save's PATCH, applied as ARM applies it, gives back the form's state, and nothing else
// changes.
func TestPatchBodyRoundTrip(t *testing.T) {
	for _, form := range []Networking{
		{Access: AccessAll, Trusted: true},
		{Access: AccessSelected, IPRules: []string{"198.51.100.7", "203.0.113.0/24"}, Trusted: true},
		{Access: AccessSelected, Trusted: false},
		{Access: AccessDisabled, Trusted: false},
		{Access: AccessDisabled, IPRules: []string{"198.51.100.7"}, Trusted: true},
		{Access: AccessAll, Trusted: true, DataEndpoint: true},
	} {
		body, err := PatchBody(form)
		if err != nil {
			t.Fatal(err)
		}
		before := premium()
		before.AdminUserEnabled, before.AnonymousPullEnabled = true, true
		next, err := arm.Patch(before, body)
		if err != nil {
			t.Fatalf("%+v: %v", form, err)
		}
		got := NetworkingOf(next)
		if got.Access != form.Access || got.Trusted != form.Trusted || !slices.Equal(got.IPRules, form.IPRules) || got.DataEndpoint != form.DataEndpoint {
			t.Errorf("%+v: saved as %+v (%s)", form, got, body)
		}
		if !next.AdminUserEnabled || !next.AnonymousPullEnabled || !before.PublicNetworkAccess {
			t.Errorf("%+v: other settings changed, or the original was modified", form)
		}
	}
	if _, err := PatchBody(Networking{Access: "everyone"}); err == nil {
		t.Error("an unknown access choice was accepted")
	}
}

// The form's limits are ARM's: its errors reach the page as ARM words them.
func TestPatchBodyRejectedAsARMRejects(t *testing.T) {
	basic := premium()
	basic.SKU = "Basic"
	for _, tc := range []struct {
		reg  *store.Registry
		form Networking
		want string
	}{
		{premium(), Networking{Access: AccessSelected, IPRules: []string{"not-an-ip"}}, "The IP address or range 'not-an-ip' is invalid"},
		{basic, Networking{Access: AccessDisabled}, "Disabling public network access is not supported for the SKU Basic"},
		{basic, Networking{Access: AccessSelected}, "Network rule set is not supported for the SKU Basic"},
		{basic, Networking{Access: AccessAll, DataEndpoint: true}, "Dedicated data endpoint is not supported for the SKU Basic"},
	} {
		body, err := PatchBody(tc.form)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := arm.Patch(tc.reg, body); err == nil || !strings.Contains(message(err), tc.want) || strings.Contains(message(err), "InvalidIp") {
			t.Errorf("%+v on %s: %v", tc.form, tc.reg.SKU, err)
		}
	}
}
