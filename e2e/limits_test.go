package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// The on-disk content store (--blob-dir): crane pushes and pulls through the built binary,
// every manifest and blob is a file named by its digest, and the directory starts empty.
func TestBlobDir(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	dir := filepath.Join(t.TempDir(), "blobs")
	// What an earlier run left: emptied at start.
	stale := filepath.Join(dir, "sha256", strings.Repeat("ab", 32))
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{stale, filepath.Join(dir, ".acr-emulator-blobs")} {
		if err := os.WriteFile(f, []byte("old"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	emu := harness.Start(t, harness.WithArgs("--blob-dir", dir))
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Fatalf("a blob left by an earlier run is still there: %v", err)
	}

	src := t.TempDir()
	want := writeLayout(t, src, 3)
	ref := emu.RegistryHost() + "/disk/app:v1"
	emu.Run(t, crane, "push", src, ref)
	pushed := blobs(t, src)
	for name, b := range pushed {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, b) {
			t.Errorf("blob %s is not on disk with its bytes: %v (%d vs %d bytes)", name, err, len(got), len(b))
		}
	}
	dst := filepath.Join(t.TempDir(), "pulled")
	emu.Run(t, crane, "pull", "--format", "oci", ref, dst)
	if got := layoutManifest(t, dst); got != want {
		t.Fatalf("pulled manifest %s, want %s", got, want)
	}
	for name, b := range blobs(t, dst) {
		if !bytes.Equal(pushed[name], b) {
			t.Errorf("blob %s differs after the round trip", name)
		}
	}
	// Deleting the manifest and the tag's last reference frees its file.
	manifest := filepath.Join(dir, "sha256", want.Hex)
	emu.Run(t, crane, "delete", emu.RegistryHost()+"/disk/app@"+want.String())
	if _, err := os.Stat(manifest); !os.IsNotExist(err) {
		t.Errorf("the deleted manifest's file is still there: %v", err)
	}

	// A directory that is not a blob directory is never emptied.
	foreign := t.TempDir()
	keep := filepath.Join(foreign, "precious.txt")
	if err := os.WriteFile(keep, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := emu.TryRun(t, harness.Binary(t), "serve", "--https-addr", harness.FreeAddr(t), "--http-addr", "-", "--proxy-addr", "-",
		"--data-dir", t.TempDir(), "--blob-dir", foreign)
	if err == nil || !strings.Contains(out, "refusing to empty it") {
		t.Fatalf("a foreign --blob-dir was accepted (err %v):\n%s", err, out)
	}
	if _, err := os.Stat(keep); err != nil {
		t.Fatalf("the foreign directory lost its file: %v", err)
	}
}

// limitsClient talks to the default registry with the admin user's Basic credentials.
type limitsClient struct {
	t    *testing.T
	c    *http.Client
	base string
}

func newLimitsClient(t *testing.T, emu *harness.Emulator) *limitsClient {
	return &limitsClient{t: t, c: securityClient(t, emu), base: "https://" + emu.RegistryHost()}
}

func (l *limitsClient) do(method, path string, body io.Reader, size int64) (*http.Response, []byte) {
	l.t.Helper()
	req, err := http.NewRequest(method, l.base+path, body)
	if err != nil {
		l.t.Fatal(err)
	}
	req.ContentLength = size
	req.SetBasicAuth(harness.AdminUser, harness.AdminPassword)
	res, err := l.c.Do(req)
	if err != nil {
		l.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// session starts an upload session and returns its Location.
func (l *limitsClient) session(repo string) string {
	l.t.Helper()
	res, b := l.do("POST", "/v2/"+repo+"/blobs/uploads/", nil, 0)
	if res.StatusCode != http.StatusAccepted {
		l.t.Fatalf("POST upload: %d %s", res.StatusCode, b)
	}
	return res.Header.Get("Location")
}

func (l *limitsClient) patch(loc string, n int) (*http.Response, []byte) {
	l.t.Helper()
	return l.do("PATCH", loc, bytes.NewReader(make([]byte, n)), int64(n))
}

// Unfinished uploads are bounded together (--max-pending-upload-bytes): a chunk beyond the
// bound is refused with 429 TOOMANYREQUESTS in distribution's error body, and holds nothing;
// a session idle longer than --upload-ttl is dropped, which frees its share; crane reports the
// refusal of a push too large for the bound, and pushes within it.
func TestUploadLimits(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t, harness.WithArgs("--max-pending-upload-bytes", "1048576", "--upload-ttl", "2s"))
	l := newLimitsClient(t, emu)

	held := l.session("limits/a")
	if res, b := l.patch(held, 768<<10); res.StatusCode != http.StatusAccepted {
		t.Fatalf("first chunk: %d %s", res.StatusCode, b)
	}
	other := l.session("limits/b")
	res, b := l.patch(other, 512<<10)
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("chunk beyond the bound: %d (Retry-After %q) %s", res.StatusCode, res.Header.Get("Retry-After"), b)
	}
	var body struct {
		Errors []struct{ Code, Message string }
	}
	if err := json.Unmarshal(b, &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Code != "TOOMANYREQUESTS" {
		t.Fatalf("error body %s (%v)", b, err)
	}
	if res, _ := l.do("GET", other, nil, 0); res.Header.Get("Range") != "0-0" {
		t.Fatalf("the refused chunk left bytes in its session: Range %q", res.Header.Get("Range"))
	}

	// The first session expires (nothing sent for longer than the TTL); its share is free.
	deadline := time.Now().Add(time.Minute)
	for {
		res, _ := l.do("GET", held, nil, 0)
		if res.StatusCode == http.StatusNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the idle session is still there after a minute: %d", res.StatusCode)
		}
		time.Sleep(200 * time.Millisecond)
	}
	other = l.session("limits/b") // the refused one may have expired too
	if res, b := l.patch(other, 512<<10); res.StatusCode != http.StatusAccepted {
		t.Fatalf("chunk after the idle session expired: %d %s", res.StatusCode, b)
	}
	if res, b := l.do("DELETE", other, nil, 0); res.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE session: %d %s", res.StatusCode, b)
	}

	// Real clients: crane pushes an image within the bound and reports one beyond it.
	small := t.TempDir()
	writeLayout(t, small, 2) // 2 × 64 KiB
	emu.Run(t, crane, "push", small, emu.RegistryHost()+"/limits/small:v1")
	big := t.TempDir()
	noise := make([]byte, 2<<20) // incompressible: the gzipped layer stays 2 MiB
	if _, err := rand.Read(noise); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(big, "big.bin"), noise, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := emu.TryRun(t, crane, "append", "-f", filepath.Join(big, "big.bin"), "-t", emu.RegistryHost()+"/limits/big:v1")
	if err == nil || !strings.Contains(out, "TOOMANYREQUESTS") {
		t.Fatalf("crane pushed a layer beyond the pending bound (err %v):\n%s", err, out)
	}
	consistent(t, emu)
}

func basicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// A PATCH whose body trickles (a byte every 300 ms, under the 16 KiB per --body-read-timeout
// the emulator asks for) is cut; one that is slow but keeps flowing (16 KiB every 100 ms,
// ten times the rate asked for) is read whole, over several windows.
func TestSlowBody(t *testing.T) {
	emu := harness.Start(t, harness.WithArgs("--body-read-timeout", "1s"))
	l := newLimitsClient(t, emu)
	pem, err := os.ReadFile(emu.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	// patch sends total bytes in pieces every interval over one TLS connection and returns the
	// status answered, 0 when the connection broke first, -1 when it could not be sent.
	patch := func(loc string, total, piece int, every time.Duration) int {
		c, err := tls.Dial("tcp", emu.HTTPSAddr, &tls.Config{RootCAs: roots, ServerName: "localhost", NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Error(err) // may run on a goroutine of its own
			return -1
		}
		defer c.Close()
		req := fmt.Sprintf("PATCH %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic %s\r\nContent-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n",
			loc, emu.RegistryHost(), basicAuth(harness.AdminUser, harness.AdminPassword), total)
		if _, err := io.WriteString(c, req); err != nil {
			t.Error(err)
			return -1
		}
		buf := make([]byte, piece)
		for sent := 0; sent < total; sent += piece {
			if _, err := c.Write(buf[:min(piece, total-sent)]); err != nil {
				break // cut
			}
			time.Sleep(every)
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}

	loc := l.session("slow/trickle")
	done := make(chan int, 1)
	start := time.Now()
	go func() { done <- patch(loc, 200, 1, 300*time.Millisecond) }() // a minute at that pace
	select {
	case status := <-done:
		if status == http.StatusAccepted {
			t.Fatalf("the trickling body was accepted")
		}
		t.Logf("trickle cut after %v (status %d)", time.Since(start).Round(100*time.Millisecond), status)
	case <-time.After(45 * time.Second):
		t.Fatal("the trickling PATCH is still open after 45 s")
	}
	if res, _ := l.do("GET", loc, nil, 0); res.Header.Get("Range") != "0-0" {
		t.Fatalf("the cut chunk left bytes in its session: Range %q", res.Header.Get("Range"))
	}

	loc = l.session("slow/live")
	if status := patch(loc, 40*16<<10, 16<<10, 100*time.Millisecond); status != http.StatusAccepted {
		t.Fatalf("a slow but live body (16 KiB every 100 ms, 4 s) got %d", status)
	}
	if res, _ := l.do("GET", loc, nil, 0); res.Header.Get("Range") != fmt.Sprintf("0-%d", 40*16<<10-1) {
		t.Fatalf("the live body was not kept whole: Range %q", res.Header.Get("Range"))
	}
}
