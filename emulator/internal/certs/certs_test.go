package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	for file, mode := range map[string]os.FileMode{"ca.pem": 0o644, "ca-key.pem": 0o600} {
		fi, err := os.Stat(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s mode = %v, want %v", file, fi.Mode().Perm(), mode)
		}
	}
	again, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.CertPEM(), ca.CertPEM()) || again.Path() != filepath.Join(dir, "ca.pem") {
		t.Fatal("a second start did not load the same CA")
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(dir); err == nil || !strings.Contains(err.Error(), "ca.pem") {
		t.Fatalf("corrupt ca.pem: err = %v, want an error naming the file", err)
	}
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "ca-key.pem"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateCA(other); err == nil || !strings.Contains(err.Error(), "ca.pem") {
		t.Fatalf("half-present pair: err = %v", err)
	}
}

func TestIssue(t *testing.T) {
	ca, err := NewEphemeralCA()
	if err != nil {
		t.Fatal(err)
	}
	if !ca.cert.IsCA || len(ca.cert.SubjectKeyId) == 0 || !bytes.Equal(ca.cert.AuthorityKeyId, ca.cert.SubjectKeyId) {
		t.Fatal("CA lacks basicConstraints CA:TRUE or key identifiers")
	}
	cert, err := ca.Issue("localhost", "127.0.0.1", "::1", "myregistry.azurecr.io", "*.azurecr.io")
	if err != nil {
		t.Fatal(err)
	}
	leaf := cert.Leaf
	if leaf.IsCA || len(leaf.SubjectKeyId) == 0 || !bytes.Equal(leaf.AuthorityKeyId, ca.cert.SubjectKeyId) {
		t.Fatal("leaf key identifiers or basicConstraints wrong")
	}
	if len(leaf.IPAddresses) != 2 || len(leaf.DNSNames) != 3 {
		t.Fatalf("SANs: ips %v dns %v", leaf.IPAddresses, leaf.DNSNames)
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1", "myregistry.azurecr.io", "other.azurecr.io"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: ca.Pool()}); err != nil {
			t.Errorf("verify %s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: ca.Pool()}); err == nil {
		t.Error("leaf verified for a host it does not name")
	}
}

// serveTLS starts an HTTPS server on loopback with a certificate from ca.
func serveTLS(t *testing.T, ca *CA) string {
	t.Helper()
	cert, err := ca.Issue("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok")) })}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

func TestHandshake(t *testing.T) {
	ca, err := LoadOrCreateCA(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	port := serveTLS(t, ca)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	res, err := client.Get("https://localhost:" + port + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()

	// Strict verifiers: the reason the CA carries every extension. The az CLI's Python rejects
	// certificates without an Authority Key Identifier under VERIFY_X509_STRICT.
	if _, err := exec.LookPath("openssl"); err == nil {
		leaf := filepath.Join(t.TempDir(), "leaf.pem")
		cert, _ := ca.Issue("localhost")
		if err := os.WriteFile(leaf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("openssl", "verify", "-x509_strict", "-CAfile", ca.Path(), leaf).CombinedOutput()
		if err != nil {
			t.Errorf("openssl verify -x509_strict: %v\n%s", err, out)
		}
	}
	if _, err := exec.LookPath("python3"); err == nil {
		script := `
import ssl, sys, urllib.request
ctx = ssl.create_default_context(cafile=sys.argv[1])
if hasattr(ssl, "VERIFY_X509_STRICT"):
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
print(urllib.request.urlopen("https://localhost:" + sys.argv[2] + "/", context=ctx).read().decode())
`
		out, err := exec.Command("python3", "-c", script, ca.Path(), port).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "ok" {
			t.Errorf("python strict TLS: %v\n%s", err, out)
		}
	}
}
