package network

import "testing"

func FuzzParseIPRule(f *testing.F) {
	for _, s := range []string{"198.51.100.7", "198.51.100.0/24", "10.0.0.300", "::1", "1.2.3.4/33", " 1.2.3.4", "0.0.0.0/0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseIPRule(s)
		if err != nil {
			return
		}
		if !p.IsValid() || !p.Addr().Is4() {
			t.Fatalf("ParseIPRule(%q) accepted %v", s, p)
		}
	})
}
