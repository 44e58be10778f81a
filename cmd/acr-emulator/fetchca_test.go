package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestFetchCA(t *testing.T) {
	emu := testEmulator(t)
	want := emu.CA().CertPEM()
	for _, base := range []string{emu.HTTPSURL(), emu.HTTPURL(), emu.HTTPSURL() + "/"} {
		got, err := fetchCA(context.Background(), base)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("fetchCA(%s) = %q, %v", base, got, err)
		}
	}

	// A server handing out the emulator's CA with a certificate another CA issued (say, a
	// TLS-intercepting proxy) is refused.
	impostor := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(want) }))
	defer impostor.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	for _, tc := range []struct{ base, want string }{
		{impostor.URL, "is not issued by the CA it serves"},
		{notFound.URL, "404 Not Found (is this an acr-emulator?)"},
		{"localhost:8443", "want the emulator's https:// or http:// URL"},
	} {
		if _, err := fetchCA(context.Background(), tc.base); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("fetchCA(%s) = %v, want %q", tc.base, err, tc.want)
		}
	}
}
