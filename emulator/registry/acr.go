package registry

import "net/http"

// serveACR serves ACR's metadata API under /acr/v1/.
func (g *Registry) serveACR(w http.ResponseWriter, r *http.Request, escaped string) error {
	http.NotFound(w, r)
	return nil
}
