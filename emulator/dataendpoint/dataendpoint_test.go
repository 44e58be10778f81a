package dataendpoint

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
)

func TestParseHost(t *testing.T) {
	for host, want := range map[string]string{
		"myregistry.eastus.data.azurecr.io":         "myregistry eastus",
		"MyRegistry.WestEurope.data.azurecr.io:443": "myregistry westeurope",
		"myregistry.azurecr.io":                     "",
		"eastus.data.azurecr.io":                    "",
		"my-registry.eastus.data.azurecr.io":        "",
		"abc.eastus.data.azurecr.io":                "", // registry names have 5 to 50 characters
		"myregistry.east.us.data.azurecr.io":        "",
		"myregistry.eastus.data.azurecr.io.evil":    "",
		"myregistry.eastus.blob.core.windows.net":   "",
	} {
		reg, region, ok := ParseHost(host)
		got := ""
		if ok {
			got = reg + " " + region
		}
		if got != want {
			t.Errorf("ParseHost(%q) = %q, want %q", host, got, want)
		}
	}
	if h := Host("MyRegistry", "eastus"); h != "myregistry.eastus.data.azurecr.io" {
		t.Errorf("Host = %s", h)
	}
}

func TestLinks(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clock := now
	s := NewSigner([]byte("key"), func() time.Time { return clock })
	d := digest.FromString("layer")
	l := Link{Registry: "MyRegistry", Region: "eastus", LoginServer: "myregistry.azurecr.io", Correlation: "c0ffee", Repository: "team/app",
		Digest: d, Expiry: now.Add(20 * time.Minute)}
	raw := s.Query(l)
	if !strings.HasPrefix(raw, "t=") || !strings.Contains(raw, "&h=myregistry.azurecr.io&c=c0ffee&r=team%2Fapp&d=sha256%3A") || !strings.HasSuffix(raw, "&v=1") {
		t.Fatalf("query %s: not in ACR's order", raw)
	}
	q, _ := url.ParseQuery(raw)
	got, err := s.Verify("myregistry", "eastus", q)
	if err != nil || got.Repository != "team/app" || got.Digest != d || !got.Expiry.Equal(l.Expiry) {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	tamper := func(k, v string) url.Values {
		c := url.Values{}
		for kk, vv := range q {
			c[kk] = append([]string(nil), vv...)
		}
		c.Set(k, v)
		return c
	}
	for desc, tc := range map[string]struct {
		registry, region string
		q                url.Values
	}{
		"another repository":               {"myregistry", "eastus", tamper("r", "other")},
		"another digest":                   {"myregistry", "eastus", tamper("d", digest.FromString("x").String())},
		"a later expiry":                   {"myregistry", "eastus", tamper("t", "ffffffff")},
		"another registry's data endpoint": {"otherregistry", "eastus", q},
		"another region":                   {"myregistry", "westeurope", q},
		"no signature":                     {"myregistry", "eastus", tamper("s", "")},
		"another version":                  {"myregistry", "eastus", tamper("v", "2")},
	} {
		if _, err := s.Verify(tc.registry, tc.region, tc.q); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", desc, err)
		}
	}
	if _, err := NewSigner([]byte("other key"), nil).Verify("myregistry", "eastus", q); !errors.Is(err, ErrInvalid) {
		t.Errorf("another key: %v", err)
	}
	clock = now.Add(20 * time.Minute)
	if _, err := s.Verify("myregistry", "eastus", q); !errors.Is(err, ErrExpired) {
		t.Errorf("at expiry: %v", err)
	}
}
