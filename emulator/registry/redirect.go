package registry

import (
	"context"
	"net/http"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/opencontainers/go-digest"
)

// BlobRedirect says where a client downloads a blob instead of from the registry: ACR answers
// a blob GET with 307 Temporary Redirect to a short-lived link on its storage, or on the
// registry's dedicated data endpoint. It returns "" to serve the blob here. It is called after
// the registry checked that the repository may be read and holds the blob.
type BlobRedirect func(r *http.Request, repo string, d digest.Digest) (string, error)

// WithBlobRedirect makes blob GETs redirect where f says. HEAD is never redirected (ACR
// answers it 200 itself: azcontainerregistry's CheckBlobExists accepts only 200), nor are
// uploads.
func WithBlobRedirect(f BlobRedirect) Option { return func(r *Registry) { r.redirect = f } }

type downloadKey struct{}

// redirectTo is where a blob GET is sent ("" when it is served here): the answer ACR gives,
// recorded by the Azure SDK for JS (recording_can_upload_blob.json): 307, Location, the
// Docker-Content-Digest and http.Redirect's text/html body "<a href=...>Temporary Redirect</a>.".
func (g *Registry) redirectTo(r *http.Request, repo string, d digest.Digest) (string, error) {
	if g.redirect == nil || r.Method != http.MethodGet || r.Context().Value(downloadKey{}) != nil {
		return "", nil
	}
	return g.redirect(r, repo, d)
}

// Download serves a blob of repo as the registry's blob GET does, without redirecting: what
// the link a redirect named serves (a dedicated data endpoint). The repository must still be
// readable and hold the blob. Ranges are honoured.
func (g *Registry) Download(w http.ResponseWriter, r *http.Request, repo string, d digest.Digest) {
	r = r.WithContext(context.WithValue(r.Context(), downloadKey{}, true))
	h := httpx.RegistryHandler(func(w http.ResponseWriter, r *http.Request) error {
		return g.getBlob(w, r, route{kind: routeBlob, name: repo, ref: d.String()})
	})
	httpx.ACRHeaders(h).ServeHTTP(w, r)
}
