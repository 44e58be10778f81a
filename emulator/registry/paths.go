package registry

import (
	"net/url"
	"regexp"
	"strings"
)

// Repository names contain '/', so no router can match them with a path parameter: the tail of
// the path is split by the well-known trailing segments instead, as distribution does.
// Clients such as the Azure SDK for Go percent-encode the name (team%2Fapp), so the split works
// on the escaped path and each part is decoded afterwards; a decoded name is then held to the
// OCI grammar, which leaves no room for "..", empty segments or stray slashes.

var (
	nameRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	tagRE  = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
)

// maxNameLength is ACR's repository name limit (and distribution's).
const maxNameLength = 255

type routeKind int

const (
	routeNone routeKind = iota
	routeBase
	routeCatalog
	routeTags
	routeManifest
	routeBlob
	routeUploadStart
	routeUpload
	routeReferrers
)

type route struct {
	kind routeKind
	name string // repository, decoded
	ref  string // tag, digest or upload id, decoded
}

// parseV2 splits an escaped /v2/... path. ok=false means no route matched; a route with an
// invalid name is still returned so the handler can answer NAME_INVALID.
func parseV2(escaped string) (route, bool) {
	switch escaped {
	case "/v2", "/v2/":
		return route{kind: routeBase}, true
	case "/v2/_catalog":
		return route{kind: routeCatalog}, true
	}
	rest, ok := strings.CutPrefix(escaped, "/v2/")
	if !ok {
		return route{}, false
	}
	segs := strings.Split(rest, "/")
	n := len(segs)
	at := func(i int) string { // i counts from the end: at(1) is the last segment
		if n-i < 0 {
			return ""
		}
		return segs[n-i]
	}
	var kind routeKind
	var nameSegs int
	switch {
	case n >= 3 && at(2) == "tags" && at(1) == "list":
		kind, nameSegs = routeTags, n-2
	case n >= 4 && at(3) == "blobs" && at(2) == "uploads":
		kind, nameSegs = routeUpload, n-3
		if at(1) == "" {
			kind = routeUploadStart
		}
	case n >= 3 && at(2) == "blobs" && at(1) == "uploads":
		kind, nameSegs = routeUploadStart, n-2
	case n >= 3 && at(2) == "blobs":
		kind, nameSegs = routeBlob, n-2
	case n >= 3 && at(2) == "manifests":
		kind, nameSegs = routeManifest, n-2
	case n >= 3 && at(2) == "referrers":
		kind, nameSegs = routeReferrers, n-2
	default:
		return route{}, false
	}
	name, err := url.PathUnescape(strings.Join(segs[:nameSegs], "/"))
	if err != nil {
		name = "\x00" // undecodable: fails validation below
	}
	rt := route{kind: kind, name: name}
	if kind != routeTags && kind != routeUploadStart {
		ref, err := url.PathUnescape(at(1))
		if err != nil {
			ref = "\x00"
		}
		rt.ref = ref
	}
	return rt, true
}

func validName(name string) bool {
	return len(name) <= maxNameLength && nameRE.MatchString(name)
}

func validTag(tag string) bool { return tagRE.MatchString(tag) }
