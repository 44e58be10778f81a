package registry

import (
	"net/http"
	"testing"
)

func TestNegotiate(t *testing.T) {
	none, all := accepted{}, accepted{schema2: true, list: true, ociManifest: true, ociIndex: true}
	tests := []struct {
		mediaType string
		byTag     bool
		a         accepted
		want      negotiation
		err       error
	}{
		{mtDockerManifest, true, none, serveSchema1, nil},
		{mtDockerManifest, false, none, serveStored, nil},
		{mtDockerManifest, true, accepted{schema2: true}, serveStored, nil},
		{mtDockerList, true, none, servePlatform, nil},
		{mtDockerList, true, accepted{schema2: true}, servePlatform, nil},
		{mtDockerList, false, none, serveStored, nil},
		{mtDockerList, true, accepted{list: true}, serveStored, nil},
		{mtOCIManifest, true, accepted{schema2: true, list: true, ociIndex: true}, serveStored, errOCIManifestNotAccepted},
		{mtOCIManifest, false, none, serveStored, errOCIManifestNotAccepted},
		{mtOCIManifest, true, accepted{ociManifest: true}, serveStored, nil},
		{mtOCIIndex, false, accepted{ociManifest: true}, serveStored, errOCIIndexNotAccepted},
		{mtOCIIndex, true, accepted{ociIndex: true}, serveStored, nil},
		{mtDockerV1Signed, true, none, serveStored, nil},
		{mtDockerManifest, true, all, serveStored, nil},
	}
	for _, tc := range tests {
		got, err := negotiate(tc.mediaType, tc.byTag, tc.a)
		if got != tc.want || err != tc.err {
			t.Errorf("negotiate(%s, byTag=%v, %+v) = %v, %v; want %v, %v", tc.mediaType, tc.byTag, tc.a, got, err, tc.want, tc.err)
		}
	}
	if negotiateChild(mtDockerManifest, none) != serveSchema1 || negotiateChild(mtDockerManifest, accepted{schema2: true}) != serveStored ||
		negotiateChild(mtOCIManifest, none) != serveStored {
		t.Error("negotiateChild")
	}
}

func TestParseAccept(t *testing.T) {
	tests := []struct {
		values []string
		want   accepted
	}{
		{nil, accepted{}},
		{[]string{"*/*", "application/json"}, accepted{}},
		{[]string{mtDockerManifest}, accepted{schema2: true}},
		{[]string{" " + mtDockerList + " ; q=0.5 ,application/vnd.oci.image.manifest.v1+json"}, accepted{list: true, ociManifest: true}},
		{[]string{"application/json", mtOCIIndex}, accepted{ociIndex: true}},
		{[]string{"APPLICATION/VND.DOCKER.DISTRIBUTION.MANIFEST.V2+JSON"}, accepted{}}, // distribution compares exactly
	}
	for _, tc := range tests {
		h := http.Header{}
		for _, v := range tc.values {
			h.Add("Accept", v)
		}
		if got := parseAccept(h); got != tc.want {
			t.Errorf("parseAccept(%q) = %+v, want %+v", tc.values, got, tc.want)
		}
	}
}
