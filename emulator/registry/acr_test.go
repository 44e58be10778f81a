package registry_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/opencontainers/go-digest"
)

// Wire tests of ACR's metadata API (/acr/v1), spec acr-dataplane-auth.md section 4.1.

const acrLogin = "myregistry.azurecr.io"

var (
	acrConfig    = []byte(`{"architecture":"amd64","os":"linux"}`)
	acrArmConfig = []byte(`{"architecture":"arm64","os":"linux"}`)
	acrLayer1    = []byte("layer one")
	acrLayer2    = []byte("layer two")
	acrMan1      = imageManifest(digest.FromBytes(acrConfig), len(acrConfig), acrLayer1)
	acrMan2      = imageManifest(digest.FromBytes(acrConfig), len(acrConfig), acrLayer2)
	acrChild     = imageManifest(digest.FromBytes(acrArmConfig), len(acrArmConfig), acrLayer1)
	acrIndex     = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d,"platform":{"architecture":"arm64","os":"linux"}}]}`,
		digest.FromBytes(acrChild), len(acrChild)))

	acrD1     = digest.FromBytes(acrMan1)
	acrD2     = digest.FromBytes(acrMan2)
	acrDChild = digest.FromBytes(acrChild)
	acrDIndex = digest.FromBytes(acrIndex)
)

const (
	mtOCIManifest = "application/vnd.oci.image.manifest.v1+json"
	mtOCIIndex    = "application/vnd.oci.image.index.v1+json"
	mtOCIConfig   = "application/vnd.oci.image.config.v1+json"
	jsonUTF8      = "application/json; charset=utf-8"
)

func acrPutManifest(t *testing.T, srv *httptest.Server, repo, ref, mediaType string, body []byte) {
	t.Helper()
	r := do(t, srv, call{method: "PUT", path: "/v2/" + repo + "/manifests/" + ref, header: map[string]string{"Content-Type": mediaType}, body: body})
	if r.status != http.StatusCreated {
		t.Fatalf("put %s:%s: %d %s", repo, ref, r.status, r.body)
	}
}

// acrSeed fills a registry with:
//
//	team/app:   v1 -> man1; v2, latest -> man2 (pushed in that order, so time orders differ from names)
//	team/multi: multi -> an index of one arm64 child (untagged)
//	other:      x -> man1
func acrSeed(t *testing.T) (*httptest.Server, *store.Store) {
	t.Helper()
	srv, st := newServer(t)
	if err := st.PutRegistry(&store.Registry{Name: regName, LoginServer: acrLogin}); err != nil {
		t.Fatal(err)
	}
	tick := func() { time.Sleep(3 * time.Millisecond) } // distinct timestamps for orderby
	push(t, srv, "team/app", acrConfig)
	push(t, srv, "team/app", acrLayer1)
	push(t, srv, "team/app", acrLayer2)
	acrPutManifest(t, srv, "team/app", "v1", mtOCIManifest, acrMan1)
	tick()
	acrPutManifest(t, srv, "team/app", "v2", mtOCIManifest, acrMan2)
	tick()
	acrPutManifest(t, srv, "team/app", "latest", mtOCIManifest, acrMan2)

	push(t, srv, "team/multi", acrArmConfig)
	push(t, srv, "team/multi", acrLayer1)
	acrPutManifest(t, srv, "team/multi", acrDChild.String(), mtOCIManifest, acrChild)
	acrPutManifest(t, srv, "team/multi", "multi", mtOCIIndex, acrIndex)

	push(t, srv, "other", acrConfig)
	push(t, srv, "other", acrLayer1)
	acrPutManifest(t, srv, "other", "x", mtOCIManifest, acrMan1)
	return srv, st
}

func acrAttrs(del, write, read, list bool) string {
	return fmt.Sprintf(`{"deleteEnabled":%t,"writeEnabled":%t,"readEnabled":%t,"listEnabled":%t}`, del, write, read, list)
}

var acrDefaultAttrs = acrAttrs(true, true, true, true)

func acrTagJSON(name string, d digest.Digest, signed bool, attrs string) string {
	s := ""
	if signed {
		s = `"signed":false,`
	}
	return fmt.Sprintf(`{"name":%q,"digest":%q,"createdTime":"<time>","lastUpdateTime":"<time>",%s"changeableAttributes":%s}`, name, d, s, attrs)
}

func acrImageJSON(d digest.Digest, size int, arch string, tags []string, attrs string) string {
	t := ""
	if len(tags) > 0 {
		b, _ := json.Marshal(tags)
		t = `"tags":` + string(b) + `,`
	}
	return fmt.Sprintf(`{"digest":%q,"imageSize":%d,"createdTime":"<time>","lastUpdateTime":"<time>","architecture":%q,"os":"linux",`+
		`"mediaType":%q,"configMediaType":%q,%s"changeableAttributes":%s}`, d, size, arch, mtOCIManifest, mtOCIConfig, t, attrs)
}

var (
	acrSize1     = len(acrMan1) + len(acrConfig) + len(acrLayer1)
	acrSize2     = len(acrMan2) + len(acrConfig) + len(acrLayer2)
	acrSizeChild = len(acrChild) + len(acrArmConfig) + len(acrLayer1)
)

var timeRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$`)

// matchJSON compares a response body with an expected JSON document field by field: objects
// must have exactly the expected keys, and the string "<time>" stands for an ACR timestamp
// (RFC 3339, UTC, 7 fractional digits).
func matchJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation: %v: %s", err, want)
	}
	for _, diff := range jsonDiff("$", g, w) {
		t.Error(diff)
	}
	if t.Failed() {
		t.Logf("body: %s", got)
	}
}

func jsonDiff(path string, got, want any) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %v, want an object", path, got)}
		}
		var diffs []string
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: missing", path, k))
				continue
			}
			diffs = append(diffs, jsonDiff(path+"."+k, gv, wv)...)
		}
		for k, gv := range g {
			if _, ok := w[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: unexpected field (%v)", path, k, gv))
			}
		}
		sort.Strings(diffs)
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			return []string{fmt.Sprintf("%s: got %v, want %d elements", path, got, len(w))}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, jsonDiff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i])...)
		}
		return diffs
	case string:
		if w == "<time>" {
			if s, ok := got.(string); !ok || !timeRE.MatchString(s) {
				return []string{fmt.Sprintf("%s: got %v, want an ACR timestamp", path, got)}
			}
			return nil
		}
	}
	if !reflect.DeepEqual(got, want) {
		return []string{fmt.Sprintf("%s: got %v, want %v", path, got, want)}
	}
	return nil
}

// acrNames extracts the "name" or "digest" of each element of a list field.
func acrNames(t *testing.T, body []byte, field, key string) []string {
	t.Helper()
	var doc map[string]json.RawMessage
	var list []map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if err := json.Unmarshal(doc[field], &list); err != nil {
		t.Fatalf("%s: %v: %s", field, err, body)
	}
	out := []string{}
	for _, e := range list {
		out = append(out, fmt.Sprint(e[key]))
	}
	return out
}

func wantNames(want ...string) func(*testing.T, resp) {
	return func(t *testing.T, r resp) {
		t.Helper()
		field, key := "tags", "name"
		if strings.Contains(string(r.body), `"manifests"`) {
			field, key = "manifests", "digest"
		}
		if got := acrNames(t, r.body, field, key); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", field, got, want)
		}
	}
}

func sortedDigests(ds ...digest.Digest) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.String())
	}
	sort.Strings(out)
	return out
}

func TestACRCalls(t *testing.T) {
	const api = "?api-version=2021-07-01"
	bothSorted := sortedDigests(acrD1, acrD2)
	man := map[string]string{
		acrD1.String(): acrImageJSON(acrD1, acrSize1, "amd64", []string{"v1"}, acrDefaultAttrs),
		acrD2.String(): acrImageJSON(acrD2, acrSize2, "amd64", []string{"latest", "v2"}, acrDefaultAttrs),
	}
	tagUnknown := `{"errors":[{"code":"TAG_UNKNOWN","message":"the specified tag does not exist"}]}` + "\n"
	nameUnknown := `{"errors":[{"code":"NAME_UNKNOWN","message":"repository \"nothere\" is not found"}]}` + "\n"
	repoJSON := func(attrs string) string {
		return `{"registry":"` + acrLogin + `","imageName":"team/app","createdTime":"<time>","lastUpdateTime":"<time>",` +
			`"manifestCount":2,"tagCount":3,"changeableAttributes":` + attrs + `}`
	}
	jsonCT := map[string]string{"Content-Type": jsonUTF8}

	tests := []struct {
		desc   string
		call   call
		status int
		code   string            // error code expected
		body   string            // exact body expected
		json   string            // expected JSON, compared field by field ("<time>" = any ACR time)
		header map[string]string // headers expected ("" = absent)
		check  func(*testing.T, resp)
	}{
		// Catalog (NewListRepositoriesPager).
		{desc: "catalog", call: call{method: "GET", path: "/acr/v1/_catalog" + api}, status: 200,
			body: `{"repositories":["other","team/app","team/multi"]}`, header: map[string]string{"Content-Type": jsonUTF8, "Link": ""}},
		{desc: "catalog page 1", call: call{method: "GET", path: "/acr/v1/_catalog" + api + "&n=1"}, status: 200,
			body: `{"repositories":["other"]}`, header: map[string]string{"Link": `</acr/v1/_catalog?last=other&n=1&orderby=>; rel="next"`}},
		{desc: "catalog page 2 from the Link URL (no api-version)", call: call{method: "GET", path: "/acr/v1/_catalog?last=other&n=1&orderby="}, status: 200,
			body: `{"repositories":["team/app"]}`, header: map[string]string{"Link": `</acr/v1/_catalog?last=team%2Fapp&n=1&orderby=>; rel="next"`}},
		{desc: "catalog last page", call: call{method: "GET", path: "/acr/v1/_catalog?last=team%2Fapp&n=5"}, status: 200,
			body: `{"repositories":["team/multi"]}`, header: map[string]string{"Link": ""}},
		{desc: "catalog bad n", call: call{method: "GET", path: "/acr/v1/_catalog?n=x"}, status: 400, code: "PAGINATION_NUMBER_INVALID"},
		{desc: "catalog wrong method", call: call{method: "POST", path: "/acr/v1/_catalog"}, status: 405, code: "UNSUPPORTED"},

		// Repository properties.
		{desc: "repository, percent-encoded name", call: call{method: "GET", path: "/acr/v1/team%2Fapp" + api}, status: 200,
			json: repoJSON(acrDefaultAttrs), header: jsonCT},
		{desc: "repository, slashes in name", call: call{method: "GET", path: "/acr/v1/team/app"}, status: 200, json: repoJSON(acrDefaultAttrs)},
		{desc: "repository unknown", call: call{method: "GET", path: "/acr/v1/nothere" + api}, status: 404, body: nameUnknown},
		{desc: "repository invalid name", call: call{method: "GET", path: "/acr/v1/Team"}, status: 400, code: "NAME_INVALID"},
		{desc: "repository traversal", call: call{method: "GET", path: "/acr/v1/team%2F..%2Fapp"}, status: 400, code: "NAME_INVALID"},
		{desc: "repository patch", call: call{method: "PATCH", path: "/acr/v1/team%2Fapp" + api, header: map[string]string{"Content-Type": "application/json"},
			body: []byte(`{"writeEnabled":false,"listEnabled":false}`)}, status: 200, json: repoJSON(acrAttrs(true, false, true, false))},
		{desc: "repository patch, empty object", call: call{method: "PATCH", path: "/acr/v1/team%2Fapp", body: []byte(`{}`)}, status: 200, json: repoJSON(acrDefaultAttrs)},
		{desc: "repository patch, bad JSON", call: call{method: "PATCH", path: "/acr/v1/team%2Fapp", body: []byte(`{"writeEnabled":`)}, status: 400, code: "INVALID_REQUEST"},
		{desc: "repository patch, wrong type", call: call{method: "PATCH", path: "/acr/v1/team%2Fapp", body: []byte(`{"deleteEnabled":"no"}`)}, status: 400, code: "INVALID_REQUEST"},
		{desc: "repository patch, oversized", call: call{method: "PATCH", path: "/acr/v1/team%2Fapp", body: append(append([]byte(`{"x":"`), bytes.Repeat([]byte("a"), 70<<10)...), `"}`...)},
			status: 413, code: "SIZE_INVALID"},
		{desc: "repository patch, unknown", call: call{method: "PATCH", path: "/acr/v1/nothere", body: []byte(`{}`)}, status: 404, body: nameUnknown},
		{desc: "repository delete", call: call{method: "DELETE", path: "/acr/v1/team%2Fapp" + api}, status: 202,
			body: fmt.Sprintf(`{"manifestsDeleted":[%q,%q],"tagsDeleted":["latest","v1","v2"]}`, bothSorted[0], bothSorted[1]), header: jsonCT},
		{desc: "repository delete, unknown", call: call{method: "DELETE", path: "/acr/v1/nothere"}, status: 404, body: nameUnknown},
		{desc: "repository wrong method", call: call{method: "POST", path: "/acr/v1/team%2Fapp"}, status: 405, code: "UNSUPPORTED"},
		{desc: "no name", call: call{method: "GET", path: "/acr/v1/"}, status: 404, body: "404 page not found\n"},

		// Tags.
		{desc: "tags", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_tags" + api}, status: 200, header: jsonCT,
			json: `{"registry":"` + acrLogin + `","imageName":"team/app","tags":[` + acrTagJSON("latest", acrD2, false, acrDefaultAttrs) + `,` +
				acrTagJSON("v1", acrD1, false, acrDefaultAttrs) + `,` + acrTagJSON("v2", acrD2, false, acrDefaultAttrs) + `]}`},
		{desc: "tags, slashes in name", call: call{method: "GET", path: "/acr/v1/team/app/_tags"}, status: 200, check: wantNames("latest", "v1", "v2")},
		{desc: "tags page 1", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_tags" + api + "&n=2"}, status: 200, check: wantNames("latest", "v1"),
			header: map[string]string{"Link": `</acr/v1/team/app/_tags?last=v1&n=2&orderby=>; rel="next"`}},
		{desc: "tags page 2", call: call{method: "GET", path: "/acr/v1/team/app/_tags?last=v1&n=2&orderby="}, status: 200, check: wantNames("v2"),
			header: map[string]string{"Link": ""}},
		{desc: "tags timedesc", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_tags" + api + "&orderby=timedesc"}, status: 200, check: wantNames("latest", "v2", "v1")},
		{desc: "tags timeasc", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_tags" + api + "&orderby=timeasc"}, status: 200, check: wantNames("v1", "v2", "latest")},
		{desc: "tags timedesc page 1", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_tags" + api + "&orderby=timedesc&n=1"}, status: 200, check: wantNames("latest"),
			header: map[string]string{"Link": `</acr/v1/team/app/_tags?last=latest&n=1&orderby=timedesc>; rel="next"`}},
		{desc: "tags timedesc page 2", call: call{method: "GET", path: "/acr/v1/team/app/_tags?last=latest&n=1&orderby=timedesc"}, status: 200, check: wantNames("v2"),
			header: map[string]string{"Link": `</acr/v1/team/app/_tags?last=v2&n=1&orderby=timedesc>; rel="next"`}},
		{desc: "tags by digest", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_tags" + api + "&digest=" + acrD2.String()}, status: 200, check: wantNames("latest", "v2")},
		{desc: "tags by digest, paged", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_tags?digest=" + acrD2.String() + "&n=1"}, status: 200, check: wantNames("latest"),
			header: map[string]string{"Link": `</acr/v1/team/app/_tags?last=latest&n=1&orderby=&digest=` + url.QueryEscape(acrD2.String()) + `>; rel="next"`}},
		{desc: "tags of unknown repository", call: call{method: "GET", path: "/acr/v1/nothere/_tags"}, status: 404, body: nameUnknown},
		{desc: "tags wrong method", call: call{method: "DELETE", path: "/acr/v1/team%2Fapp/_tags"}, status: 405, code: "UNSUPPORTED"},
		{desc: "tag", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_tags/v1" + api}, status: 200, header: jsonCT,
			json: `{"registry":"` + acrLogin + `","imageName":"team/app","tag":` + acrTagJSON("v1", acrD1, true, acrDefaultAttrs) + `}`},
		{desc: "tag unknown", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_tags/nope" + api}, status: 404, body: tagUnknown, header: jsonCT},
		{desc: "tag named _tags", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_tags/_tags"}, status: 404, body: tagUnknown},
		{desc: "tag invalid", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_tags/a%2Fb"}, status: 404, body: tagUnknown},
		{desc: "tag of unknown repository", call: call{method: "GET", path: "/acr/v1/nothere/_tags/v1"}, status: 404, body: nameUnknown},
		{desc: "tag path too long", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_tags/a/b"}, status: 404, body: "404 page not found\n"},
		{desc: "tag patch", call: call{method: "PATCH", path: "/acr/v1/team%2Fapp/_tags/v1" + api, body: []byte(`{"deleteEnabled":false,"readEnabled":false}`)}, status: 200,
			json: `{"registry":"` + acrLogin + `","imageName":"team/app","tag":` + acrTagJSON("v1", acrD1, true, acrAttrs(false, true, false, true)) + `}`},
		{desc: "tag patch, unknown", call: call{method: "PATCH", path: "/acr/v1/team%2Fapp/_tags/nope", body: []byte(`{}`)}, status: 404, body: tagUnknown},
		{desc: "tag patch, bad JSON", call: call{method: "PATCH", path: "/acr/v1/team%2Fapp/_tags/v1", body: []byte(`[true]`)}, status: 400, code: "INVALID_REQUEST"},
		{desc: "tag delete", call: call{method: "DELETE", path: "/acr/v1/team%2Fapp/_tags/v1" + api}, status: 202, body: ""},
		{desc: "tag delete, unknown", call: call{method: "DELETE", path: "/acr/v1/team%2Fapp/_tags/nope"}, status: 404, body: tagUnknown},
		{desc: "tag wrong method", call: call{method: "PUT", path: "/acr/v1/team%2Fapp/_tags/v1"}, status: 405, code: "UNSUPPORTED"},

		// Manifests.
		{desc: "manifests", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_manifests" + api}, status: 200, header: jsonCT,
			json: `{"registry":"` + acrLogin + `","imageName":"team/app","manifests":[` + man[bothSorted[0]] + `,` + man[bothSorted[1]] + `]}`},
		{desc: "manifests of an index repository", call: call{method: "GET", path: "/acr/v1/team/multi/_manifests"}, status: 200,
			check: wantNames(sortedDigests(acrDChild, acrDIndex)...)},
		{desc: "manifests page 1", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_manifests" + api + "&n=1"}, status: 200, check: wantNames(bothSorted[0]),
			header: map[string]string{"Link": `</acr/v1/team/app/_manifests?last=` + url.QueryEscape(bothSorted[0]) + `&n=1&orderby=>; rel="next"`}},
		{desc: "manifests page 2", call: call{method: "GET", path: "/acr/v1/team/app/_manifests?last=" + url.QueryEscape(bothSorted[0]) + "&n=1&orderby="}, status: 200,
			check: wantNames(bothSorted[1]), header: map[string]string{"Link": ""}},
		{desc: "manifests timeasc", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_manifests?orderby=timeasc"}, status: 200, check: wantNames(acrD1.String(), acrD2.String())},
		{desc: "manifests timedesc", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_manifests?orderby=timedesc"}, status: 200, check: wantNames(acrD2.String(), acrD1.String())},
		{desc: "manifests of unknown repository", call: call{method: "GET", path: "/acr/v1/nothere/_manifests"}, status: 404, body: nameUnknown},
		{desc: "manifest", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_manifests/" + acrD2.String() + api}, status: 200, header: jsonCT,
			json: `{"registry":"` + acrLogin + `","imageName":"team/app","manifest":` + man[acrD2.String()] + `}`},
		{desc: "manifest, untagged", call: call{method: "GET", path: "/acr/v1/team%2Fmulti/_manifests/" + acrDChild.String()}, status: 200,
			json: `{"registry":"` + acrLogin + `","imageName":"team/multi","manifest":` + acrImageJSON(acrDChild, acrSizeChild, "arm64", nil, acrDefaultAttrs) + `}`},
		{desc: "manifest, index with references", call: call{method: "GET", path: "/acr/v1/team%2Fmulti/_manifests/" + acrDIndex.String()}, status: 200,
			json: fmt.Sprintf(`{"registry":%q,"imageName":"team/multi","manifest":{"digest":%q,"imageSize":%d,"createdTime":"<time>","lastUpdateTime":"<time>",`+
				`"mediaType":%q,"tags":["multi"],"references":[{"digest":%q,"architecture":"arm64","os":"linux"}],"changeableAttributes":%s}}`,
				acrLogin, acrDIndex, len(acrIndex), mtOCIIndex, acrDChild, acrDefaultAttrs)},
		{desc: "manifest by tag is a route mismatch", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_manifests/v1" + api}, status: 404,
			body: "404 page not found\n", header: map[string]string{"Content-Type": "text/plain; charset=utf-8"}},
		{desc: "manifest by bad digest is a route mismatch", call: call{method: "PATCH", path: "/acr/v1/team%2Fapp/_manifests/sha256:xyz", body: []byte(`{}`)}, status: 404,
			body: "404 page not found\n", header: map[string]string{"Content-Type": "text/plain; charset=utf-8"}},
		{desc: "manifest unknown", call: call{method: "GET", path: "/acr/v1/team%2Fapp/_manifests/" + digest.FromString("x").String()}, status: 404, code: "MANIFEST_UNKNOWN"},
		{desc: "manifest of unknown repository", call: call{method: "GET", path: "/acr/v1/nothere/_manifests/" + acrD1.String()}, status: 404, body: nameUnknown},
		{desc: "manifest patch", call: call{method: "PATCH", path: "/acr/v1/team%2Fapp/_manifests/" + acrD1.String() + api, body: []byte(`{"writeEnabled":false}`)}, status: 200,
			json: `{"registry":"` + acrLogin + `","imageName":"team/app","manifest":` + acrImageJSON(acrD1, acrSize1, "amd64", []string{"v1"}, acrAttrs(true, false, true, true)) + `}`},
		{desc: "manifest patch, unknown", call: call{method: "PATCH", path: "/acr/v1/team%2Fapp/_manifests/" + digest.FromString("x").String(), body: []byte(`{}`)}, status: 404, code: "MANIFEST_UNKNOWN"},
		{desc: "manifest patch, bad JSON", call: call{method: "PATCH", path: "/acr/v1/team%2Fapp/_manifests/" + acrD1.String(), body: []byte(`nope`)}, status: 400, code: "INVALID_REQUEST"},
		{desc: "manifest delete", call: call{method: "DELETE", path: "/acr/v1/team%2Fapp/_manifests/" + acrD1.String() + api}, status: 202, body: ""},
		{desc: "manifest delete, unknown", call: call{method: "DELETE", path: "/acr/v1/team%2Fapp/_manifests/" + digest.FromString("x").String()}, status: 404, code: "MANIFEST_UNKNOWN"},
		{desc: "manifest wrong method", call: call{method: "PUT", path: "/acr/v1/team%2Fapp/_manifests/" + acrD1.String()}, status: 405, code: "UNSUPPORTED"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			srv, _ := acrSeed(t)
			r := do(t, srv, tc.call)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if tc.code != "" {
				if got := errCode(t, r.body); got != tc.code {
					t.Errorf("code = %s, want %s", got, tc.code)
				}
			}
			if (tc.body != "" || tc.status == 202 && tc.json == "") && string(r.body) != tc.body {
				t.Errorf("body = %q, want %q", r.body, tc.body)
			}
			if tc.json != "" {
				matchJSON(t, r.body, tc.json)
			}
			for k, v := range tc.header {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// TestACRLocks checks the effects of changeableAttributes set through PATCH on the rest of the
// API (spec section 4.1; ACR's image-lock documentation).
func TestACRLocks(t *testing.T) {
	repo := func(body string) call { return call{method: "PATCH", path: "/acr/v1/team%2Fapp", body: []byte(body)} }
	tag := func(name, body string) call {
		return call{method: "PATCH", path: "/acr/v1/team%2Fapp/_tags/" + name, body: []byte(body)}
	}
	manifest := func(d digest.Digest, body string) call {
		return call{method: "PATCH", path: "/acr/v1/team%2Fapp/_manifests/" + d.String(), body: []byte(body)}
	}
	ociCT := map[string]string{"Content-Type": mtOCIManifest}
	const disallowed = "The operation is disallowed on this registry, repository or image."

	tests := []struct {
		desc   string
		lock   []call // PATCHes applied first (each must answer 200)
		call   call
		status int
		code   string
		body   string
		check  func(*testing.T, resp)
	}{
		{desc: "tag writeEnabled=false blocks pushing over the tag",
			lock: []call{tag("v1", `{"writeEnabled":false}`)},
			call: call{method: "PUT", path: "/v2/team/app/manifests/v1", header: ociCT, body: acrMan2}, status: 405, code: "UNSUPPORTED"},
		{desc: "tag writeEnabled=false still allows other tags",
			lock: []call{tag("v1", `{"writeEnabled":false}`)},
			call: call{method: "PUT", path: "/v2/team/app/manifests/v3", header: ociCT, body: acrMan2}, status: 201},
		{desc: "tag writeEnabled=false blocks deleting the tag",
			lock: []call{tag("v1", `{"writeEnabled":false}`)},
			call: call{method: "DELETE", path: "/acr/v1/team%2Fapp/_tags/v1"}, status: 405, code: "UNSUPPORTED"},
		{desc: "tag deleteEnabled=false blocks deleting the tag",
			lock: []call{tag("v1", `{"deleteEnabled":false}`)},
			call: call{method: "DELETE", path: "/acr/v1/team%2Fapp/_tags/v1"}, status: 405, code: "UNSUPPORTED"},
		{desc: "tag deleteEnabled=false blocks deleting its manifest",
			lock: []call{tag("v1", `{"deleteEnabled":false}`)},
			call: call{method: "DELETE", path: "/v2/team/app/manifests/" + acrD1.String()}, status: 405, code: "UNSUPPORTED"},
		{desc: "tag deleteEnabled=false blocks deleting the repository",
			lock: []call{tag("v1", `{"deleteEnabled":false}`)},
			call: call{method: "DELETE", path: "/acr/v1/team%2Fapp"}, status: 405, code: "UNSUPPORTED"},
		{desc: "manifest deleteEnabled=false blocks /v2 delete",
			lock: []call{manifest(acrD1, `{"deleteEnabled":false}`)},
			call: call{method: "DELETE", path: "/v2/team/app/manifests/" + acrD1.String()}, status: 405, code: "UNSUPPORTED"},
		{desc: "manifest deleteEnabled=false blocks /acr/v1 delete",
			lock: []call{manifest(acrD1, `{"deleteEnabled":false}`)},
			call: call{method: "DELETE", path: "/acr/v1/team%2Fapp/_manifests/" + acrD1.String()}, status: 405, code: "UNSUPPORTED"},
		{desc: "manifest writeEnabled=false blocks delete",
			lock: []call{manifest(acrD1, `{"writeEnabled":false}`)},
			call: call{method: "DELETE", path: "/acr/v1/team%2Fapp/_manifests/" + acrD1.String()}, status: 405, code: "UNSUPPORTED"},
		{desc: "repository deleteEnabled=false blocks deleting it",
			lock: []call{repo(`{"deleteEnabled":false}`)},
			call: call{method: "DELETE", path: "/acr/v1/team%2Fapp"}, status: 405, code: "UNSUPPORTED"},
		{desc: "repository deleteEnabled=false blocks deleting a tag",
			lock: []call{repo(`{"deleteEnabled":false}`)},
			call: call{method: "DELETE", path: "/acr/v1/team%2Fapp/_tags/v1"}, status: 405, code: "UNSUPPORTED"},
		{desc: "repository deleteEnabled=false blocks deleting a manifest",
			lock: []call{repo(`{"deleteEnabled":false}`)},
			call: call{method: "DELETE", path: "/acr/v1/team%2Fapp/_manifests/" + acrD1.String()}, status: 405, code: "UNSUPPORTED"},
		{desc: "repository writeEnabled=false blocks pushes",
			lock: []call{repo(`{"writeEnabled":false}`)},
			call: call{method: "PUT", path: "/v2/team/app/manifests/v3", header: ociCT, body: acrMan1}, status: 405, code: "UNSUPPORTED"},
		{desc: "repository writeEnabled=false blocks deletes",
			lock: []call{repo(`{"writeEnabled":false}`)},
			call: call{method: "DELETE", path: "/acr/v1/team%2Fapp"}, status: 405, code: "UNSUPPORTED"},
		{desc: "unlocking restores deletes",
			lock: []call{repo(`{"deleteEnabled":false}`), repo(`{"deleteEnabled":true}`)},
			call: call{method: "DELETE", path: "/acr/v1/team%2Fapp/_tags/v1"}, status: 202},
		{desc: "tag readEnabled=false blocks pulling by the tag",
			lock: []call{tag("v1", `{"readEnabled":false}`)},
			call: call{method: "GET", path: "/v2/team/app/manifests/v1"}, status: 405, code: "UNSUPPORTED"},
		{desc: "tag readEnabled=false leaves pulling by digest",
			lock: []call{tag("v1", `{"readEnabled":false}`)},
			call: call{method: "GET", path: "/v2/team/app/manifests/" + acrD1.String(), header: acceptOCI}, status: 200, body: string(acrMan1)},
		{desc: "manifest readEnabled=false blocks pulling by tag",
			lock: []call{manifest(acrD1, `{"readEnabled":false}`)},
			call: call{method: "GET", path: "/v2/team/app/manifests/v1"}, status: 405, code: "UNSUPPORTED"},
		{desc: "repository readEnabled=false blocks pulls",
			lock: []call{repo(`{"readEnabled":false}`)},
			call: call{method: "GET", path: "/v2/team%2Fapp/manifests/v2"}, status: 405, code: "UNSUPPORTED"},
		{desc: "repository readEnabled=false leaves metadata readable",
			lock: []call{repo(`{"readEnabled":false}`)},
			call: call{method: "GET", path: "/acr/v1/team%2Fapp/_tags/v2"}, status: 200},
		{desc: "tag listEnabled=false hides it from /v2 tags/list",
			lock: []call{tag("v1", `{"listEnabled":false}`)},
			call: call{method: "GET", path: "/v2/team/app/tags/list"}, status: 200, body: `{"name":"team/app","tags":["latest","v2"]}`},
		{desc: "tag listEnabled=false hides it from _tags",
			lock: []call{tag("v1", `{"listEnabled":false}`)},
			call: call{method: "GET", path: "/acr/v1/team%2Fapp/_tags"}, status: 200, check: wantNames("latest", "v2")},
		{desc: "tag listEnabled=false leaves it readable by name",
			lock: []call{tag("v1", `{"listEnabled":false}`)},
			call: call{method: "GET", path: "/acr/v1/team%2Fapp/_tags/v1"}, status: 200},
		{desc: "manifest listEnabled=false hides it from _manifests",
			lock: []call{manifest(acrD1, `{"listEnabled":false}`)},
			call: call{method: "GET", path: "/acr/v1/team%2Fapp/_manifests"}, status: 200, check: wantNames(acrD2.String())},
		{desc: "repository listEnabled=false hides it from /v2/_catalog",
			lock: []call{repo(`{"listEnabled":false}`)},
			call: call{method: "GET", path: "/v2/_catalog"}, status: 200, body: `{"repositories":["other","team/multi"]}`},
		{desc: "repository listEnabled=false hides it from /acr/v1/_catalog",
			lock: []call{repo(`{"listEnabled":false}`)},
			call: call{method: "GET", path: "/acr/v1/_catalog"}, status: 200, body: `{"repositories":["other","team/multi"]}`},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			srv, _ := acrSeed(t)
			for _, c := range tc.lock {
				if r := do(t, srv, c); r.status != http.StatusOK {
					t.Fatalf("%s %s: %d %s", c.method, c.path, r.status, r.body)
				}
			}
			r := do(t, srv, tc.call)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d; body %s", r.status, tc.status, r.body)
			}
			if tc.code != "" {
				if got := errCode(t, r.body); got != tc.code {
					t.Errorf("code = %s, want %s", got, tc.code)
				}
				if tc.code == "UNSUPPORTED" && !strings.Contains(string(r.body), disallowed) {
					t.Errorf("body %s lacks ACR's disallowed text", r.body)
				}
			}
			if tc.body != "" && string(r.body) != tc.body {
				t.Errorf("body = %s, want %s", r.body, tc.body)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// TestACRDeletesTakeEffect checks what the deletes leave behind.
func TestACRDeletesTakeEffect(t *testing.T) {
	srv, _ := acrSeed(t)
	steps := []struct {
		call   call
		status int
		body   string
	}{
		{call{method: "DELETE", path: "/acr/v1/team%2Fapp/_tags/v1"}, 202, ""},
		{call{method: "GET", path: "/v2/team/app/manifests/v1"}, 404, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest tagged by \"v1\" is not found","detail":{"Tag":"v1"}}]}` + "\n"},
		{call{method: "GET", path: "/v2/team/app/manifests/" + acrD1.String(), header: acceptOCI}, 200, string(acrMan1)}, // the manifest stays
		{call{method: "DELETE", path: "/acr/v1/team%2Fapp/_manifests/" + acrD2.String()}, 202, ""},
		{call{method: "GET", path: "/v2/team/app/tags/list"}, 200, `{"name":"team/app","tags":[]}`}, // its tags went with it
		{call{method: "DELETE", path: "/acr/v1/team%2Fapp"}, 202, fmt.Sprintf(`{"manifestsDeleted":[%q],"tagsDeleted":[]}`, acrD1)},
		{call{method: "GET", path: "/acr/v1/team%2Fapp"}, 404, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository \"team/app\" is not found"}]}` + "\n"},
		{call{method: "GET", path: "/acr/v1/_catalog"}, 200, `{"repositories":["other","team/multi"]}`},
		{call{method: "GET", path: "/v2/other/manifests/x", header: acceptOCI}, 200, string(acrMan1)}, // shared content survives
	}
	for i, s := range steps {
		r := do(t, srv, s.call)
		if r.status != s.status || string(r.body) != s.body {
			t.Fatalf("step %d %s %s: %d %s, want %d %s", i, s.call.method, s.call.path, r.status, r.body, s.status, s.body)
		}
	}
}

// TestACRPaging follows Link headers the way the Azure SDK does (the text between the first '<'
// and '>', joined to the endpoint) from a first request carrying api-version.
func TestACRPaging(t *testing.T) {
	srv, _ := acrSeed(t)
	walk := func(t *testing.T, first, field, key string) []string {
		t.Helper()
		var got []string
		next := first
		for pages := 0; next != ""; pages++ {
			if pages > 10 {
				t.Fatalf("paging does not end")
			}
			r := do(t, srv, call{method: "GET", path: next})
			if r.status != 200 {
				t.Fatalf("GET %s: %d %s", next, r.status, r.body)
			}
			if field == "repositories" {
				var doc struct{ Repositories []string }
				if err := json.Unmarshal(r.body, &doc); err != nil {
					t.Fatal(err)
				}
				got = append(got, doc.Repositories...)
			} else {
				got = append(got, acrNames(t, r.body, field, key)...)
			}
			next = ""
			if link := r.header.Get("Link"); link != "" {
				start, end := strings.Index(link, "<"), strings.Index(link, ">")
				next = link[start+1 : end]
				if strings.Contains(next, "api-version") {
					t.Errorf("next link %q carries api-version", next)
				}
			}
		}
		return got
	}
	const api = "api-version=2021-07-01"
	cases := []struct {
		desc, first, field, key string
		want                    []string
	}{
		{"catalog", "/acr/v1/_catalog?" + api + "&n=1", "repositories", "", []string{"other", "team/app", "team/multi"}},
		{"tags", "/acr/v1/team%2Fapp/_tags?" + api + "&n=1", "tags", "name", []string{"latest", "v1", "v2"}},
		{"tags timedesc", "/acr/v1/team%2Fapp/_tags?" + api + "&n=2&orderby=timedesc", "tags", "name", []string{"latest", "v2", "v1"}},
		{"tags timeasc", "/acr/v1/team%2Fapp/_tags?" + api + "&n=1&orderby=timeasc", "tags", "name", []string{"v1", "v2", "latest"}},
		{"manifests", "/acr/v1/team%2Fapp/_manifests?" + api + "&n=1", "manifests", "digest", sortedDigests(acrD1, acrD2)},
		{"manifests timedesc", "/acr/v1/team%2Fapp/_manifests?" + api + "&n=1&orderby=timedesc", "manifests", "digest", []string{acrD2.String(), acrD1.String()}},
	}
	for _, c := range cases {
		t.Run(c.desc, func(t *testing.T) {
			if got := walk(t, c.first, c.field, c.key); !reflect.DeepEqual(got, c.want) {
				t.Fatalf("walked %v, want %v", got, c.want)
			}
		})
	}
}

// TestACRRegistryFallback: without a registry record, "registry" is the host the client used.
func TestACRRegistryFallback(t *testing.T) {
	srv, _ := newServer(t)
	config := []byte(`{}`)
	push(t, srv, "app", config)
	acrPutManifest(t, srv, "app", "v1", mtOCIManifest, imageManifest(digest.FromBytes(config), len(config)))
	r := do(t, srv, call{method: "GET", path: "/acr/v1/app"})
	var doc struct{ Registry string }
	if err := json.Unmarshal(r.body, &doc); err != nil || doc.Registry != strings.TrimPrefix(srv.URL, "http://") {
		t.Fatalf("registry = %q (%v), want the request host", doc.Registry, err)
	}
}
