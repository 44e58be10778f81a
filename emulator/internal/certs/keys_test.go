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

func TestLoadOrCreateSecret(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := LoadOrCreateSecret(dir, "storage-account-key", 64)
	if err != nil || len(first) != 64 {
		t.Fatalf("secret: %d bytes, %v", len(first), err)
	}
	info, err := os.Stat(filepath.Join(dir, "storage-account-key"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("secret file: %v %v", info, err)
	}
	again, err := LoadOrCreateSecret(dir, "storage-account-key", 64)
	if err != nil || string(again) != string(first) {
		t.Fatalf("the secret did not survive a restart: %v", err)
	}
	if other, err := LoadOrCreateSecret(dir, "other-key", 64); err != nil || string(other) == string(first) {
		t.Fatalf("two names share a secret: %v", err)
	}
	for name, body := range map[string]string{"garbage": "not base64!", "short": "c2hvcnQ=\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadOrCreateSecret(dir, name, 64); err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("%s secret file: %v", name, err)
		}
	}
}
