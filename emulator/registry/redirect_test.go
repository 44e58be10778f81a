package registry_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
)

// withDownloads serves reg, and its blobs' downloads at /dl/<repo>/<digest> (the redirect's
// target in these tests), as a data endpoint does.
func withDownloads(reg *registry.Registry) http.Handler {
	content := reg.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/dl/"); ok {
			repo, d, _ := strings.Cut(rest, "/")
			reg.Download(w, r, repo, digest.Digest(d))
			return
		}
		content.ServeHTTP(w, r)
	})
}

// noFollow answers redirects instead of following them.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func TestBlobRedirect(t *testing.T) {
	var asked []string
	// The link: the registry serves the bytes on /dl/<repo>/<digest>, as a data endpoint does
	// (Download).
	var reg *registry.Registry
	redirect := func(r *http.Request, repo string, d digest.Digest) (string, error) {
		asked = append(asked, r.Method+" "+repo+" "+d.String())
		if repo == "broken" {
			return "", errors.New("no link today")
		}
		return "https://" + r.Host + "/dl/" + repo + "/" + d.String() + "?sig=x&a=1", nil
	}
	st := store.New()
	reg = registry.New(st, regName, registry.WithBlobRedirect(redirect))
	srv := httptest.NewTLSServer(withDownloads(reg))
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.CheckRedirect = noFollow.CheckRedirect
	get := func(method, path string, header ...string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	data := []byte("layer bytes to download")
	d := digest.FromBytes(data)
	for _, repo := range []string{"app", "broken"} {
		req, _ := http.NewRequest("POST", srv.URL+"/v2/"+repo+"/blobs/uploads/?digest="+d.String(), bytes.NewReader(data))
		if res, err := client.Do(req); err != nil || res.StatusCode != http.StatusCreated {
			t.Fatalf("push to %s: %v %v", repo, err, res)
		}
	}
	asked = nil

	// GET: 307 with ACR's headers and http.Redirect's body (the Azure SDK for JS recording).
	res := get("GET", "/v2/app/blobs/"+d.String())
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(loc, srv.URL+"/dl/app/"+d.String()+"?sig=x&a=1") ||
		res.Header.Get("Docker-Content-Digest") != d.String() || res.Header.Get("Content-Type") != "text/html; charset=utf-8" ||
		res.Header.Get("Docker-Distribution-Api-Version") != "registry/2.0" || res.Header.Get("X-Ms-Correlation-Request-Id") == "" ||
		!strings.HasPrefix(string(body), `<a href="`) || !strings.HasSuffix(string(body), "\">Temporary Redirect</a>.\n\n") {
		t.Fatalf("GET: %d %v %q", res.StatusCode, res.Header, body)
	}
	// The link serves the bytes, ranges included.
	res = get("GET", strings.TrimPrefix(loc, srv.URL), "Range", "bytes=6-10")
	part, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusPartialContent || string(part) != "bytes" || res.Header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("download with a range: %d %q %v", res.StatusCode, part, res.Header)
	}
	// HEAD is answered here, 200, never redirected.
	res = get("HEAD", "/v2/app/blobs/"+d.String())
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Length") != "23" {
		t.Fatalf("HEAD: %d %v", res.StatusCode, res.Header)
	}
	// A missing blob is 404 from the registry, before any redirect; so is a locked repository's.
	res = get("GET", "/v2/app/blobs/"+digest.FromString("nope").String())
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound || errCode(t, b) != "BLOB_UNKNOWN" {
		t.Fatalf("missing blob: %d %s", res.StatusCode, b)
	}
	// A hook that fails is a 500, written once in the registry's envelope.
	res = get("GET", "/v2/broken/blobs/"+d.String())
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusInternalServerError || errCode(t, b) != "UNKNOWN" {
		t.Fatalf("failing hook: %d %s", res.StatusCode, b)
	}
	if strings.Join(asked, "|") != "GET app "+d.String()+"|GET broken "+d.String() {
		t.Fatalf("the hook was asked %q (HEAD, misses and downloads must not ask)", asked)
	}
	// The download link obeys the repository's lock as the GET does.
	off := false
	if _, err := st.UpdateRepositoryAttributes(regName, "app", store.AttributesPatch{ReadEnabled: &off}); err != nil {
		t.Fatal(err)
	}
	res = get("GET", strings.TrimPrefix(loc, srv.URL))
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("download from a locked repository: %d", res.StatusCode)
	}
}

// TestBlobRedirectRealClient: go-containerregistry follows the 307 and verifies the layers.
func TestBlobRedirectRealClient(t *testing.T) {
	reg := registry.New(store.New(), regName, registry.WithBlobRedirect(func(r *http.Request, repo string, d digest.Digest) (string, error) {
		return "http://" + r.Host + "/dl/" + repo + "/" + d.String(), nil
	}))
	srv := httptest.NewServer(withDownloads(reg))
	t.Cleanup(srv.Close)
	img, err := random.Image(4096, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://") + "/app:v1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := got.Layers()
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatal(err)
		}
		if err := rc.Close(); err != nil { // verifies the digest
			t.Fatal(err)
		}
	}
}
