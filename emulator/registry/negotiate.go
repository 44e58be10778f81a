package registry

import (
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
)

// Manifest content negotiation, as ACR's registry (a distribution v2 derivative) does it:
// the Accept header decides only between a stored manifest and what old clients can read.
//   - An OCI image manifest or OCI index is refused with 404 MANIFEST_UNKNOWN unless Accept lists
//     its media type, by tag or by digest. [src: Azure/acr PR #764 quotes ACR's text "OCI
//     manifest found, but accept header does not support OCI manifests"; distribution v2.8
//     registry/handlers/manifests.go]
//   - A Docker schema 2 image manifest fetched by tag without schema 2 in Accept (no Accept at
//     all included) is rewritten as a signed schema 1 manifest. [src: azure-rest-api-specs
//     2018-08-10 examples/GetManifest.json]
//   - A Docker manifest list fetched by tag without the list type in Accept is replaced by its
//     linux/amd64 image, itself rewritten when schema 2 is not accepted either.
//   - Fetched by digest, a Docker manifest is served as stored: nothing else has that digest.
//   - A stored schema 1 manifest is served whatever Accept says.
// application/json, */* and unknown types admit nothing.

// accepted is what a request's Accept headers admit, parsed as distribution parses them: every
// value split on commas, parameters such as q= dropped and ignored.
type accepted struct{ schema2, list, ociManifest, ociIndex bool }

func parseAccept(h http.Header) accepted {
	var a accepted
	for _, v := range h.Values("Accept") {
		for _, mt := range strings.Split(v, ",") {
			mt, _, _ = strings.Cut(mt, ";")
			switch strings.TrimSpace(mt) {
			case mtDockerManifest:
				a.schema2 = true
			case mtDockerList:
				a.list = true
			case mtOCIManifest:
				a.ociManifest = true
			case mtOCIIndex:
				a.ociIndex = true
			}
		}
	}
	return a
}

// negotiation is what a manifest GET serves in place of the stored manifest.
type negotiation int

const (
	serveStored   negotiation = iota
	serveSchema1              // the image manifest rewritten as signed schema 1
	servePlatform             // the list's linux/amd64 image (negotiated again with negotiateChild)
)

// The platform a manifest list stands for when the client cannot read lists (distribution's).
const (
	defaultOS   = "linux"
	defaultArch = "amd64"
)

var (
	errOCIManifestNotAccepted = httpx.NewRegistryError(http.StatusNotFound, "MANIFEST_UNKNOWN",
		"OCI manifest found, but accept header does not support OCI manifests")
	errOCIIndexNotAccepted = httpx.NewRegistryError(http.StatusNotFound, "MANIFEST_UNKNOWN",
		"OCI index found, but accept header does not support OCI indexes")
	// errNoDefaultPlatform: a list without a linux/amd64 image, asked for by a client that
	// cannot read lists; distribution's bare MANIFEST_UNKNOWN.
	errNoDefaultPlatform = httpx.NewRegistryError(http.StatusNotFound, "MANIFEST_UNKNOWN", "manifest unknown")
)

// negotiate decides what a GET or HEAD of a stored manifest of mediaType serves.
func negotiate(mediaType string, byTag bool, a accepted) (negotiation, error) {
	switch {
	case mediaType == mtOCIManifest && !a.ociManifest:
		return serveStored, errOCIManifestNotAccepted
	case mediaType == mtOCIIndex && !a.ociIndex:
		return serveStored, errOCIIndexNotAccepted
	case byTag && mediaType == mtDockerManifest && !a.schema2:
		return serveSchema1, nil
	case byTag && mediaType == mtDockerList && !a.list:
		return servePlatform, nil
	}
	return serveStored, nil
}

// negotiateChild decides how the image picked from a manifest list is served.
func negotiateChild(mediaType string, a accepted) negotiation {
	if mediaType == mtDockerManifest && !a.schema2 {
		return serveSchema1
	}
	return serveStored
}
