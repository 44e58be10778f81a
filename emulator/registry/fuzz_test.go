package registry

import (
	"strings"
	"testing"
)

// Parsers of untrusted input never panic, and what they accept keeps their invariants.

func FuzzParseV2(f *testing.F) {
	for _, s := range []string{"/v2/", "/v2/app/manifests/v1", "/v2/team/app/blobs/sha256:" + strings.Repeat("a", 64),
		"/v2/app/blobs/uploads/", "/v2/app/blobs/uploads/abc", "/v2/app/tags/list", "/v2/_catalog", "/v2/app/referrers/sha256:x",
		"/v2/a/..%2F..%2Fetc/manifests/v1", "/v2/%2e%2e/manifests/x", "/v2//manifests/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		// An invalid name is still routed, for the handler to answer NAME_INVALID; a name that
		// passes validation never walks out of its repository.
		rt, ok := parseV2(p)
		if !ok || !validName(rt.name) {
			return
		}
		for _, seg := range strings.Split(rt.name, "/") {
			if seg == "." || seg == ".." || seg == "" {
				t.Fatalf("parseV2(%q) accepted a name with segment %q", p, seg)
			}
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"0-9", "bytes=0-9", "bytes 0-9/10", "bytes 5-4/*", "-1-2", "9223372036854775807-9223372036854775807", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, ok := parseContentRange(s)
		if ok && (start < 0 || end < start) {
			t.Fatalf("parseContentRange(%q) = %d-%d", s, start, end)
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	cfg := `{"mediaType":"application/vnd.oci.image.config.v1+json","size":2,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}`
	for _, s := range []string{
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":` + cfg + `,"layers":[]}`,
		`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`,
		`{"schemaVersion":2,"config":` + cfg + `,"layers":[` + cfg + `],"subject":` + cfg + `}`,
		`{"schemaVersion":1}`, `[]`, `null`, `{"schemaVersion":2,"layers":[{"size":-1}]}`,
	} {
		f.Add(s, mtOCIManifest)
		f.Add(s, mtOCIIndex)
	}
	f.Fuzz(func(t *testing.T, body, contentType string) {
		p, err := parseManifest([]byte(body), contentType)
		if err != nil || p == nil {
			return
		}
		if !knownManifestType(p.MediaType) {
			t.Fatalf("accepted a manifest of unknown type %q", p.MediaType)
		}
	})
}
