package registry

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/registry/schema1"
	"github.com/opencontainers/go-digest"
)

// Upstream is where a repository's missing manifests come from: ACR's artifact cache
// (emulator/cache), asked when a pull misses.
type Upstream interface {
	// Fill reads the manifest ref (tag or digest) of repo from the upstream a cache rule maps
	// repo to, with every blob and child manifest it refers to, and hands it to save, which
	// stores it. It reports false when no rule covers repo or the upstream does not have
	// ref; its errors are what the client gets.
	Fill(ctx context.Context, repo, ref string, save func(*Artifact) error) (bool, error)
}

// Artifact is a manifest read from an upstream, with what it refers to, digests verified.
type Artifact struct {
	// Manifests: an index's children first, the manifest asked for last.
	Manifests []UpstreamManifest
	Blobs     map[digest.Digest][]byte
}

// UpstreamManifest is one manifest of an Artifact as the upstream served it.
type UpstreamManifest struct {
	Digest    digest.Digest
	MediaType string
	Body      []byte
}

// WithUpstream makes manifest misses ask u (the registry's artifact cache).
func WithUpstream(u Upstream) Option { return func(r *Registry) { r.upstream = u } }

// originHeader marks a manifest answered from the upstream rather than the cache, as ACR
// does (X-Azure-Origin: upstream, per the ACR team in github.com/Azure/acr/issues/862).
const originHeader = "X-Azure-Origin"

// missing reports whether err is a registry miss the artifact cache may fill.
func missing(err error) bool {
	var re *httpx.RegistryError
	return errors.As(err, &re) && (re.Code == "NAME_UNKNOWN" || re.Code == "MANIFEST_UNKNOWN")
}

// fill asks the upstream for rt and reports whether it stored anything.
func (g *Registry) fill(ctx context.Context, rt route) (bool, error) {
	if g.upstream == nil {
		return false, nil
	}
	return g.upstream.Fill(ctx, rt.name, rt.ref, func(a *Artifact) error { return g.storeArtifact(rt, a) })
}

// storeArtifact stores what an upstream returned for rt. Every manifest is parsed before
// anything is written, so a bad upstream leaves no trace; blobs go in before the manifests
// that need them, an index's children before the index.
func (g *Registry) storeArtifact(rt route, a *Artifact) error {
	if len(a.Manifests) == 0 {
		return nil
	}
	for _, m := range a.Manifests {
		why := ""
		if int64(len(m.Body)) > g.maxManifest {
			why = "exceeds the size limit of " + strconv.FormatInt(g.maxManifest, 10) + " bytes"
		} else if _, err := parseManifest(m.Body, m.MediaType); err != nil {
			why = "is not valid: " + err.Error()
		}
		if why != "" {
			// The client asked for a pull: the upstream failed, not the request.
			return httpx.NewRegistryError(http.StatusFailedDependency, "UNKNOWN", "the upstream's manifest "+m.Digest.String()+" "+why)
		}
	}
	for d, b := range a.Blobs {
		if err := g.st.PutBlob(g.name, rt.name, d, b); err != nil {
			return storeError(err, rt.name)
		}
	}
	for i, m := range a.Manifests {
		var tags []string
		if i == len(a.Manifests)-1 && !isDigestRef(rt.ref) {
			tags = []string{rt.ref}
		}
		want := m.Digest
		if m.MediaType == schema1.MediaTypeSigned {
			want = "" // stored by its canonical payload's digest
		}
		if _, _, err := g.saveManifest(rt.name, m.Body, m.MediaType, want, tags); err != nil {
			return err
		}
	}
	return nil
}
