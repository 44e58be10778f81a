package registry

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// acrTagAttributes is one tag of a TagList, or the "tag" of ArtifactTagProperties, which alone
// carries "signed" (spec section 4.1).
type acrTagAttributes struct {
	Name                 string           `json:"name"`
	Digest               string           `json:"digest"`
	CreatedTime          string           `json:"createdTime"`
	LastUpdateTime       string           `json:"lastUpdateTime"`
	Signed               *bool            `json:"signed,omitempty"`
	ChangeableAttributes store.Attributes `json:"changeableAttributes"`
}

// TagList (GET /_tags).
type acrTagList struct {
	Registry  string             `json:"registry"`
	ImageName string             `json:"imageName"`
	Tags      []acrTagAttributes `json:"tags"`
}

// ArtifactTagProperties (GET /_tags/{tag}).
type acrTagProperties struct {
	Registry  string           `json:"registry"`
	ImageName string           `json:"imageName"`
	Tag       acrTagAttributes `json:"tag"`
}

func tagAttributes(t *store.Tag) acrTagAttributes {
	return acrTagAttributes{
		Name: t.Name, Digest: t.Digest.String(),
		CreatedTime: acrTime(t.CreatedAt), LastUpdateTime: acrTime(t.UpdatedAt),
		ChangeableAttributes: t.Attrs,
	}
}

// acrListTags serves GET /acr/v1/{name}/_tags?last&n&orderby&digest (SDK
// Client.NewListTagsPager). Tags locked with listEnabled=false are hidden; ?digest keeps the
// tags pointing at that manifest.
func (g *Registry) acrListTags(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
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
	all, err := g.st.ListTags(g.name, rt.name)
	if err != nil {
		return err
	}
	filter := r.URL.Query().Get("digest")
	var tags []*store.Tag
	for _, t := range all {
		if t.Attrs.ListEnabled && (filter == "" || t.Digest.String() == filter) {
			tags = append(tags, t)
		}
	}
	key := func(t *store.Tag) string { return t.Name }
	sortItems(tags, q, key, func(t *store.Tag) time.Time { return t.UpdatedAt })
	var extra url.Values
	if filter != "" {
		extra = url.Values{"digest": {filter}}
	}
	tags = acrPage(w, "/acr/v1/"+rt.name+"/_tags", extra, tags, q, key)
	out := acrTagList{Registry: login, ImageName: rt.name, Tags: make([]acrTagAttributes, 0, len(tags))}
	for _, t := range tags {
		out.Tags = append(out.Tags, tagAttributes(t))
	}
	return writeJSON(w, http.StatusOK, jsonUTF8, out)
}

// writeTagProperties writes ArtifactTagProperties. ACR reports "signed"; the emulator has no
// content trust, so it is always false.
func (g *Registry) writeTagProperties(w http.ResponseWriter, r *http.Request, t *store.Tag) error {
	login, err := g.loginServer(r)
	if err != nil {
		return err
	}
	attrs := tagAttributes(t)
	signed := false
	attrs.Signed = &signed
	return writeJSON(w, http.StatusOK, jsonUTF8, acrTagProperties{Registry: login, ImageName: t.Repo, Tag: attrs})
}

// acrTag loads a tag of an existing repository; an invalid or missing tag is TAG_UNKNOWN.
func (g *Registry) acrTag(rt acrRoute) (*store.Tag, error) {
	if _, err := g.acrRepo(rt.name); err != nil {
		return nil, err
	}
	if !validTag(rt.ref) {
		return nil, errTagUnknown
	}
	t, err := g.st.GetTag(g.name, rt.name, rt.ref)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, errTagUnknown
	}
	return t, nil
}

// acrGetTag serves GET /acr/v1/{name}/_tags/{tag} (SDK Client.GetTagProperties).
func (g *Registry) acrGetTag(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	t, err := g.acrTag(rt)
	if err != nil {
		return err
	}
	return g.writeTagProperties(w, r, t)
}

// acrPatchTag serves PATCH /acr/v1/{name}/_tags/{tag} (SDK Client.UpdateTagProperties).
func (g *Registry) acrPatchTag(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	if _, err := g.acrRepo(rt.name); err != nil {
		return err
	}
	if !validTag(rt.ref) {
		return errTagUnknown
	}
	p, err := decodeAttributesPatch(r)
	if err != nil {
		return err
	}
	t, err := g.st.UpdateTagAttributes(g.name, rt.name, rt.ref, p)
	if errors.Is(err, store.ErrTagNotFound) {
		return errTagUnknown
	}
	if err != nil {
		return storeError(err, rt.name)
	}
	return g.writeTagProperties(w, r, t)
}

// acrDeleteTag serves DELETE /acr/v1/{name}/_tags/{tag} (SDK Client.DeleteTag): 202, the
// manifest stays.
func (g *Registry) acrDeleteTag(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	if _, err := g.acrTag(rt); err != nil {
		return err
	}
	err := g.st.DeleteTag(g.name, rt.name, rt.ref)
	if errors.Is(err, store.ErrTagNotFound) {
		return errTagUnknown
	}
	if err != nil {
		return storeError(err, rt.name)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}
