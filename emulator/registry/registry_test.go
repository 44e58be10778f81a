package registry_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/opencontainers/go-digest"
)

const regName = "myregistry"

// acceptOCI is the Accept header of a client that reads OCI manifests and indexes.
var acceptOCI = map[string]string{"Accept": "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"}

func newServer(t *testing.T, opts ...registry.Option) (*httptest.Server, *store.Store) {
	t.Helper()
	st := store.New()
	srv := httptest.NewServer(registry.New(st, regName, opts...).Handler())
	t.Cleanup(srv.Close)
	return srv, st
}

type call struct {
	method, path string
	header       map[string]string
	body         []byte
}

type resp struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, srv *httptest.Server, c call) resp {
	t.Helper()
	req, err := http.NewRequest(c.method, srv.URL+c.path, bytes.NewReader(c.body))
	if err != nil {
		t.Fatal(err)
	}
	if c.body == nil {
		req.Body = http.NoBody
		req.ContentLength = 0
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func errCode(t *testing.T, body []byte) string {
	t.Helper()
	var env struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	if err := json.Unmarshal(body, &env); err != nil || len(env.Errors) != 1 {
		t.Fatalf("not an error envelope: %q", body)
	}
	return env.Errors[0].Code
}

// push uploads a blob monolithically and returns its digest.
func push(t *testing.T, srv *httptest.Server, repo string, data []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(data)
	r := do(t, srv, call{method: "POST", path: "/v2/" + repo + "/blobs/uploads/?digest=" + d.String(), body: data})
	if r.status != http.StatusCreated {
		t.Fatalf("push blob: %d %s", r.status, r.body)
	}
	return d
}

func imageManifest(config digest.Digest, configSize int, layers ...[]byte) []byte {
	var ls []string
	for _, l := range layers {
		ls = append(ls, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}`, digest.FromBytes(l), len(l)))
	}
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[%s]}`,
		config, configSize, strings.Join(ls, ",")))
}

func TestCalls(t *testing.T) {
	config := []byte(`{"architecture":"amd64","os":"linux"}`)
	layer := []byte("layer-bytes")
	man := imageManifest(digest.FromBytes(config), len(config), layer)
	manDigest := digest.FromBytes(man)
	missingLayer := imageManifest(digest.FromBytes(config), len(config), []byte("never pushed"))
	ociCT := map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}

	seed := func(t *testing.T, srv *httptest.Server) {
		push(t, srv, "app", config)
		push(t, srv, "app", layer)
		r := do(t, srv, call{method: "PUT", path: "/v2/app/manifests/v1", header: ociCT, body: man})
		if r.status != http.StatusCreated {
			t.Fatalf("seed manifest: %d %s", r.status, r.body)
		}
	}

	tests := []struct {
		desc     string
		call     call
		status   int
		code     string            // error code expected in the body
		header   map[string]string // headers expected
		wantBody string            // exact body expected, when set
		noHeader []string          // headers that must be absent
	}{
		{desc: "ping", call: call{method: "GET", path: "/v2/"}, status: 200, wantBody: "{}",
			header: map[string]string{"Docker-Distribution-Api-Version": "registry/2.0", "Server": "openresty"}},
		{desc: "manifest by tag", call: call{method: "GET", path: "/v2/app/manifests/v1", header: acceptOCI}, status: 200, wantBody: string(man),
			header: map[string]string{"Docker-Content-Digest": manDigest.String(), "Content-Type": "application/vnd.oci.image.manifest.v1+json"}},
		{desc: "manifest by digest", call: call{method: "HEAD", path: "/v2/app/manifests/" + manDigest.String(), header: acceptOCI}, status: 200,
			header: map[string]string{"Content-Length": fmt.Sprint(len(man))}},
		{desc: "unknown tag", call: call{method: "GET", path: "/v2/app/manifests/nope"}, status: 404, code: "MANIFEST_UNKNOWN",
			wantBody: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest tagged by \"nope\" is not found","detail":{"Tag":"nope"}}]}` + "\n"},
		{desc: "unknown repository", call: call{method: "GET", path: "/v2/nothere/manifests/v1"}, status: 404, code: "NAME_UNKNOWN",
			wantBody: `{"errors":[{"code":"NAME_UNKNOWN","message":"repository \"nothere\" is not found"}]}` + "\n"},
		{desc: "delete by tag is unsupported", call: call{method: "DELETE", path: "/v2/app/manifests/v1"}, status: 405, code: "UNSUPPORTED",
			wantBody: `{"errors":[{"code":"UNSUPPORTED","message":"A manifest can only be deleted by digest."}]}` + "\n"},
		{desc: "path traversal", call: call{method: "GET", path: "/v2/app/..%2F..%2Fetc/manifests/v1"}, status: 400, code: "NAME_INVALID"},
		{desc: "dot segments", call: call{method: "GET", path: "/v2/../app/manifests/v1"}, status: 400, code: "NAME_INVALID"},
		{desc: "uppercase name", call: call{method: "GET", path: "/v2/App/manifests/v1"}, status: 400, code: "NAME_INVALID"},
		{desc: "invalid digest", call: call{method: "GET", path: "/v2/app/blobs/sha256:xyz"}, status: 400, code: "DIGEST_INVALID"},
		{desc: "unknown blob", call: call{method: "GET", path: "/v2/app/blobs/" + digest.FromString("x").String()}, status: 404, code: "BLOB_UNKNOWN"},
		{desc: "blob range", call: call{method: "GET", path: "/v2/app/blobs/" + digest.FromBytes(layer).String(), header: map[string]string{"Range": "bytes=0-4"}},
			status: 206, wantBody: "layer", header: map[string]string{"Content-Range": fmt.Sprintf("bytes 0-4/%d", len(layer))}},
		// ACR answers HEAD with a Range as a plain HEAD; azcontainerregistry's CheckChunkExists
		// accepts only 200.
		{desc: "blob HEAD with range", call: call{method: "HEAD", path: "/v2/app/blobs/" + digest.FromBytes(layer).String(), header: map[string]string{"Range": "bytes=0-4"}},
			status: 200, header: map[string]string{"Content-Length": fmt.Sprint(len(layer))}, noHeader: []string{"Content-Range"}},
		{desc: "manifest referencing a missing blob", call: call{method: "PUT", path: "/v2/app/manifests/bad", header: ociCT, body: missingLayer}, status: 400, code: "MANIFEST_BLOB_UNKNOWN"},
		{desc: "malformed manifest", call: call{method: "PUT", path: "/v2/app/manifests/bad", header: ociCT, body: []byte(`{"schemaVersion":2,`)}, status: 400, code: "MANIFEST_INVALID"},
		{desc: "unknown media type", call: call{method: "PUT", path: "/v2/app/manifests/bad", header: map[string]string{"Content-Type": "application/x-foo"}, body: man}, status: 400, code: "MANIFEST_INVALID"},
		{desc: "media type mismatch", call: call{method: "PUT", path: "/v2/app/manifests/bad", header: map[string]string{"Content-Type": "application/vnd.oci.image.index.v1+json"}, body: man}, status: 400, code: "MANIFEST_INVALID"},
		{desc: "digest mismatch on manifest", call: call{method: "PUT", path: "/v2/app/manifests/" + digest.FromString("other").String(), header: ociCT, body: man}, status: 400, code: "DIGEST_INVALID"},
		{desc: "invalid tag", call: call{method: "PUT", path: "/v2/app/manifests/-bad", header: ociCT, body: man}, status: 400, code: "TAG_INVALID"},
		{desc: "monolithic digest mismatch", call: call{method: "POST", path: "/v2/app/blobs/uploads/?digest=" + digest.FromString("a").String(), body: []byte("b")}, status: 400,
			wantBody: `{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content","detail":"digest parsing failed"}]}` + "\n"},
		{desc: "unknown upload", call: call{method: "PATCH", path: "/v2/app/blobs/uploads/does-not-exist", body: []byte("x")}, status: 404, code: "BLOB_UPLOAD_UNKNOWN"},
		{desc: "tags list", call: call{method: "GET", path: "/v2/app/tags/list"}, status: 200, wantBody: `{"name":"app","tags":["v1"]}`},
		{desc: "catalog", call: call{method: "GET", path: "/v2/_catalog"}, status: 200, wantBody: `{"repositories":["app"]}`},
		{desc: "bad pagination", call: call{method: "GET", path: "/v2/_catalog?n=-1"}, status: 400, code: "PAGINATION_NUMBER_INVALID"},
		{desc: "empty referrers", call: call{method: "GET", path: "/v2/app/referrers/" + manDigest.String()}, status: 200,
			wantBody: `{"manifests":[],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2}`},
		{desc: "wrong method", call: call{method: "POST", path: "/v2/app/manifests/v1"}, status: 405, code: "UNSUPPORTED"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			srv, _ := newServer(t)
			seed(t, srv)
			r := do(t, srv, tc.call)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if tc.code != "" {
				if got := errCode(t, r.body); got != tc.code {
					t.Errorf("code = %s, want %s", got, tc.code)
				}
			}
			if tc.wantBody != "" && string(r.body) != tc.wantBody {
				t.Errorf("body = %s, want %s", r.body, tc.wantBody)
			}
			for _, k := range tc.noHeader {
				if v, ok := r.header[http.CanonicalHeaderKey(k)]; ok {
					t.Errorf("header %s = %q, want none", k, v)
				}
			}
			for k, v := range tc.header {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestBadInputStoresNothing(t *testing.T) {
	srv, st := newServer(t, registry.WithMaxManifestBytes(64), registry.WithMaxUploadBytes(16))
	big := bytes.Repeat([]byte("x"), 17)
	r := do(t, srv, call{method: "POST", path: "/v2/app/blobs/uploads/?digest=" + digest.FromBytes(big).String(), body: big})
	if r.status != http.StatusRequestEntityTooLarge || errCode(t, r.body) != "SIZE_INVALID" {
		t.Fatalf("oversized monolithic upload: %d %s", r.status, r.body)
	}
	r = do(t, srv, call{method: "PUT", path: "/v2/app/manifests/v1", header: map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
		body: bytes.Repeat([]byte(" "), 65)})
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized manifest: %d %s", r.status, r.body)
	}
	// A chunk past the limit is rolled back: the session keeps its earlier bytes.
	r = do(t, srv, call{method: "POST", path: "/v2/app/blobs/uploads/"})
	loc := r.header.Get("Location")
	r = do(t, srv, call{method: "PATCH", path: loc, body: []byte("0123456789")})
	if r.status != http.StatusAccepted || r.header.Get("Range") != "0-9" {
		t.Fatalf("first chunk: %d range %q", r.status, r.header.Get("Range"))
	}
	r = do(t, srv, call{method: "PATCH", path: loc, body: []byte("0123456789")})
	if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunk over limit: %d %s", r.status, r.body)
	}
	r = do(t, srv, call{method: "GET", path: loc})
	if r.status != http.StatusNoContent || r.header.Get("Range") != "0-9" {
		t.Fatalf("after rollback: %d range %q", r.status, r.header.Get("Range"))
	}
	if n, b := st.Blobs().Stats(); n != 0 || b != 0 {
		t.Fatalf("blobstore holds %d blobs (%d bytes) after rejected input", n, b)
	}
}

func TestChunkedUpload(t *testing.T) {
	srv, st := newServer(t)
	data := []byte("hello chunked world")
	d := digest.FromBytes(data)
	r := do(t, srv, call{method: "POST", path: "/v2/team%2Fapp/blobs/uploads/"})
	if r.status != http.StatusAccepted || r.header.Get("Range") != "0-0" {
		t.Fatalf("start: %d range %q", r.status, r.header.Get("Range"))
	}
	loc := r.header.Get("Location")
	if !strings.HasPrefix(loc, "/v2/team/app/blobs/uploads/") {
		t.Fatalf("location %q is not relative to the decoded name", loc)
	}
	r = do(t, srv, call{method: "PATCH", path: loc, header: map[string]string{"Content-Range": "0-4"}, body: data[:5]})
	if r.status != http.StatusAccepted || r.header.Get("Range") != "0-4" {
		t.Fatalf("chunk 1: %d range %q", r.status, r.header.Get("Range"))
	}
	// Out of order: skips ahead.
	r = do(t, srv, call{method: "PATCH", path: loc, header: map[string]string{"Content-Range": "10-14"}, body: data[10:15]})
	if r.status != http.StatusRequestedRangeNotSatisfiable || r.header.Get("Location") == "" {
		t.Fatalf("out of order chunk: %d %s", r.status, r.body)
	}
	r = do(t, srv, call{method: "PATCH", path: loc, header: map[string]string{"Content-Range": "bytes=5-9"}, body: data[5:10]})
	if r.status != http.StatusAccepted || r.header.Get("Range") != "0-9" {
		t.Fatalf("chunk 2 (bytes= form): %d range %q", r.status, r.header.Get("Range"))
	}
	r = do(t, srv, call{method: "PUT", path: loc + "?digest=" + d.String(), body: data[10:]})
	if r.status != http.StatusCreated || r.header.Get("Docker-Content-Digest") != d.String() {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	r = do(t, srv, call{method: "GET", path: "/v2/team/app/blobs/" + d.String()})
	if r.status != 200 || !bytes.Equal(r.body, data) {
		t.Fatalf("read back: %d %q", r.status, r.body)
	}
	if st.Blobs().Refs(d) != 1 {
		t.Fatalf("refs = %d, want 1", st.Blobs().Refs(d))
	}
}

func TestMountAndDeleteRefcounts(t *testing.T) {
	srv, st := newServer(t)
	data := []byte("shared layer")
	d := push(t, srv, "a", data)
	r := do(t, srv, call{method: "POST", path: "/v2/b/blobs/uploads/?mount=" + d.String() + "&from=a"})
	if r.status != http.StatusCreated {
		t.Fatalf("mount: %d %s", r.status, r.body)
	}
	r = do(t, srv, call{method: "POST", path: "/v2/c/blobs/uploads/?mount=" + d.String()})
	if r.status != http.StatusCreated {
		t.Fatalf("anonymous mount: %d %s", r.status, r.body)
	}
	r = do(t, srv, call{method: "POST", path: "/v2/d/blobs/uploads/?mount=" + digest.FromString("absent").String() + "&from=a"})
	if r.status != http.StatusAccepted {
		t.Fatalf("mount of a missing blob must fall back to an upload session: %d", r.status)
	}
	if got := st.Blobs().Refs(d); got != 3 {
		t.Fatalf("refs = %d, want 3 (a, b, c)", got)
	}
	if n, _ := st.Blobs().Stats(); n != 1 {
		t.Fatalf("blob stored %d times", n)
	}
	for _, repo := range []string{"a", "b", "c"} {
		r := do(t, srv, call{method: "DELETE", path: "/v2/" + repo + "/blobs/" + d.String()})
		if r.status != http.StatusAccepted {
			t.Fatalf("delete from %s: %d", repo, r.status)
		}
	}
	if n, b := st.Blobs().Stats(); n != 0 || b != 0 {
		t.Fatalf("blob not freed with its last reference: %d blobs, %d bytes", n, b)
	}
}

func TestTagsPagination(t *testing.T) {
	srv, _ := newServer(t)
	config := []byte(`{}`)
	push(t, srv, "app", config)
	man := imageManifest(digest.FromBytes(config), len(config))
	for _, tag := range []string{"c", "a", "b"} {
		r := do(t, srv, call{method: "PUT", path: "/v2/app/manifests/" + tag, header: map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}, body: man})
		if r.status != 201 {
			t.Fatalf("put %s: %d", tag, r.status)
		}
	}
	r := do(t, srv, call{method: "GET", path: "/v2/app/tags/list?n=2"})
	if string(r.body) != `{"name":"app","tags":["a","b"]}` {
		t.Fatalf("page 1: %s", r.body)
	}
	if got, want := r.header.Get("Link"), `</v2/app/tags/list?last=b&n=2&orderby=>; rel="next"`; got != want {
		t.Fatalf("Link = %q, want %q", got, want)
	}
	r = do(t, srv, call{method: "GET", path: "/v2/app/tags/list?last=b&n=2&orderby="})
	if string(r.body) != `{"name":"app","tags":["c"]}` || r.header.Get("Link") != "" {
		t.Fatalf("page 2: %s link %q", r.body, r.header.Get("Link"))
	}
}

func mustDigest(t *testing.T, s string) digest.Digest {
	t.Helper()
	d, err := digest.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
