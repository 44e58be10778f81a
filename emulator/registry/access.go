package registry

import (
	"net/http"
	"strings"
)

// Access is what a request needs: a resource (type and name) and actions, in the form of a token
// scope ("repository:team/app:pull,push"). The registry only declares it; the token service
// checks it and builds the challenge from it.
type Access struct {
	Type    string // "repository", "registry", or "" when any authenticated caller may proceed
	Name    string
	Actions []string // in the order ACR's challenges list them
}

// RequiredAccess maps a data-plane request to the access ACR asks for in its challenge
// (spec acr-dataplane-auth.md section 1.3, from the SDK recordings). The /v2/ ping and unknown
// paths need only an authenticated caller.
func RequiredAccess(r *http.Request) Access {
	p := r.URL.EscapedPath()
	switch {
	case strings.HasPrefix(p, "/acr/v1/"):
		return acrAccess(r.Method, p)
	case p == "/v2" || strings.HasPrefix(p, "/v2/"):
		return v2Access(r.Method, p)
	}
	return Access{}
}

func repoAccess(name string, actions ...string) Access {
	return Access{Type: "repository", Name: name, Actions: actions}
}

var catalogAccess = Access{Type: "registry", Name: "catalog", Actions: []string{"*"}}

func v2Access(method, escaped string) Access {
	rt, ok := parseV2(escaped)
	if !ok || (rt.kind != routeBase && rt.kind != routeCatalog && !validName(rt.name)) {
		return Access{}
	}
	switch rt.kind {
	case routeCatalog:
		return catalogAccess
	case routeTags, routeReferrers:
		return repoAccess(rt.name, "pull")
	case routeManifest, routeBlob:
		switch method {
		case http.MethodGet, http.MethodHead:
			return repoAccess(rt.name, "pull")
		case http.MethodDelete:
			return repoAccess(rt.name, "delete")
		}
		return repoAccess(rt.name, "pull", "push")
	case routeUploadStart:
		return repoAccess(rt.name, "push", "pull")
	case routeUpload:
		return repoAccess(rt.name, "pull", "push")
	}
	return Access{}
}

func acrAccess(method, escaped string) Access {
	rt, ok := parseACR(escaped)
	if !ok {
		return Access{}
	}
	if rt.kind == acrCatalog {
		return catalogAccess
	}
	if !validName(rt.name) {
		return Access{}
	}
	switch rt.kind {
	case acrStreaming, acrStreamingArtifact, acrOperation, acrOperationCancel: // the scopes az asks for (test_acr_artifact_streaming)
		if method == http.MethodPost {
			return repoAccess(rt.name, "pull", "push")
		}
		return repoAccess(rt.name, "pull")
	}
	switch method {
	case http.MethodPatch:
		return repoAccess(rt.name, "metadata_write")
	case http.MethodDelete:
		return repoAccess(rt.name, "delete")
	}
	return repoAccess(rt.name, "metadata_read")
}
