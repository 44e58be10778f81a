package token

import (
	"testing"
	"time"
)

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"repository:team/app:pull,push", "registry:catalog:*", "repository:a:", ":a:pull", "repository:a:b:c", "repository::pull"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sc, ok := ParseScope(s)
		if !ok {
			return
		}
		again, ok := ParseScope(sc.String())
		if !ok || again.String() != sc.String() {
			t.Fatalf("ParseScope(%q) = %q, which parses back as %q, %v", s, sc.String(), again.String(), ok)
		}
	})
}

// FuzzVerify: no string a client sends is taken for a token this signer did not mint.
func FuzzVerify(f *testing.F) {
	s, err := newSigner(time.Now, nil)
	if err != nil {
		f.Fatal(err)
	}
	good, _, err := s.mint(claims{AUD: "r.azurecr.io", GrantType: grantAccess}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)-2])
	f.Add("eyJhbGciOiJub25lIn0.eyJhdWQiOiJyLmF6dXJlY3IuaW8ifQ.")
	f.Add("a.b.c")
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := s.verify(raw, "r.azurecr.io", grantAccess)
		if err == nil && raw != good {
			t.Fatalf("verify accepted %q as %+v", raw, c)
		}
	})
}
