package certs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateSigningKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := LoadOrCreateSigningKey(dir, "entra-signing-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, "entra-signing-key.pem"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", info, err)
	}
	again, err := LoadOrCreateSigningKey(dir, "entra-signing-key.pem")
	if err != nil || !again.Equal(first) {
		t.Fatalf("the key did not survive a restart: %v", err)
	}
	other, err := LoadOrCreateSigningKey(dir, "acr-signing-key.pem")
	if err != nil || other.Equal(first) {
		t.Fatalf("two names share a key: %v", err)
	}
	// A damaged file is an error naming it, not a new key.
	if err := os.WriteFile(filepath.Join(dir, "entra-signing-key.pem"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSigningKey(dir, "entra-signing-key.pem"); err == nil || !strings.Contains(err.Error(), "entra-signing-key.pem") {
		t.Fatalf("damaged key: %v", err)
	}
	// The CA's EC key is not a token signing key.
	if _, err := LoadOrCreateCA(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSigningKey(dir, "ca-key.pem"); err == nil || !strings.Contains(err.Error(), "not an RSA key") {
		t.Fatalf("EC key: %v", err)
	}
}
