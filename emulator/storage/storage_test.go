package storage

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// mapSource serves blobs from a map and counts the contents it handed out and got back.
type mapSource struct {
	blobs        map[string][]byte
	opened, done *atomic.Int64
}

func newMapSource(blobs map[string][]byte) mapSource {
	return mapSource{blobs: blobs, opened: new(atomic.Int64), done: new(atomic.Int64)}
}

func (m mapSource) Open(name string) (Content, bool) {
	b, ok := m.blobs[name]
	if !ok {
		return nil, false
	}
	m.opened.Add(1)
	return &mapContent{Reader: bytes.NewReader(b), done: m.done}, true
}

type mapContent struct {
	*bytes.Reader
	done *atomic.Int64
}

func (c *mapContent) Close() error { c.done.Add(1); return nil }

// A mounted container serves content kept elsewhere (registry blobs) through signed links,
// and takes no writes.
func TestMount(t *testing.T) {
	s := fixture(t)
	src := newMapSource(map[string][]byte{"sha256/ab": []byte("layer")})
	if err := s.Mount("acct", "registry", src); err != nil {
		t.Fatal(err)
	}
	get := func(method, u string, body string, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, u, strings.NewReader(body))
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		return w
	}
	u, _ := s.SignedURL("https://localhost:8443/acct", Ref{"acct", "registry", "sha256/ab"}, "r", 20*time.Minute)
	if w := get("GET", u, "", "Range", "bytes=1-"); w.Code != 206 || w.Body.String() != "ayer" || w.Header().Get("x-ms-blob-type") != "BlockBlob" {
		t.Fatalf("GET a mounted blob: %d %q %v", w.Code, w.Body, w.Header())
	}
	missing, _ := s.SignedURL("https://localhost:8443/acct", Ref{"acct", "registry", "sha256/cd"}, "r", 20*time.Minute)
	if w := get("GET", missing, ""); w.Code != 404 || w.Header().Get("x-ms-error-code") != "BlobNotFound" {
		t.Fatalf("GET a blob the source lacks: %d %s", w.Code, w.Body)
	}
	put, _ := s.SignedURL("https://localhost:8443/acct", Ref{"acct", "registry", "sha256/ab"}, "cw", 20*time.Minute)
	if w := get("PUT", put, "x", "x-ms-blob-type", "BlockBlob"); w.Code != 403 || w.Header().Get("x-ms-error-code") != "AuthorizationPermissionMismatch" {
		t.Fatalf("PUT into a mount: %d %s", w.Code, w.Body)
	}
	if err := s.PutBlockBlob(Ref{"acct", "registry", "x"}, []byte("x"), Props{}); err == nil {
		t.Fatal("the Go API wrote into a mount")
	}
	if w := get("GET", u, ""); w.Code != 200 || w.Body.String() != "layer" || w.Header().Get("Content-Length") != "5" {
		t.Fatalf("GET a whole mounted blob: %d %q %v", w.Code, w.Body, w.Header())
	}
	if w := get("GET", u, "", "x-ms-range", "bytes=1-2"); w.Code != 206 || w.Body.String() != "ay" || w.Header().Get("Content-Range") != "bytes 1-2/5" {
		t.Fatalf("GET a range of a mounted blob: %d %q %v", w.Code, w.Body, w.Header())
	}
	if w := get("HEAD", u, ""); w.Code != 200 || w.Header().Get("Content-Length") != "5" {
		t.Fatalf("HEAD a mounted blob: %d %v", w.Code, w.Header())
	}
	if b, err := s.Get(Ref{"acct", "registry", "sha256/ab"}); err != nil || string(b.Data) != "layer" {
		t.Fatalf("Get a mounted blob: %v %v", b, err)
	}
	// Every content the source handed out was closed (an on-disk blob is an open file).
	if src.opened.Load() == 0 || src.opened.Load() != src.done.Load() {
		t.Fatalf("opened %d contents, closed %d", src.opened.Load(), src.done.Load())
	}
}

// The store counts what it holds; a write past the bound changes nothing, and room comes back
// when blobs go.
func TestBound(t *testing.T) {
	s := fixture(t, WithMaxBytes(27+60)) // the fixture holds 27 bytes
	ref := Ref{"acct", "cnt1", "big"}
	if err := s.PutBlockBlob(ref, make([]byte, 40), Props{}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBlockBlob(Ref{"acct", "cnt1", "more"}, make([]byte, 21), Props{}); !strings.Contains(fmt.Sprint(err), "ServerBusy") {
		t.Fatalf("over the bound: %v", err)
	}
	if _, err := s.Get(Ref{"acct", "cnt1", "more"}); !IsNotFound(err) {
		t.Fatalf("a refused write left a blob: %v", err)
	}
	if err := s.PutBlockBlob(ref, make([]byte, 45), Props{}); err != nil { // replacing counts the difference
		t.Fatalf("replace: %v", err)
	}
	if err := s.Delete(ref); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBlockBlob(Ref{"acct", "cnt1", "more"}, make([]byte, 21), Props{}); err != nil {
		t.Fatalf("after a delete: %v", err)
	}
	// Staged blocks count too, and go with the blob.
	stageBlockHTTP(t, s, "staged", "QQ==", strings.Repeat("x", 20))
	if err := s.PutBlockBlob(Ref{"acct", "cnt1", "third"}, make([]byte, 20), Props{}); !strings.Contains(fmt.Sprint(err), "ServerBusy") {
		t.Fatalf("staged blocks are not counted: %v", err)
	}
	if err := s.PutBlockBlob(Ref{"acct", "cnt1", "staged"}, nil, Props{}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutBlockBlob(Ref{"acct", "cnt1", "third"}, make([]byte, 20), Props{}); err != nil {
		t.Fatalf("staged blocks outlived their blob: %v", err)
	}
}

// A block list may keep committed blocks of the blob it replaces.
func TestCommittedBlocks(t *testing.T) {
	s := fixture(t)
	ref := Ref{"acct", "cnt1", "b"}
	stageBlockHTTP(t, s, "b", "QQ==", "one ")
	stageBlockHTTP(t, s, "b", "Qg==", "two")
	if err := s.commitBlocks(ref, []listEntry{{"Uncommitted", "QQ=="}, {"Uncommitted", "Qg=="}}, Props{}); err != nil {
		t.Fatal(err)
	}
	stageBlockHTTP(t, s, "b", "Qw==", "three")
	if err := s.commitBlocks(ref, []listEntry{{"Committed", "Qg=="}, {"Latest", "Qw=="}, {"Committed", "QQ=="}}, Props{}); err != nil {
		t.Fatal(err)
	}
	wantData(t, s, "b", "twothreeone ")
	// The staged blocks went with the commit.
	if err := s.commitBlocks(ref, []listEntry{{"Uncommitted", "Qw=="}}, Props{}); err == nil || err.Code != "InvalidBlockList" {
		t.Fatalf("a committed block used as uncommitted: %v", err)
	}
}

func TestServes(t *testing.T) {
	s := fixture(t)
	for _, tc := range []struct {
		host, path string
		want       bool
	}{
		{"localhost:8443", "/acct/cnt1/hello.txt", true},
		{"localhost:8443", "/acct.blob.core.windows.net/cnt1/hello.txt", true},
		{"acct.blob.core.windows.net", "/cnt1/hello.txt", true},
		{"other.blob.core.windows.net:443", "/c/b", true}, // an unknown account still gets Storage's answer
		{"localhost:8443", "/other/cnt1/b", false},
		{"localhost:8443", "/v2/acct/blobs/sha256:ab", false},
		{"localhost:8443", "/acr/v1/_catalog", false},
		{"localhost:8443", "/oauth2/token", false},
		{"localhost:8443", "/subscriptions/s/resourceGroups/rg", false},
		{"localhost:8443", "/11111111-1111-1111-1111-111111111111/oauth2/v2.0/token", false},
		{"myregistry.azurecr.io", "/v2/", false},
	} {
		r := httptest.NewRequest("GET", "https://"+tc.host+tc.path, nil)
		if got := s.Serves(r); got != tc.want {
			t.Errorf("Serves(%s%s) = %v", tc.host, tc.path, got)
		}
	}
}

func TestNames(t *testing.T) {
	s := New()
	for _, bad := range []string{"ab", "Upper", "has-dash", strings.Repeat("a", 25)} {
		if s.AddAccount(bad) == nil {
			t.Errorf("account %q accepted", bad)
		}
	}
	if err := s.AddAccount("acct"); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"ab", "-lead", "double--hyphen", "Upper", strings.Repeat("a", 64)} {
		if s.EnsureContainer("acct", bad) == nil {
			t.Errorf("container %q accepted", bad)
		}
	}
	if s.EnsureContainer("nosuch", "cnt1") == nil {
		t.Error("a container in no account")
	}
}

// Readers of a growing log see a consistent prefix while it is appended to.
func TestConcurrentAppends(t *testing.T) {
	s := fixture(t)
	ref := Ref{"acct", "cnt1", "logs/ca1/rawtext.log"}
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				if err := s.AppendBlock(ref, []byte("line\r\n")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for j := 0; j < 100; j++ {
				b, err := s.Get(ref)
				rest, ok := strings.CutPrefix(string(b.Data), "step 1\r\nstep 2\r\n")
				if err != nil || !ok || strings.ReplaceAll(rest, "line\r\n", "") != "" {
					t.Errorf("read %v %v", b, err)
					return
				}
				_ = append(b.Data, "clobber"...) // a careless caller cannot change the store
			}
		}()
	}
	wg.Wait()
	b, _ := s.Get(ref)
	if want := "step 1\r\nstep 2\r\n" + strings.Repeat("line\r\n", 400); string(b.Data) != want || b.Blocks != 402 {
		t.Fatalf("after concurrent appends: %d bytes, %d blocks", len(b.Data), b.Blocks)
	}
}

// Account keys derive from the store's secret: a link signed before a restart (a new store
// with the data directory's secret) still verifies, and one from another secret does not.
func TestKeysFollowTheSecret(t *testing.T) {
	secret := []byte("the data directory's storage-account-key")
	signer := fixture(t, WithSecret(secret))
	u := link(t, signer, "hello.txt", "r")
	for _, tc := range []struct {
		secret []byte
		want   int
	}{{secret, 200}, {[]byte("another secret"), 403}} {
		s := fixture(t, WithSecret(tc.secret))
		w := httptest.NewRecorder()
		s.ServeHTTP(w, httptest.NewRequest("GET", u, nil))
		if w.Code != tc.want {
			t.Errorf("secret %q: %d, want %d", tc.secret, w.Code, tc.want)
		}
	}
}
