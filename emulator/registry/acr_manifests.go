package registry

import (
	"errors"
	"net/http"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/opencontainers/go-digest"
)

// acrManifestAttributes is one manifest of a Manifests list, or the "manifest" of
// ArtifactManifestProperties (spec section 4.1). architecture and os come from the image config;
// references (digest, architecture, os of each child) only appear for indexes and manifest
// lists; tags is omitted for an untagged manifest, as recordings show.
type acrManifestAttributes struct {
	Digest               string             `json:"digest"`
	ImageSize            int64              `json:"imageSize"`
	CreatedTime          string             `json:"createdTime"`
	LastUpdateTime       string             `json:"lastUpdateTime"`
	Architecture         string             `json:"architecture,omitempty"`
	OS                   string             `json:"os,omitempty"`
	MediaType            string             `json:"mediaType,omitempty"`
	ConfigMediaType      string             `json:"configMediaType,omitempty"`
	Tags                 []string           `json:"tags,omitempty"`
	References           []acrManifestChild `json:"references,omitempty"`
	ChangeableAttributes store.Attributes   `json:"changeableAttributes"`
}

type acrManifestChild struct {
	Digest       string `json:"digest"`
	Architecture string `json:"architecture,omitempty"`
	OS           string `json:"os,omitempty"`
}

// Manifests (GET /_manifests).
type acrManifestList struct {
	Registry  string                  `json:"registry"`
	ImageName string                  `json:"imageName"`
	Manifests []acrManifestAttributes `json:"manifests"`
}

// ArtifactManifestProperties (GET /_manifests/{digest}).
type acrManifestProperties struct {
	Registry  string                `json:"registry"`
	ImageName string                `json:"imageName"`
	Manifest  acrManifestAttributes `json:"manifest"`
}

func manifestAttributes(m *store.Manifest, tags []string) acrManifestAttributes {
	a := acrManifestAttributes{
		Digest: m.Digest.String(), ImageSize: m.ImageSize,
		CreatedTime: acrTime(m.CreatedAt), LastUpdateTime: acrTime(m.UpdatedAt),
		MediaType: m.MediaType, ConfigMediaType: m.ConfigMediaType,
		Tags: tags, ChangeableAttributes: m.Attrs,
	}
	if m.Platform != nil {
		a.Architecture, a.OS = m.Platform.Architecture, m.Platform.OS
	}
	for _, c := range m.Manifests {
		ref := acrManifestChild{Digest: c.Digest.String()}
		if c.Platform != nil {
			ref.Architecture, ref.OS = c.Platform.Architecture, c.Platform.OS
		}
		a.References = append(a.References, ref)
	}
	return a
}

// acrListManifests serves GET /acr/v1/{name}/_manifests?last&n&orderby (SDK
// Client.NewListManifestsPager): by digest unless ordered by time; manifests locked with
// listEnabled=false are hidden (UNCONFIRMED for manifests; ACR documents it for tags).
func (g *Registry) acrListManifests(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	q, err := parseListQuery(r)
	if err != nil {
		return err
	}
	if _, err := g.acrRepo(rt.name); err != nil {
		return err
	}
	login, err := g.loginServer(r)
	if err != nil {
		return err
	}
	all, err := g.st.ListManifests(g.name, rt.name)
	if err != nil {
		return err
	}
	var ms []*store.Manifest
	for _, m := range all {
		if m.Attrs.ListEnabled {
			ms = append(ms, m)
		}
	}
	key := func(m *store.Manifest) string { return m.Digest.String() }
	sortItems(ms, q, key, func(m *store.Manifest) time.Time { return m.UpdatedAt })
	ms = acrPage(w, "/acr/v1/"+rt.name+"/_manifests", nil, ms, q, key)

	tags, err := g.st.ListTags(g.name, rt.name)
	if err != nil {
		return err
	}
	tagsOf := map[digest.Digest][]string{}
	for _, t := range tags {
		tagsOf[t.Digest] = append(tagsOf[t.Digest], t.Name)
	}
	out := acrManifestList{Registry: login, ImageName: rt.name, Manifests: make([]acrManifestAttributes, 0, len(ms))}
	for _, m := range ms {
		out.Manifests = append(out.Manifests, manifestAttributes(m, tagsOf[m.Digest]))
	}
	return writeJSON(w, http.StatusOK, jsonUTF8, out)
}

func (g *Registry) writeManifestProperties(w http.ResponseWriter, r *http.Request, m *store.Manifest) error {
	login, err := g.loginServer(r)
	if err != nil {
		return err
	}
	tags, err := g.st.TagsOf(g.name, m.Repo, m.Digest)
	if err != nil {
		return err
	}
	var names []string
	for _, t := range tags {
		names = append(names, t.Name)
	}
	return writeJSON(w, http.StatusOK, jsonUTF8, acrManifestProperties{Registry: login, ImageName: m.Repo, Manifest: manifestAttributes(m, names)})
}

// acrGetManifest serves GET /acr/v1/{name}/_manifests/{digest} (SDK Client.GetManifestProperties).
// serveACR has already answered a reference that is not a digest.
func (g *Registry) acrGetManifest(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	if _, err := g.acrRepo(rt.name); err != nil {
		return err
	}
	d := digest.Digest(rt.ref)
	m, err := g.st.GetManifest(g.name, rt.name, d)
	if err != nil {
		return err
	}
	if m == nil {
		return errManifestUnknownDigest(d)
	}
	return g.writeManifestProperties(w, r, m)
}

// acrPatchManifest serves PATCH /acr/v1/{name}/_manifests/{digest} (SDK
// Client.UpdateManifestProperties).
func (g *Registry) acrPatchManifest(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	if _, err := g.acrRepo(rt.name); err != nil {
		return err
	}
	p, err := decodeAttributesPatch(r)
	if err != nil {
		return err
	}
	d := digest.Digest(rt.ref)
	m, err := g.st.UpdateManifestAttributes(g.name, rt.name, d, p)
	if errors.Is(err, store.ErrManifestNotFound) {
		return errManifestUnknownDigest(d)
	}
	if err != nil {
		return storeError(err, rt.name)
	}
	return g.writeManifestProperties(w, r, m)
}

// acrDeleteManifest serves DELETE /acr/v1/{name}/_manifests/{digest} with the rules of
// DELETE /v2/<name>/manifests/<digest> (202; the manifest's tags go with it; locks refuse).
func (g *Registry) acrDeleteManifest(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	return g.deleteManifest(w, r, route{kind: routeManifest, name: rt.name, ref: rt.ref})
}
