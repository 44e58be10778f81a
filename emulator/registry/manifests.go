package registry

import (
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/registry/schema1"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/opencontainers/go-digest"
)

// isDigestRef tells digests from tags: a tag can never contain ':'.
func isDigestRef(ref string) bool { return strings.Contains(ref, ":") }

// resolveManifest finds the manifest a tag or digest names, applying readEnabled locks.
func (g *Registry) resolveManifest(rt route) (*store.Manifest, error) {
	if _, err := g.readableRepo(rt.name); err != nil {
		return nil, err
	}
	var d digest.Digest
	if isDigestRef(rt.ref) {
		var err error
		if d, err = parseDigest(rt.ref); err != nil {
			return nil, err
		}
	} else {
		if !validTag(rt.ref) {
			return nil, errTagInvalid.WithMessage("invalid tag").WithDetail(map[string]string{"Tag": rt.ref})
		}
		t, err := g.st.GetTag(g.name, rt.name, rt.ref)
		if err != nil {
			return nil, err
		}
		if t == nil {
			return nil, errManifestUnknownTag(rt.ref)
		}
		if !t.Attrs.ReadEnabled {
			return nil, errDisallowed
		}
		d = t.Digest
	}
	return g.readableManifest(rt.name, d)
}

// readableManifest loads a manifest of the repository, applying its readEnabled lock.
func (g *Registry) readableManifest(repo string, d digest.Digest) (*store.Manifest, error) {
	m, err := g.st.GetManifest(g.name, repo, d)
	if err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errManifestUnknownDigest(d)
	}
	if !m.Attrs.ReadEnabled {
		return nil, errDisallowed
	}
	return m, nil
}

// getManifest serves GET and HEAD /v2/<name>/manifests/<reference>, negotiating with the Accept
// header as ACR does (negotiate.go): old clients get a signed schema 1 rewrite.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pulling-manifests
func (g *Registry) getManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	m, err := g.resolveManifest(rt)
	if missing(err) {
		// A miss in a repository a cache rule covers is filled from the upstream.
		var filled bool
		if filled, err = g.fill(r.Context(), rt); err == nil {
			m, err = g.resolveManifest(rt)
			if filled && err == nil {
				w.Header().Set(originHeader, "upstream")
			}
		}
	}
	if err != nil {
		return err
	}
	acc := parseAccept(r.Header)
	plan, err := negotiate(m.MediaType, !isDigestRef(rt.ref), acc)
	if err != nil {
		return err
	}
	if plan == servePlatform {
		if m, err = g.platformImage(rt.name, m); err != nil {
			return err
		}
		plan = negotiateChild(m.MediaType, acc)
	}
	mediaType, d, body := m.MediaType, m.Digest, []byte(nil)
	switch {
	case plan == serveSchema1:
		mediaType = schema1.MediaTypeSigned
		if d, body, err = g.schema1Rewrite(r.Context(), rt, m); err != nil {
			return err
		}
	case m.MediaType == schema1.MediaTypeSigned:
		// Stored schema 1 manifests keep only their canonical payload; every read is signed
		// afresh with the registry's key, as distribution does.
		if body, err = g.signStoredSchema1(m); err != nil {
			return err
		}
	default:
		var ok bool
		if body, ok = g.st.ManifestBytes(m.Digest); !ok {
			return errManifestUnknownDigest(m.Digest)
		}
	}
	h := w.Header()
	h.Set("Content-Type", mediaType)
	h.Set("Docker-Content-Digest", d.String())
	h.Set("ETag", `"`+d.String()+`"`)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return nil
}

// platformImage is the linux/amd64 image of a manifest list, which a client that cannot read
// lists gets in its place.
func (g *Registry) platformImage(repo string, list *store.Manifest) (*store.Manifest, error) {
	for _, c := range list.Manifests {
		if c.Platform == nil || c.Platform.OS != defaultOS || c.Platform.Architecture != defaultArch {
			continue
		}
		return g.readableManifest(repo, c.Digest)
	}
	return nil, errNoDefaultPlatform
}

// putManifest serves PUT /v2/<name>/manifests/<reference>[?tag=...]: every blob and child
// manifest it refers to must be in the repository; a subject need not be (OCI 1.1).
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-manifests
func (g *Registry) putManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	var want digest.Digest
	var tags []string
	if isDigestRef(rt.ref) {
		var err error
		if want, err = parseDigest(rt.ref); err != nil {
			return err
		}
	} else {
		if !validTag(rt.ref) {
			return errTagInvalid.WithMessage("invalid tag").WithDetail(map[string]string{"Tag": rt.ref})
		}
		tags = append(tags, rt.ref)
	}
	paramTags := r.URL.Query()["tag"]
	for _, t := range paramTags {
		if !validTag(t) {
			return errTagInvalid.WithMessage("invalid tag").WithDetail(map[string]string{"Tag": t})
		}
	}
	tags = append(tags, paramTags...)

	body, err := io.ReadAll(io.LimitReader(r.Body, g.maxManifest+1))
	if err != nil {
		return errManifestInvalid.WithMessage("failed to read the manifest: " + err.Error())
	}
	if int64(len(body)) > g.maxManifest {
		return errSizeInvalid.WithMessage("manifest exceeds the size limit of " + strconv.FormatInt(g.maxManifest, 10) + " bytes")
	}
	m, p, err := g.saveManifest(rt.name, body, r.Header.Get("Content-Type"), want, tags)
	if err != nil {
		return err
	}
	d := m.Digest
	g.emit(r, Event{Action: EventPush, Repo: rt.name, Digest: d, MediaType: m.MediaType, Size: m.Size, Tags: tags})
	h := w.Header()
	if p.Subject != nil {
		h.Set("OCI-Subject", p.Subject.Digest.String())
	}
	for _, t := range paramTags {
		h.Add("OCI-Tag", t)
	}
	return created(w, "/v2/"+rt.name+"/manifests/"+d.String(), d)
}

// saveManifest parses body as a manifest of repo and stores it, pointing tags at it; want,
// when set, is the digest the body must have. Pushes and the artifact cache's fills
// (upstream.go) store manifests through it.
func (g *Registry) saveManifest(repo string, body []byte, contentType string, want digest.Digest, tags []string) (*store.Manifest, *parsedManifest, error) {
	p, err := parseManifest(body, contentType)
	if err != nil {
		return nil, nil, err
	}
	if p.Canonical != nil {
		body = p.Canonical
	}
	alg := digest.Canonical
	if want != "" {
		alg = want.Algorithm()
	}
	d := alg.FromBytes(body)
	if want != "" && d != want {
		return nil, nil, errDigestInvalid.WithDetail("digest parsing failed")
	}
	m := &store.Manifest{
		Registry: g.name, Repo: repo, Digest: d, MediaType: p.MediaType, Size: int64(len(body)),
		ArtifactType: p.artifactType(), Annotations: p.Annotations, Blobs: p.Layers, Manifests: p.Manifests,
		ImageSize: int64(len(body)),
	}
	if p.Subject != nil {
		m.Subject = p.Subject.Digest
	}
	if p.Config != nil {
		m.ConfigMediaType = p.Config.MediaType
		m.Blobs = append([]store.Descriptor{*p.Config}, p.Layers...)
		// The platform ACR lists comes from the config; a config larger than the blob store
		// hands out whole (16 MiB, far beyond any image's) is an artifact's, without one.
		if cfg, ok := g.st.Blobs().Get(p.Config.Digest); ok {
			m.Platform = platformOf(cfg)
		}
	}
	for _, b := range m.Blobs {
		if b.Size > 0 {
			m.ImageSize += b.Size
		}
	}
	if err := g.st.PutManifest(m, body, tags, func(d store.Descriptor) bool { return !d.Foreign }); err != nil {
		return nil, nil, storeError(err, repo)
	}
	return m, p, nil
}

// deleteManifest serves DELETE /v2/<name>/manifests/<digest>. ACR refuses deletes by tag on
// this path (405 UNSUPPORTED); tags are deleted through /acr/v1/<name>/_tags/<tag>.
func (g *Registry) deleteManifest(w http.ResponseWriter, r *http.Request, rt route) error {
	if !isDigestRef(rt.ref) {
		return errDeleteByTag
	}
	d, err := parseDigest(rt.ref)
	if err != nil {
		return err
	}
	deleted := Event{Action: EventDelete, Repo: rt.name, Digest: d}
	if g.events != nil {
		if m, err := g.st.GetManifest(g.name, rt.name, d); err == nil && m != nil {
			deleted.MediaType, deleted.Size = m.MediaType, m.Size
		}
	}
	removed, err := g.st.DeleteManifest(g.name, rt.name, d)
	if err != nil {
		if err == store.ErrManifestNotFound {
			return errManifestUnknownDigest(d)
		}
		return storeError(err, rt.name)
	}
	deleted.Tags = removed
	g.emit(r, deleted)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}
