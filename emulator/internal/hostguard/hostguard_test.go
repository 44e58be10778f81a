package hostguard

import "testing"

func TestAllowed(t *testing.T) {
	n := New("login.microsoftonline.com", "*.azurecr.io", "registry.example.com.", "")
	owned := func(h string) bool { return h == "made-by-arm.corp.example" }
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"localhost:8443", true},
		{"127.0.0.1:8080", true},
		{"[::1]:8443", true},
		{"10.1.2.3", true},           // IP literals cannot be rebound
		{"acr-emulator:8443", true},  // a compose service name
		{"foo.localhost:8443", true}, // resolves to loopback by definition
		{"myregistry.azurecr.io", true},
		{"MyRegistry.AzureCR.io:443", true},
		{"azurecr.io", false}, // the pattern covers subdomains only
		{"login.microsoftonline.com", true},
		{"registry.example.com:5000", true},
		{"registry.example.com.", true},
		{"made-by-arm.corp.example", true},
		{"evil.example", false},
		{"evil.example:8080", false},
		{"myregistry.azurecr.io.evil.example", false},
		{"", true},
	} {
		if got := n.Allowed(tc.host, owned); got != tc.want {
			t.Errorf("Allowed(%q) = %v, want %v", tc.host, got, tc.want)
		}
	}
	if !New("*").Allowed("evil.example", nil) {
		t.Error(`"*" must allow every name`)
	}
}

func FuzzAllowed(f *testing.F) {
	for _, s := range []string{"localhost:8443", "[::1]:1", "a.azurecr.io", "evil.example", "[", ":", "..", "%00"} {
		f.Add(s)
	}
	n := New("*.azurecr.io")
	f.Fuzz(func(t *testing.T, host string) { _ = n.Allowed(host, nil) })
}
