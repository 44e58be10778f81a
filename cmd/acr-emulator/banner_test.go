package main

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
)

func TestPublication(t *testing.T) {
	pub, err := parsePublished("127.0.0.1:18443:8443, 18080:8080,[::1]:18081:8081", true)
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"https://[::]:8443":           "https://localhost:18443",
		"http://0.0.0.0:8080":         "http://localhost:18080",
		"http://[::]:8081":            "http://localhost:18081",
		"http://[::]:9001":            "http://localhost:9001", // not published: the container's own
		"https://myhost.example:8443": "https://myhost.example:8443",
		"":                            "",
	} {
		if got := pub.url(in); got != want {
			t.Errorf("url(%q) = %q, want %q", in, got, want)
		}
	}
	if got := pub.hostPort("localhost:8443"); got != "localhost:18443" {
		t.Errorf("hostPort = %q", got)
	}
	if got := pub.hostPort("myregistry.azurecr.io"); got != "myregistry.azurecr.io" {
		t.Errorf("hostPort of a real-looking login server = %q", got)
	}
	if got := pub.unpublished("https://[::]:8443", "http://[::]:9000"); len(got) != 1 || got[0] != "9000" {
		t.Errorf("unpublished = %q", got)
	}
	// Without a publication, a wildcard bind is still named as clients reach it.
	if got := (publication{}).url("http://[::]:8080"); got != "http://localhost:8080" {
		t.Errorf("unpublished wildcard = %q", got)
	}
	for _, bad := range []string{"8443", "a:8443", "127.0.0.1:x:8443", "1:99999"} {
		if _, err := parsePublished(bad, true); err == nil {
			t.Errorf("parsePublished(%q) accepted", bad)
		}
	}
}

// The banner names only addresses a client reaches: in a container, the published ports.
func TestBannerInContainer(t *testing.T) {
	emu := testEmulator(t)
	port := func(raw string) string { u, _ := url.Parse(raw); return u.Port() }
	pub, err := parsePublished("127.0.0.1:18443:"+port(emu.HTTPSURL())+",127.0.0.1:18080:"+port(emu.HTTPURL()), true)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	printQuickStart(&b, emu, pub, true)
	out := b.String()
	for _, want := range []string{"From the host, on the published ports", "login server localhost:18443", "authority https://localhost:18443/",
		"http://localhost:18080/_emulator/portal/", "IDENTITY_ENDPOINT=http://localhost:18080/msi/token", "http://localhost:18080/_emulator/ca.pem",
		"not published: container port "} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	_, line, _ := strings.Cut(out, "not published: ")
	line, _, _ = strings.Cut(line, "\n")
	for _, p := range []string{port(emu.ProxyURL()), port(emu.Origins()[0].ProxyURL)} {
		if !strings.Contains(line, p) {
			t.Errorf("port %s is not listed as unpublished: %q", p, line)
		}
	}
	if strings.Contains(out, ":"+port(emu.HTTPSURL())+"/") || strings.Contains(out, "127.0.0.1") {
		t.Errorf("banner names a container address:\n%s", out)
	}

	b.Reset()
	printQuickStart(&b, emu, publication{container: true}, true)
	if !strings.Contains(b.String(), "the addresses below are the container's") {
		t.Errorf("a container without published ports is not said to be one:\n%s", b.String())
	}
}

// The default world's secrets are well known and printed; a custom world's are not.
func TestBannerSecrets(t *testing.T) {
	emu := testEmulator(t)
	secrets := []string{"acr-emulator-admin-password", "acr-emulator-client-secret", "acr-emulator-identity-header"}
	var b bytes.Buffer
	printQuickStart(&b, emu, publication{}, true)
	for _, s := range secrets {
		if !strings.Contains(b.String(), s) {
			t.Errorf("the default world's banner lacks %q", s)
		}
	}
	b.Reset()
	printQuickStart(&b, emu, publication{}, false)
	for _, s := range secrets {
		if strings.Contains(b.String(), s) {
			t.Errorf("a custom world's banner prints the secret %q:\n%s", s, b.String())
		}
	}
	if !strings.Contains(b.String(), "/_emulator/state>") {
		t.Errorf("the banner does not say where the secrets are:\n%s", b.String())
	}
}
