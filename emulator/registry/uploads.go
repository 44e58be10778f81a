package registry

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/emulator/store/blobstore"
	"github.com/opencontainers/go-digest"
)

// startUpload serves POST /v2/<name>/blobs/uploads/: a cross-repository mount (?mount=&from=,
// 201, or a new session when the source lacks the blob), a monolithic upload (?digest=, 201) or
// a new session (202).
// https://github.com/opencontainers/distribution-spec/blob/v1.1.1/spec.md#pushing-blobs
func (g *Registry) startUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	q := r.URL.Query()
	if mount := q.Get("mount"); mount != "" {
		d, err := parseDigest(mount)
		if err != nil {
			return err
		}
		from := q.Get("from")
		if from == "" || validName(from) {
			link, err := g.st.MountBlob(g.name, from, rt.name, d)
			if err != nil {
				return storeError(err, rt.name)
			}
			if link != nil {
				return created(w, blobLocation(rt.name, d), d)
			}
		}
		// Source lacks the blob: fall back to a regular session, as the spec allows.
	}
	if dg := q.Get("digest"); dg != "" {
		return g.monolithicUpload(w, r, rt, dg)
	}
	u, err := g.st.CreateUpload(g.name, rt.name, g.maxUpload)
	if err != nil {
		return err
	}
	uploadHeaders(w, rt.name, u)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

func (g *Registry) monolithicUpload(w http.ResponseWriter, r *http.Request, rt route, dg string) error {
	d, err := parseDigest(dg)
	if err != nil {
		return err
	}
	buf, err := g.st.Blobs().NewUpload(g.maxUpload)
	if err != nil {
		return err
	}
	if _, err := buf.Append(r.Body, -1, r.ContentLength); err != nil {
		buf.Discard()
		return bodyError(err)
	}
	got, err := buf.Digest(d.Algorithm())
	if err != nil || got != d {
		buf.Discard()
		if err != nil {
			return err
		}
		return errDigestInvalid.WithDetail("digest parsing failed")
	}
	if err := g.st.PutUploadedBlob(g.name, rt.name, d, buf); err != nil {
		return storeError(err, rt.name)
	}
	return created(w, blobLocation(rt.name, d), d)
}

func (g *Registry) session(rt route) (*store.Upload, error) {
	u, err := g.st.GetUpload(g.name, rt.name, rt.ref)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return nil, errBlobUploadUnknown.WithDetail(map[string]string{"UUID": rt.ref})
	}
	return u, nil
}

// uploadStatus serves GET on a session: 204 with the current Range.
func (g *Registry) uploadStatus(w http.ResponseWriter, r *http.Request, rt route) error {
	u, err := g.session(rt)
	if err != nil {
		return err
	}
	uploadHeaders(w, rt.name, u)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// patchUpload serves PATCH on a session: append one chunk (streamed), 202.
func (g *Registry) patchUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	u, err := g.session(rt)
	if err != nil {
		return err
	}
	if err := appendChunk(w, r, rt, u); err != nil {
		return err
	}
	uploadHeaders(w, rt.name, u)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// putUpload serves PUT on a session: append an optional last chunk, verify ?digest=, store, 201.
func (g *Registry) putUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	u, err := g.session(rt)
	if err != nil {
		return err
	}
	d, err := parseDigest(r.URL.Query().Get("digest"))
	if err != nil {
		return err
	}
	if r.ContentLength != 0 {
		if err := appendChunk(w, r, rt, u); err != nil {
			return err
		}
	}
	got, err := u.Data.Digest(d.Algorithm())
	if err != nil {
		return err
	}
	if got != d {
		// Like distribution, a failed verification ends the session; the blob was never stored.
		_ = g.st.DeleteUpload(u.ID)
		return errDigestInvalid.WithDetail("digest parsing failed")
	}
	if err := g.st.CompleteUpload(u, d); err != nil {
		return storeError(err, rt.name)
	}
	return created(w, blobLocation(rt.name, d), d)
}

// cancelUpload serves DELETE on a session: 204.
func (g *Registry) cancelUpload(w http.ResponseWriter, r *http.Request, rt route) error {
	u, err := g.session(rt)
	if err != nil {
		return err
	}
	if err := g.st.DeleteUpload(u.ID); err != nil {
		return storeError(err, rt.name)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// appendChunk streams the request body onto the session. A Content-Range (with or without the
// "bytes=" prefix; the Azure SDK omits it) must start where the upload ends, else 416.
func appendChunk(w http.ResponseWriter, r *http.Request, rt route, u *store.Upload) error {
	offset := int64(-1)
	if cr := r.Header.Get("Content-Range"); cr != "" {
		start, end, ok := parseContentRange(cr)
		size := u.Data.Size()
		if !ok || start != size || (r.ContentLength >= 0 && end-start+1 != r.ContentLength) {
			uploadHeaders(w, rt.name, u)
			return errRangeInvalid
		}
		offset = start
	}
	if _, err := u.Data.Append(r.Body, offset, r.ContentLength); err != nil {
		var oe *blobstore.OffsetError
		if errors.As(err, &oe) {
			uploadHeaders(w, rt.name, u)
			return errRangeInvalid
		}
		return bodyError(err)
	}
	return nil
}

// bodyError maps a failure while reading a request body.
func bodyError(err error) error {
	switch {
	case errors.Is(err, blobstore.ErrTooLarge):
		return errSizeInvalid
	case errors.Is(err, blobstore.ErrPendingLimit):
		return errPendingLimit
	case errors.Is(err, blobstore.ErrUploadClosed):
		return errBlobUploadUnknown
	}
	return errBlobUploadInvalid.WithMessage("failed to read the request body: " + err.Error())
}

// parseContentRange accepts "start-end", "bytes=start-end" and "bytes start-end/total".
func parseContentRange(s string) (start, end int64, ok bool) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "bytes=")
	s = strings.TrimPrefix(s, "bytes ")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	return start, end, true
}

// uploadHeaders describes a session: its relative Location (no query, so it survives the Azure
// SDK's path joining and re-encoding), id and received range.
func uploadHeaders(w http.ResponseWriter, name string, u *store.Upload) {
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/blobs/uploads/"+u.ID)
	h.Set("Docker-Upload-UUID", u.ID)
	size := u.Data.Size()
	last := size - 1
	if last < 0 {
		last = 0
	}
	h.Set("Range", "0-"+strconv.FormatInt(last, 10))
	h.Set("Content-Length", "0")
}

// created answers 201 for stored content.
func created(w http.ResponseWriter, location string, d digest.Digest) error {
	h := w.Header()
	h.Set("Location", location)
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}
