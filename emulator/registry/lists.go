package registry

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strconv"

	"github.com/opencontainers/go-digest"
)

// page applies distribution's n/last pagination to sorted names and sets the Link header in
// ACR's form (`</v2/_catalog?last=x&n=2&orderby=>; rel="next"`) when more remain.
func page(w http.ResponseWriter, r *http.Request, path string, names []string) ([]string, error) {
	q := r.URL.Query()
	n := -1
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return nil, errPaginationInvalid.WithDetail(map[string]string{"n": s})
		}
		n = v
	}
	if last := q.Get("last"); last != "" {
		i := sort.SearchStrings(names, last)
		if i < len(names) && names[i] == last {
			i++
		}
		names = names[i:]
	}
	if n >= 0 && len(names) > n {
		names = names[:n]
		if n > 0 {
			v := url.Values{"last": {names[n-1]}, "n": {strconv.Itoa(n)}}
			w.Header().Set("Link", "<"+path+"?"+v.Encode()+"&orderby=>; rel=\"next\"")
		}
	}
	if names == nil {
		names = []string{}
	}
	return names, nil
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

const jsonUTF8 = "application/json; charset=utf-8"

// listTags serves GET /v2/<name>/tags/list; tags locked with listEnabled=false are hidden.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-tags
func (g *Registry) listTags(w http.ResponseWriter, r *http.Request, rt route) error {
	if _, err := g.readableRepo(rt.name); err != nil {
		return err
	}
	tags, err := g.st.ListTags(g.name, rt.name)
	if err != nil {
		return err
	}
	var names []string
	for _, t := range tags {
		if t.Attrs.ListEnabled {
			names = append(names, t.Name)
		}
	}
	names, err = page(w, r, "/v2/"+rt.name+"/tags/list", names)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, jsonUTF8, map[string]any{"name": rt.name, "tags": names})
}

// catalogNames lists repositories that hold at least one manifest and are not hidden.
func (g *Registry) catalogNames() ([]string, error) {
	repos, err := g.st.ListRepositories(g.name)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, repo := range repos {
		if !repo.Attrs.ListEnabled {
			continue
		}
		manifests, _, err := g.st.RepositoryCounts(g.name, repo.Name)
		if err != nil {
			return nil, err
		}
		if manifests > 0 {
			names = append(names, repo.Name)
		}
	}
	return names, nil
}

// catalog serves GET /v2/_catalog.
func (g *Registry) catalog(w http.ResponseWriter, r *http.Request, _ route) error {
	names, err := g.catalogNames()
	if err != nil {
		return err
	}
	if names, err = page(w, r, "/v2/_catalog", names); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, jsonUTF8, map[string]any{"repositories": names})
}

type referrerDescriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// referrers serves GET /v2/<name>/referrers/<digest>[?artifactType=]: always an image index,
// empty when nothing refers to the digest.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#listing-referrers
func (g *Registry) referrers(w http.ResponseWriter, r *http.Request, rt route) error {
	d, err := parseDigest(rt.ref)
	if err != nil {
		return err
	}
	ms, err := g.st.Referrers(g.name, rt.name, d)
	if err != nil {
		return err
	}
	filter := r.URL.Query().Get("artifactType")
	out := []referrerDescriptor{}
	for _, m := range ms {
		if filter != "" && m.ArtifactType != filter {
			continue
		}
		out = append(out, referrerDescriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size, ArtifactType: m.ArtifactType, Annotations: m.Annotations})
	}
	if filter != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	return writeJSON(w, http.StatusOK, mtOCIIndex, map[string]any{"schemaVersion": 2, "mediaType": mtOCIIndex, "manifests": out})
}
