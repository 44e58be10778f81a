package registry_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/registry/schema1"
	"github.com/opencontainers/go-digest"
)

// Wire tests of manifest content negotiation (negotiate.go) and of schema 1 pushes.

const (
	mtDockerV2   = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerCfg  = "application/vnd.docker.container.image.v1+json"
	mtSchema1    = "application/vnd.docker.distribution.manifest.v1+prettyjws"
)

var (
	s1Config = []byte(`{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"]},"created":"2024-01-02T03:04:05Z",` +
		`"history":[{"created":"2024-01-01T00:00:00Z","created_by":"ADD rootfs"},{"created_by":"CMD [\"/bin/sh\"]","empty_layer":true},{"created_by":"RUN make"}],` +
		`"rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111","sha256:2222222222222222222222222222222222222222222222222222222222222222"]}}`)
	s1ArmConfig = []byte(`{"architecture":"arm64","os":"linux","history":[{"created_by":"ADD rootfs"}],"rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]}}`)
	s1NoHistory = []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]}}`)
	s1Layer1    = []byte("base layer")
	s1Layer2    = []byte("make layer")
	s1Docker    = dockerManifest(s1Config, s1Layer1, s1Layer2)
	s1DockerArm = dockerManifest(s1ArmConfig, s1Layer1)
	s1Bare      = dockerManifest(s1NoHistory, s1Layer1)
	s1OCI       = imageManifest(digest.FromBytes(s1Config), len(s1Config), s1Layer1, s1Layer2)
	s1OCIIndex  = indexOf(mtOCIIndex, mtOCIManifest, s1OCI, "amd64")
	s1List      = indexOf(mtDockerList, mtDockerV2, s1Docker, "amd64", s1DockerArm, "arm64")
	s1ArmList   = indexOf(mtDockerList, mtDockerV2, s1DockerArm, "arm64")
)

func dockerManifest(config []byte, layers ...[]byte) []byte {
	var ls []string
	for _, l := range layers {
		ls = append(ls, fmt.Sprintf(`{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":%d,"digest":%q}`, len(l), digest.FromBytes(l)))
	}
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"size":%d,"digest":%q},"layers":[%s]}`,
		mtDockerV2, mtDockerCfg, len(config), digest.FromBytes(config), strings.Join(ls, ",")))
}

// indexOf builds a list of (manifest, architecture) pairs.
func indexOf(mediaType, childType string, pairs ...any) []byte {
	var ms []string
	for i := 0; i < len(pairs); i += 2 {
		m := pairs[i].([]byte)
		ms = append(ms, fmt.Sprintf(`{"mediaType":%q,"size":%d,"digest":%q,"platform":{"architecture":%q,"os":"linux"}}`,
			childType, len(m), digest.FromBytes(m), pairs[i+1]))
	}
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[%s]}`, mediaType, strings.Join(ms, ",")))
}

// s1Seed pushes into repository "legacy": docker:v1 (schema 2 with an empty history entry),
// oci:v1, ociindex:v1, list:v1 (amd64 + arm64), armlist:v1 (arm64 only), bare:v1 (no history).
func s1Seed(t *testing.T) *httptest.Server {
	t.Helper()
	srv, _ := newServer(t)
	for _, b := range [][]byte{s1Config, s1ArmConfig, s1NoHistory, s1Layer1, s1Layer2} {
		push(t, srv, "legacy", b)
	}
	for _, m := range []struct {
		tag, mediaType string
		body           []byte
	}{
		{"docker", mtDockerV2, s1Docker}, {"arm", mtDockerV2, s1DockerArm}, {"bare", mtDockerV2, s1Bare},
		{"oci", mtOCIManifest, s1OCI}, {"ociindex", mtOCIIndex, s1OCIIndex},
		{"list", mtDockerList, s1List}, {"armlist", mtDockerList, s1ArmList},
	} {
		acrPutManifest(t, srv, "legacy", m.tag, m.mediaType, m.body)
	}
	return srv
}

// wantSchema1 checks a rewritten manifest: signed, verifiable, with the canonical payload of
// this repository, tag, config and layers, and the digest of that payload in the headers.
func wantSchema1(tag string, config []byte, layers ...[]byte) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		img := schema1.Image{Name: "legacy", Tag: tag, Config: config}
		for _, l := range layers {
			img.Layers = append(img.Layers, digest.FromBytes(l))
		}
		want, _, err := schema1.Convert(img)
		if err != nil {
			t.Fatal(err)
		}
		wantDigest := digest.FromBytes(want).String()
		if r.header.Get("Content-Type") != mtSchema1 || r.header.Get("Docker-Content-Digest") != wantDigest || r.header.Get("ETag") != `"`+wantDigest+`"` {
			t.Fatalf("headers %v, want schema 1 with digest %s", r.header, wantDigest)
		}
		if r.body == nil { // HEAD
			return
		}
		s, err := schema1.Parse(r.body)
		if err != nil {
			t.Fatalf("the served body does not verify: %v\n%s", err, r.body)
		}
		if !bytes.Equal(s.Canonical, want) {
			t.Fatalf("canonical payload:\n%s\nwant\n%s", s.Canonical, want)
		}
		if r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
			t.Fatalf("Content-Length %s for %d bytes", r.header.Get("Content-Length"), len(r.body))
		}
	}
}

func wantStored(body []byte, mediaType string) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		d := digest.FromBytes(body).String()
		if r.header.Get("Content-Type") != mediaType || r.header.Get("Docker-Content-Digest") != d {
			t.Fatalf("Content-Type %q digest %q, want %q %q", r.header.Get("Content-Type"), r.header.Get("Docker-Content-Digest"), mediaType, d)
		}
		if r.body != nil && !bytes.Equal(r.body, body) {
			t.Fatalf("body %s, want %s", r.body, body)
		}
	}
}

func TestManifestNegotiation(t *testing.T) {
	srv := s1Seed(t)
	byDigest := func(b []byte) string { return digest.FromBytes(b).String() }
	notAcceptedOCI := `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"OCI manifest found, but accept header does not support OCI manifests"}]}` + "\n"
	tests := []struct {
		desc   string
		head   bool
		ref    string
		accept []string // one Accept header per element
		status int
		body   string // exact, for errors
		check  func(*testing.T, resp)
	}{
		{desc: "schema 2 by tag without Accept: signed schema 1 (what ACR's 2018 API example shows)",
			ref: "docker", status: 200, check: wantSchema1("docker", s1Config, s1Layer1, s1Layer2)},
		{desc: "schema 2 by tag, Accept application/json only (the Go SDK's GetManifest default)",
			ref: "docker", accept: []string{"application/json"}, status: 200, check: wantSchema1("docker", s1Config, s1Layer1, s1Layer2)},
		{desc: "schema 2 by tag, Accept schema 1 only",
			ref: "docker", accept: []string{mtSchema1 + ", application/vnd.docker.distribution.manifest.v1+json"}, status: 200,
			check: wantSchema1("docker", s1Config, s1Layer1, s1Layer2)},
		{desc: "schema 2 by tag, Accept OCI only (the Python SDK's download_manifest)",
			ref: "docker", accept: []string{mtOCIManifest}, status: 200, check: wantSchema1("docker", s1Config, s1Layer1, s1Layer2)},
		{desc: "HEAD answers as GET does",
			head: true, ref: "docker", status: 200, check: wantSchema1("docker", s1Config, s1Layer1, s1Layer2)},
		{desc: "schema 2 by tag, Accept schema 2 with q parameters",
			ref: "docker", accept: []string{mtSchema1 + ";q=0.9, " + mtDockerV2 + "; q=0.5"}, status: 200, check: wantStored(s1Docker, mtDockerV2)},
		{desc: "schema 2 by tag, schema 2 in a second Accept header (as azcontainerregistry sends it)",
			ref: "docker", accept: []string{"application/json", mtDockerV2}, status: 200, check: wantStored(s1Docker, mtDockerV2)},
		{desc: "schema 2 by digest without Accept: as stored (nothing else has that digest)",
			ref: byDigest(s1Docker), status: 200, check: wantStored(s1Docker, mtDockerV2)},
		{desc: "schema 2 without history cannot be rewritten",
			ref: "bare", status: 400,
			body: `{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid","detail":"empty history when trying to create schema1 manifest"}]}` + "\n"},
		{desc: "OCI manifest by tag, Accept schema 2 only",
			ref: "oci", accept: []string{mtDockerV2 + ", " + mtDockerList}, status: 404, body: notAcceptedOCI},
		{desc: "OCI manifest by digest without Accept",
			ref: byDigest(s1OCI), status: 404, body: notAcceptedOCI},
		{desc: "OCI manifest HEAD without Accept",
			head: true, ref: "oci", status: 404},
		{desc: "OCI manifest with OCI accepted",
			ref: "oci", accept: []string{mtOCIManifest}, status: 200, check: wantStored(s1OCI, mtOCIManifest)},
		{desc: "OCI index, Accept OCI manifest only",
			ref: "ociindex", accept: []string{mtOCIManifest}, status: 404,
			body: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"OCI index found, but accept header does not support OCI indexes"}]}` + "\n"},
		{desc: "OCI index accepted",
			ref: "ociindex", accept: []string{mtOCIIndex}, status: 200, check: wantStored(s1OCIIndex, mtOCIIndex)},
		{desc: "manifest list by tag, Accept schema 2 only: its linux/amd64 image",
			ref: "list", accept: []string{mtDockerV2}, status: 200, check: wantStored(s1Docker, mtDockerV2)},
		{desc: "manifest list by tag without Accept: its linux/amd64 image as schema 1, under the list's tag",
			ref: "list", status: 200, check: wantSchema1("list", s1Config, s1Layer1, s1Layer2)},
		{desc: "manifest list by digest without Accept: as stored",
			ref: byDigest(s1List), status: 200, check: wantStored(s1List, mtDockerList)},
		{desc: "manifest list accepted",
			ref: "list", accept: []string{mtDockerList + "," + mtDockerV2}, status: 200, check: wantStored(s1List, mtDockerList)},
		{desc: "manifest list without a linux/amd64 image",
			ref: "armlist", accept: []string{mtDockerV2}, status: 404, body: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			method := "GET"
			if tc.head {
				method = "HEAD"
			}
			req, _ := http.NewRequest(method, srv.URL+"/v2/legacy/manifests/"+tc.ref, nil)
			for _, v := range tc.accept {
				req.Header.Add("Accept", v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			r := resp{status: res.StatusCode, header: res.Header}
			if !tc.head {
				r.body, _ = io.ReadAll(res.Body)
			}
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if tc.body != "" && string(r.body) != tc.body {
				t.Fatalf("body = %s\nwant   %s", r.body, tc.body)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// TestSchema1RewriteServesTheEmptyLayer: a rewritten manifest names the well-known empty layer
// for history entries without a layer; the repository then serves it.
func TestSchema1RewriteServesTheEmptyLayer(t *testing.T) {
	srv := s1Seed(t)
	blob := call{method: "GET", path: "/v2/legacy/blobs/" + schema1.EmptyLayerDigest.String()}
	if r := do(t, srv, blob); r.status != 404 {
		t.Fatalf("empty layer before any rewrite: %d", r.status)
	}
	if r := do(t, srv, call{method: "GET", path: "/v2/legacy/manifests/docker"}); r.status != 200 ||
		!bytes.Contains(r.body, []byte(schema1.EmptyLayerDigest)) {
		t.Fatalf("rewrite: %d %s", r.status, r.body)
	}
	if r := do(t, srv, blob); r.status != 200 || !bytes.Equal(r.body, schema1.EmptyLayer()) {
		t.Fatalf("empty layer after the rewrite: %d", r.status)
	}
}

// signedSchema1 is a schema 1 manifest of repository legacy over s1Layer1, signed by an
// ephemeral key as docker and containers/image sign what they push.
func signedSchema1(t *testing.T, tag string) (body, canonical []byte) {
	t.Helper()
	canonical = []byte(fmt.Sprintf("{\n   \"schemaVersion\": 1,\n   \"name\": \"legacy\",\n   \"tag\": %q,\n   \"architecture\": \"amd64\",\n"+
		"   \"fsLayers\": [\n      {\n         \"blobSum\": %q\n      }\n   ],\n"+
		"   \"history\": [\n      {\n         \"v1Compatibility\": \"{\\\"id\\\":\\\"abc\\\",\\\"created\\\":\\\"2024-01-01T00:00:00Z\\\"}\"\n      }\n   ]\n}",
		tag, digest.FromBytes(s1Layer1)))
	key, err := schema1.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	body, err = key.Sign(canonical, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return body, canonical
}

func TestSchema1Push(t *testing.T) {
	body, canonical := signedSchema1(t, "old")
	d := digest.FromBytes(canonical)
	put := func(ref, ct string, b []byte) call {
		return call{method: "PUT", path: "/v2/legacy/manifests/" + ref, header: map[string]string{"Content-Type": ct}, body: b}
	}
	tests := []struct {
		desc   string
		call   call
		status int
		body   string // exact error body
		code   string
	}{
		{desc: "signed, by tag", call: put("old", mtSchema1, body), status: 201},
		{desc: "signed, as v1+json", call: put("old", "application/vnd.docker.distribution.manifest.v1+json", body), status: 201},
		{desc: "signed, no Content-Type: read as schema 1", call: put("old", "", body), status: 201},
		{desc: "by the digest of the canonical payload", call: put(d.String(), mtSchema1, body), status: 201},
		{desc: "by the digest of the whole body", call: put(digest.FromBytes(body).String(), mtSchema1, body), status: 400, code: "DIGEST_INVALID"},
		{desc: "unsigned", call: put("old", "application/vnd.docker.distribution.manifest.v1+json", canonical), status: 400,
			body: `{"errors":[{"code":"MANIFEST_INVALID","message":"manifest invalid: missing signature key"}]}` + "\n"},
		{desc: "payload changed after signing", call: put("old", mtSchema1, bytes.Replace(body, []byte(`"amd64"`), []byte(`"arm64"`), 1)), status: 400,
			body: `{"errors":[{"code":"MANIFEST_UNVERIFIED","message":"manifest failed signature verification"}]}` + "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			srv := s1Seed(t)
			r := do(t, srv, tc.call)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if tc.body != "" && string(r.body) != tc.body {
				t.Fatalf("body = %s\nwant   %s", r.body, tc.body)
			}
			if tc.code != "" && errCode(t, r.body) != tc.code {
				t.Fatalf("code %s, want %s", errCode(t, r.body), tc.code)
			}
			if tc.status != 201 {
				return
			}
			if r.header.Get("Docker-Content-Digest") != d.String() || r.header.Get("Location") != "/v2/legacy/manifests/"+d.String() {
				t.Fatalf("digest %q location %q, want the canonical payload's %s", r.header.Get("Docker-Content-Digest"), r.header.Get("Location"), d)
			}
			// Served whatever Accept says, signed afresh over the same payload.
			refs := []string{"/v2/legacy/manifests/" + d.String()}
			if !strings.Contains(tc.call.path, ":") {
				refs = append(refs, tc.call.path)
			}
			for _, ref := range refs {
				g := do(t, srv, call{method: "GET", path: ref, header: map[string]string{"Accept": mtOCIManifest + ", " + mtDockerV2}})
				s, err := schema1.Parse(g.body)
				if g.status != 200 || err != nil || !bytes.Equal(s.Canonical, canonical) ||
					g.header.Get("Content-Type") != mtSchema1 || g.header.Get("Docker-Content-Digest") != d.String() {
					t.Fatalf("GET %s: %d %v %v\n%s", ref, g.status, g.header, err, g.body)
				}
			}
		})
	}
}

func TestSchema1PushNeedsItsLayers(t *testing.T) {
	srv, _ := newServer(t)
	body, _ := signedSchema1(t, "old")
	r := do(t, srv, call{method: "PUT", path: "/v2/legacy/manifests/old", header: map[string]string{"Content-Type": mtSchema1}, body: body})
	if r.status != 400 || errCode(t, r.body) != "MANIFEST_BLOB_UNKNOWN" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if r := do(t, srv, call{method: "GET", path: "/v2/legacy/tags/list"}); r.status != 404 && !bytes.Contains(r.body, []byte(`"tags":[]`)) {
		t.Fatalf("a refused push left a tag: %d %s", r.status, r.body)
	}
}

// A config too large to carry in a schema 1 manifest (the manifest bound, or more than the
// blob store hands out whole) makes the rewrite a clear MANIFEST_INVALID, not a missing blob.
func TestSchema1RewriteOfAHugeConfig(t *testing.T) {
	srv, _ := newServer(t)
	config := make([]byte, 17<<20)
	copy(config, s1Config)
	for i := len(s1Config); i < len(config); i++ {
		config[i] = ' '
	}
	push(t, srv, "huge", config)
	push(t, srv, "huge", s1Layer1)
	acrPutManifest(t, srv, "huge", "v1", mtDockerV2, dockerManifest(config, s1Layer1))
	r := do(t, srv, call{method: "GET", path: "/v2/huge/manifests/v1", header: map[string]string{"Accept": mtSchema1}})
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "MANIFEST_INVALID") || !strings.Contains(string(r.body), "too large to rewrite") {
		t.Fatalf("schema 1 of a 17 MiB config: %d %s", r.status, r.body)
	}
}
