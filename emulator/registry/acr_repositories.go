package registry

import (
	"net/http"

	"github.com/acr-emulator/acr-emulator/emulator/store"
)

// ContainerRepositoryProperties (spec section 4.1).
type acrRepositoryProperties struct {
	Registry             string           `json:"registry"`
	ImageName            string           `json:"imageName"`
	CreatedTime          string           `json:"createdTime"`
	LastUpdateTime       string           `json:"lastUpdateTime"`
	ManifestCount        int              `json:"manifestCount"`
	TagCount             int              `json:"tagCount"`
	ChangeableAttributes store.Attributes `json:"changeableAttributes"`
}

// acrCatalog serves GET /acr/v1/_catalog?last&n (SDK Client.NewListRepositoriesPager): the
// repositories /v2/_catalog lists, as {"repositories":[...]}, paged through Link.
func (g *Registry) acrCatalog(w http.ResponseWriter, r *http.Request, _ acrRoute) error {
	q, err := parseListQuery(r)
	if err != nil {
		return err
	}
	q.orderby = "" // repositories are listed by name
	names, err := g.catalogNames()
	if err != nil {
		return err
	}
	names = acrPage(w, "/acr/v1/_catalog", nil, names, q, func(s string) string { return s })
	if names == nil {
		names = []string{}
	}
	return writeJSON(w, http.StatusOK, jsonUTF8, map[string]any{"repositories": names})
}

func (g *Registry) repositoryProperties(r *http.Request, repo *store.Repository) (*acrRepositoryProperties, error) {
	login, err := g.loginServer(r)
	if err != nil {
		return nil, err
	}
	manifests, tags, err := g.st.RepositoryCounts(g.name, repo.Name)
	if err != nil {
		return nil, err
	}
	return &acrRepositoryProperties{
		Registry: login, ImageName: repo.Name,
		CreatedTime: acrTime(repo.CreatedAt), LastUpdateTime: acrTime(repo.UpdatedAt),
		ManifestCount: manifests, TagCount: tags, ChangeableAttributes: repo.Attrs,
	}, nil
}

// acrGetRepository serves GET /acr/v1/{name} (SDK Client.GetRepositoryProperties).
func (g *Registry) acrGetRepository(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	repo, err := g.acrRepo(rt.name)
	if err != nil {
		return err
	}
	props, err := g.repositoryProperties(r, repo)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, jsonUTF8, props)
}

// acrPatchRepository serves PATCH /acr/v1/{name} (SDK Client.UpdateRepositoryProperties): the
// body's changeableAttributes are applied, and the new properties returned.
func (g *Registry) acrPatchRepository(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	p, err := decodeAttributesPatch(r)
	if err != nil {
		return err
	}
	repo, err := g.st.UpdateRepositoryAttributes(g.name, rt.name, p)
	if err != nil {
		return storeError(err, rt.name)
	}
	props, err := g.repositoryProperties(r, repo)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, jsonUTF8, props)
}

// acrDeleteRepository serves DELETE /acr/v1/{name} (SDK Client.DeleteRepository): 202 with
// what was removed; refused (errDisallowed) when the repository or anything in it is locked.
func (g *Registry) acrDeleteRepository(w http.ResponseWriter, r *http.Request, rt acrRoute) error {
	before, tagsOf := g.repositoryContent(rt.name)
	out, err := g.st.DeleteRepository(g.name, rt.name)
	if err != nil {
		return storeError(err, rt.name)
	}
	for _, d := range out.ManifestsDeleted {
		e := Event{Action: EventDelete, Repo: rt.name, Digest: d, Tags: tagsOf[d]}
		if m := before[d]; m != nil {
			e.MediaType, e.Size = m.MediaType, m.Size
		}
		g.emit(r, e)
	}
	manifests := make([]string, 0, len(out.ManifestsDeleted))
	for _, d := range out.ManifestsDeleted {
		manifests = append(manifests, d.String())
	}
	tags := out.TagsDeleted
	if tags == nil {
		tags = []string{}
	}
	return writeJSON(w, http.StatusAccepted, jsonUTF8, map[string][]string{"manifestsDeleted": manifests, "tagsDeleted": tags})
}
