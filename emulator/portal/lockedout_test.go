package portal

import (
	"net/netip"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/network"
)

func TestLockedOut(t *testing.T) {
	local := network.Origin{Kind: network.Internet, IP: netip.MustParseAddr("127.0.0.1")}
	for _, tc := range []struct {
		desc          string
		public, allow bool
		rules         []string
		origin        network.Origin
		want          bool
	}{
		{"after --public-network-enabled false then true: Deny, no range", true, false, nil, local, true},
		{"ranges that miss this machine", true, false, []string{"203.0.113.0/24"}, local, true},
		{"a range with this machine", true, false, []string{"127.0.0.0/8"}, local, false},
		{"All networks", true, true, nil, local, false},
		{"public access disabled: the page says Disabled already", false, false, nil, local, false},
		{"viewed through a VNet origin", true, false, nil, network.Origin{Kind: network.PrivateEndpoint, VNet: "appvnet"}, false},
		{"no address known", true, false, nil, network.Origin{Kind: network.Internet}, false},
	} {
		reg := premium()
		reg.PublicNetworkAccess, reg.DefaultActionAllow, reg.IPRules = tc.public, tc.allow, tc.rules
		if got := LockedOut(reg, tc.origin); got != tc.want {
			t.Errorf("%s: LockedOut = %v, want %v", tc.desc, got, tc.want)
		}
	}
}
