package certs

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LoadOrCreateSigningKey returns the RSA key kept in dir/name, creating it on first use. The
// token signers keep their keys beside the CA so that tokens clients hold (az's cache, a docker
// login) still verify after the emulator restarts, as Azure's do. A file that is there but
// unreadable is an error naming it, not a silent new key.
func LoadOrCreateSigningKey(dir, name string) (*rsa.PrivateKey, error) {
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := writeAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, err := parseKeyPEM(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	key, ok := s.(*rsa.PrivateKey)
	if !ok || key.N.BitLen() < 2048 {
		return nil, fmt.Errorf("%s: not an RSA key of 2048 bits or more", path)
	}
	return key, nil
}

// LoadOrCreateSecret returns the random secret kept base64-encoded in dir/name, creating one of
// size bytes on first use: for HMAC keys such as the fake storage's account keys, which sign
// the SAS links the emulator hands out, so links stay valid across a restart as Azure's do. A
// file that is there but unreadable, or shorter than size, is an error naming it.
func LoadOrCreateSecret(dir, name string, size int) ([]byte, error) {
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		secret := make([]byte, size)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		enc := base64.StdEncoding.EncodeToString(secret) + "\n"
		if err := writeAtomic(path, []byte(enc), 0o600); err != nil {
			return nil, err
		}
		return secret, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	secret, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: not base64: %w", path, err)
	}
	if len(secret) < size {
		return nil, fmt.Errorf("%s: a secret of %d bytes, want %d or more", path, len(secret), size)
	}
	return secret, nil
}
