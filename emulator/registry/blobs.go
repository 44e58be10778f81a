package registry

import (
	"net/http"
	"strconv"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/store/blobstore"
	"github.com/opencontainers/go-digest"
)

// parseDigest validates a digest from a path or query.
func parseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", errDigestInvalid.WithMessage("invalid digest").WithDetail(map[string]string{"Digest": s})
	}
	return d, nil
}

// getBlob serves GET and HEAD /v2/<name>/blobs/<digest>, with Range support on GET (206); a
// GET may be redirected instead (WithBlobRedirect).
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pulling-blobs
func (g *Registry) getBlob(w http.ResponseWriter, r *http.Request, rt route) error {
	d, err := parseDigest(rt.ref)
	if err != nil {
		return err
	}
	repo, err := g.st.GetRepository(g.name, rt.name)
	if err != nil {
		return err
	}
	if repo == nil {
		return errBlobUnknown.WithDetail(map[string]string{"Digest": d.String()})
	}
	if !repo.Attrs.ReadEnabled {
		return errDisallowed
	}
	link, err := g.st.GetBlobLink(g.name, rt.name, d)
	if err != nil {
		return err
	}
	if link == nil {
		return errBlobUnknown.WithDetail(map[string]string{"Digest": d.String()})
	}
	if loc, err := g.redirectTo(r, rt.name, d); err != nil || loc != "" {
		if err == nil {
			w.Header().Set("Docker-Content-Digest", d.String())
			http.Redirect(w, r, loc, http.StatusTemporaryRedirect)
		}
		return err
	}
	blob, held := g.st.Blobs().Open(d)
	if !held {
		return errBlobUnknown.WithDetail(map[string]string{"Digest": d.String()})
	}
	defer blob.Close()
	serveBlob(w, r, d, blob)
	return nil
}

// serveBlob answers for a blob the repository holds: the one place its bytes leave, so a
// redirect to a storage URL (as ACR answers) would go here.
func serveBlob(w http.ResponseWriter, r *http.Request, d digest.Digest, blob *blobstore.Blob) {
	h := w.Header()
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Type", "application/octet-stream")
	h.Set("ETag", `"`+d.String()+`"`)
	h.Set("Accept-Ranges", "bytes")
	if r.Method == http.MethodHead {
		// ACR answers a ranged HEAD like a plain one (200, full length, no Content-Range):
		// azcontainerregistry's BlobClient.CheckChunkExists accepts only 200.
		r.Header.Del("Range")
	}
	if r.Method == http.MethodGet && !conditional(r) {
		// The whole blob, as nearly every pull asks: its chunks (or its file) go to the
		// connection without the 32 KiB copy loop http.ServeContent would run.
		h.Set("Content-Length", strconv.FormatInt(blob.Size(), 10))
		w.WriteHeader(http.StatusOK)
		_, _ = blob.WriteTo(w)
		return
	}
	http.ServeContent(w, r, "", time.Time{}, blob)
}

// conditional reports a request http.ServeContent must judge: a range or a precondition.
func conditional(r *http.Request) bool {
	for _, k := range []string{"Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range"} {
		if r.Header.Get(k) != "" {
			return true
		}
	}
	return false
}

// deleteBlob serves DELETE /v2/<name>/blobs/<digest>: the repository stops serving the blob.
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#deleting-blobs
func (g *Registry) deleteBlob(w http.ResponseWriter, r *http.Request, rt route) error {
	d, err := parseDigest(rt.ref)
	if err != nil {
		return err
	}
	if err := g.st.DeleteBlob(g.name, rt.name, d); err != nil {
		return storeError(err, rt.name)
	}
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// blobLocation is where a stored blob can be fetched; relative, as ACR sends it.
func blobLocation(name string, d digest.Digest) string {
	return "/v2/" + name + "/blobs/" + d.String()
}
