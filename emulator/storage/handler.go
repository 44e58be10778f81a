package storage

import (
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
)

// serverHeader is what the Blob service names itself.
const serverHeader = "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0"

// ServeHTTP serves the Blob service REST API for blobs
// (https://learn.microsoft.com/rest/api/storageservices/operations-on-blobs).
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("x-ms-request-id", ids.NewGUID())
	h.Set("Server", serverHeader)
	if id := r.Header.Get("x-ms-client-request-id"); id != "" {
		h.Set("x-ms-client-request-id", id)
	}
	// The version a request is served with: its x-ms-version, else its SAS's (the service
	// treats a SAS request without the header as sent with sv).
	version := r.Header.Get("x-ms-version")
	if version == "" {
		version = r.URL.Query().Get("sv")
	}
	if version == "" {
		version = SignedVersion
	}
	h.Set("x-ms-version", version)
	if err := s.serve(w, r, version); err != nil {
		writeError(w, r, err)
	}
}

func (s *Store) serve(w http.ResponseWriter, r *http.Request, version string) *Error {
	ref, err := route(r)
	if err != nil {
		return err
	}
	if r.TLS == nil {
		return errRequiresHTTPS(ref.Account)
	}
	sas, err := s.authenticate(r, ref)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if q.Has("restype") {
		return errInvalidQuery("restype", q.Get("restype"), "Container and account operations are not emulated.")
	}
	comp := q.Get("comp")
	switch {
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && comp == "":
		return s.getBlob(w, r, ref, sas)
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && comp == "metadata":
		return s.getMetadata(w, r, ref, sas)
	case r.Method == http.MethodPut && comp == "":
		return s.putBlob(w, r, ref, sas)
	case r.Method == http.MethodPut && comp == "appendblock":
		return s.appendBlockHTTP(w, r, ref, sas, version)
	case r.Method == http.MethodPut && comp == "block":
		return s.putBlock(w, r, ref, sas)
	case r.Method == http.MethodPut && comp == "blocklist":
		return s.putBlockList(w, r, ref, sas)
	case r.Method == http.MethodPut && comp == "metadata":
		return s.setMetadata(w, r, ref, sas)
	case r.Method == http.MethodDelete && comp == "":
		return s.deleteBlob(w, r, ref, sas)
	case comp != "" && r.Method != http.MethodOptions:
		return errInvalidQuery("comp", comp, "This operation is not emulated.")
	}
	return errUnsupportedVerb()
}

// authenticate admits a request with a valid SAS. A request without one is anonymous, and
// finds nothing: the emulator's containers are private. Authorization headers are refused
// even beside a valid SAS, as Azure refuses a registry's Bearer token that a client forwarded
// along a redirect.
func (s *Store) authenticate(r *http.Request, ref Ref) (SAS, *Error) {
	if r.Header.Get("Authorization") != "" {
		return SAS{}, errInvalidAuthenticationInfo()
	}
	sas, ok := parseSAS(r.URL.Query())
	if !ok {
		return SAS{}, errResourceNotFound()
	}
	key := s.accountKey(ref.Account)
	if key == nil {
		return SAS{}, errResourceNotFound()
	}
	return sas, sas.authenticate(key, ref, s.now(), r.TLS != nil)
}

// getBlob serves Get Blob and, for HEAD, Get Blob Properties: ranges (x-ms-range, else Range)
// answer 206 with Content-Range, or 416 InvalidRange at or past the end (an empty blob has no
// valid range, as in Azure).
func (s *Store) getBlob(w http.ResponseWriter, r *http.Request, ref Ref, sas SAS) *Error {
	if !permits(sas.Permissions, opRead, true) {
		return errPermissionMismatch()
	}
	b, err := s.get(ref)
	if err != nil {
		return err
	}
	defer b.close()
	if done, err := readPreconditions(w, r, b); done || err != nil {
		return err
	}
	h := w.Header()
	writeProps(h, b)
	size := b.size()
	start, end, ranged, err := requestedRange(r, size)
	if err != nil {
		return err
	}
	if r.Method == http.MethodHead {
		ranged = false // Get Blob Properties describes the whole blob
	}
	n, status := size, http.StatusOK
	if ranged {
		n, status = end-start+1, http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
		if b.ContentMD5 != nil {
			h.Del("Content-MD5")
			h.Set("x-ms-blob-content-md5", base64.StdEncoding.EncodeToString(b.ContentMD5))
		}
	}
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_ = writeBody(w, b, start, n)
	}
	return nil
}

// writeBody writes n bytes of the blob from start. Mounted content streams: to its end with
// its own WriteTo when it has one (a registry blob's memory chunks, or its file by sendfile),
// else through a bounded copy.
func writeBody(w io.Writer, b *Blob, start, n int64) error {
	if b.content == nil {
		_, err := w.Write(b.Data[start : start+n])
		return err
	}
	if _, err := b.content.Seek(start, io.SeekStart); err != nil {
		return err
	}
	if wt, ok := b.content.(io.WriterTo); ok && start+n == b.size() {
		_, err := wt.WriteTo(w)
		return err
	}
	_, err := io.Copy(w, io.LimitReader(b.content, n))
	return err
}

// requestedRange reads x-ms-range (which wins) or Range: bytes=start-[end]. A malformed Range is
// ignored, as HTTP says; a malformed x-ms-range is an error.
func requestedRange(r *http.Request, size int64) (start, end int64, ranged bool, err *Error) {
	name, v := "x-ms-range", r.Header.Get("x-ms-range")
	if v == "" {
		name, v = "Range", r.Header.Get("Range")
	}
	if v == "" {
		return 0, 0, false, nil
	}
	start, end, ok := parseRange(v)
	switch {
	case !ok && name == "x-ms-range":
		return 0, 0, false, errInvalidHeader(name, v)
	case !ok:
		return 0, 0, false, nil
	case start >= size:
		return 0, 0, false, errInvalidRange(size)
	case end < 0 || end >= size:
		end = size - 1
	}
	return start, end, true, nil
}

// parseRange reads bytes=start-end or bytes=start- (end -1).
func parseRange(v string) (start, end int64, ok bool) {
	spec, found := strings.CutPrefix(v, "bytes=")
	a, b, dash := strings.Cut(spec, "-")
	if !found || !dash {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	end = -1
	if b != "" {
		if end, err = strconv.ParseInt(b, 10, 64); err != nil || end < start {
			return 0, 0, false
		}
	}
	return start, end, true
}

func (s *Store) getMetadata(w http.ResponseWriter, r *http.Request, ref Ref, sas SAS) *Error {
	if !permits(sas.Permissions, opRead, true) {
		return errPermissionMismatch()
	}
	b, err := s.get(ref)
	if err != nil {
		return err
	}
	b.close()
	h := w.Header()
	h.Set("ETag", b.ETag)
	h.Set("Last-Modified", b.Modified.Format(http.TimeFormat))
	writeMetadata(h, b.Metadata)
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

// writeProps writes the headers of Get Blob Properties
// (https://learn.microsoft.com/rest/api/storageservices/get-blob-properties).
func writeProps(h http.Header, b *Blob) {
	h.Set("Last-Modified", b.Modified.Format(http.TimeFormat))
	h.Set("x-ms-creation-time", b.Created.Format(http.TimeFormat))
	h.Set("ETag", b.ETag)
	h.Set("Content-Type", b.ContentType)
	if b.ContentMD5 != nil {
		h.Set("Content-MD5", base64.StdEncoding.EncodeToString(b.ContentMD5))
	}
	h.Set("Accept-Ranges", "bytes")
	h.Set("x-ms-blob-type", string(b.Type))
	if b.Type == AppendBlob {
		h.Set("x-ms-blob-committed-block-count", strconv.Itoa(b.Blocks))
	} else {
		h.Set("x-ms-access-tier", "Hot")
		h.Set("x-ms-access-tier-inferred", "true")
	}
	h.Set("x-ms-lease-status", "unlocked")
	h.Set("x-ms-lease-state", "available")
	h.Set("x-ms-server-encrypted", "true")
	writeMetadata(h, b.Metadata)
}

// writeMetadata writes x-ms-meta-<name> with the name as it was set (az reads
// x-ms-meta-Complete), bypassing Go's header canonicalisation.
func writeMetadata(h http.Header, meta map[string]string) {
	for k, v := range meta {
		h["x-ms-meta-"+k] = []string{v}
	}
}

// readPreconditions applies If-Match and If-None-Match to a read; done means a 304 was written.
func readPreconditions(w http.ResponseWriter, r *http.Request, b *Blob) (done bool, err *Error) {
	if m := r.Header.Get("If-Match"); m != "" && m != "*" && m != b.ETag {
		return false, errConditionNotMet()
	}
	if m := r.Header.Get("If-None-Match"); m != "" && (m == "*" || m == b.ETag) {
		w.Header().Set("ETag", b.ETag)
		w.WriteHeader(http.StatusNotModified)
		return true, nil
	}
	return false, nil
}

// writePreconditions applies If-Match and If-None-Match to a write (If-None-Match: * is how
// SDKs upload without overwriting).
func writePreconditions(r *http.Request, b *Blob) *Error {
	if m := r.Header.Get("If-None-Match"); m != "" && b != nil && (m == "*" || m == b.ETag) {
		if m == "*" {
			return errBlobExists()
		}
		return errConditionNotMet()
	}
	if m := r.Header.Get("If-Match"); m != "" && (b == nil || m != "*" && m != b.ETag) {
		return errConditionNotMet()
	}
	return nil
}

// creating is the prelude of a write that may create its blob (Put Blob, Put Block List):
// the permission, which depends on whether the blob is there (nil when not), and the
// request's conditions.
func (s *Store) creating(r *http.Request, ref Ref, sas SAS) (*Blob, *Error) {
	b, err := s.get(ref)
	if err != nil && err.Code != "BlobNotFound" {
		return nil, err
	}
	if b != nil {
		b.close() // its properties are what matter (a mount's writes are refused anyway)
	}
	if !permits(sas.Permissions, opWrite, b != nil) {
		return nil, errPermissionMismatch()
	}
	return b, writePreconditions(r, b)
}

// changing is the prelude of an operation on a blob that must be there: the permission, the
// blob, the request's conditions.
func (s *Store) changing(r *http.Request, ref Ref, sas SAS, op operation) (*Blob, *Error) {
	if !permits(sas.Permissions, op, true) {
		return nil, errPermissionMismatch()
	}
	b, err := s.get(ref)
	if err != nil {
		return nil, err
	}
	b.close()
	return b, writePreconditions(r, b)
}

// readBody reads a request body of its declared length, at most limit bytes, and checks a
// Content-MD5 the client sent. Room is reserved in the store while the body is read, so
// concurrent uploads cannot together hold more than the bound; the write then checks the
// bound again.
func (s *Store) readBody(r *http.Request, limit int64) ([]byte, *Error) {
	if r.ContentLength < 0 {
		return nil, errMissingContentLength()
	}
	if r.ContentLength > limit {
		return nil, errBodyTooLarge(limit)
	}
	release, err := s.reserve(r.ContentLength)
	if err != nil {
		return nil, err
	}
	defer release()
	data := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, data); err != nil {
		return nil, errInvalidInput()
	}
	if want := r.Header.Get("Content-MD5"); want != "" {
		sum := md5.Sum(data)
		if got := base64.StdEncoding.EncodeToString(sum[:]); got != want {
			return nil, errMD5Mismatch(want, got)
		}
	}
	return data, nil
}

// props reads what a write sets besides the content: x-ms-blob-content-type (else
// Content-Type) and the x-ms-meta-<name> headers.
func props(r *http.Request) Props {
	p := Props{ContentType: r.Header.Get("x-ms-blob-content-type"), Metadata: map[string]string{}}
	if p.ContentType == "" {
		p.ContentType = r.Header.Get("Content-Type")
	}
	if v := r.Header.Get("x-ms-blob-content-md5"); v != "" {
		p.ContentMD5, _ = base64.StdEncoding.DecodeString(v)
	}
	for k, v := range r.Header {
		if len(k) > len("x-ms-meta-") && strings.EqualFold(k[:len("x-ms-meta-")], "x-ms-meta-") && len(v) > 0 {
			p.Metadata[k[len("x-ms-meta-"):]] = v[0]
		}
	}
	return p
}

// putBlob serves Put Blob: a whole block blob, or a new empty append blob
// (https://learn.microsoft.com/rest/api/storageservices/put-blob).
func (s *Store) putBlob(w http.ResponseWriter, r *http.Request, ref Ref, sas SAS) *Error {
	typ := r.Header.Get("x-ms-blob-type")
	switch {
	case typ == "":
		return errMissingHeader("x-ms-blob-type")
	case !strings.EqualFold(typ, string(BlockBlob)) && !strings.EqualFold(typ, string(AppendBlob)):
		return errInvalidHeader("x-ms-blob-type", typ) // page blobs are not emulated
	}
	if _, err := s.creating(r, ref, sas); err != nil {
		return err
	}
	p := props(r)
	h := w.Header()
	if strings.EqualFold(typ, string(AppendBlob)) {
		if r.ContentLength > 0 {
			return errInvalidHeader("Content-Length", strconv.FormatInt(r.ContentLength, 10))
		}
		if err := s.createAppendBlob(ref, p); err != nil {
			return err
		}
	} else {
		data, err := s.readBody(r, s.maxBlob)
		if err != nil {
			return err
		}
		if err := s.putBlockBlob(ref, data, p); err != nil {
			return err
		}
		sum := md5.Sum(data)
		h.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	}
	return s.written(w, ref, http.StatusCreated)
}

// written answers a write with the blob's new ETag and Last-Modified.
func (s *Store) written(w http.ResponseWriter, ref Ref, status int) *Error {
	b, err := s.get(ref)
	if err != nil {
		return err
	}
	b.close()
	h := w.Header()
	h.Set("ETag", b.ETag)
	h.Set("Last-Modified", b.Modified.Format(http.TimeFormat))
	h.Set("x-ms-request-server-encrypted", "true")
	h.Set("Content-Length", "0")
	w.WriteHeader(status)
	return nil
}

// appendBlockHTTP serves Append Block, with the append-position and max-size conditions
// (https://learn.microsoft.com/rest/api/storageservices/append-block).
func (s *Store) appendBlockHTTP(w http.ResponseWriter, r *http.Request, ref Ref, sas SAS, version string) *Error {
	old, err := s.changing(r, ref, sas, opAppend)
	if err != nil {
		return err
	}
	if old.Type != AppendBlob {
		return errInvalidBlobType()
	}
	if r.ContentLength == 0 {
		return errInvalidHeader("Content-Length", "0")
	}
	limit := int64(4 << 20) // a block's limit before service version 2022-11-02, then 100 MiB
	if version >= "2022-11-02" {
		limit = 100 << 20
	}
	pos := int64(-1)
	if v := r.Header.Get("x-ms-blob-condition-appendpos"); v != "" {
		var perr error
		if pos, perr = strconv.ParseInt(v, 10, 64); perr != nil || pos < 0 {
			return errInvalidHeader("x-ms-blob-condition-appendpos", v)
		}
	}
	if v := r.Header.Get("x-ms-blob-condition-maxsize"); v != "" {
		max, perr := strconv.ParseInt(v, 10, 64)
		if perr != nil || max < 0 {
			return errInvalidHeader("x-ms-blob-condition-maxsize", v)
		}
		if int64(len(old.Data))+r.ContentLength > max {
			return newError(http.StatusPreconditionFailed, "MaxBlobSizeConditionNotMet", "The max blob size condition specified was not met.")
		}
	}
	data, err := s.readBody(r, limit)
	if err != nil {
		return err
	}
	off, err := s.appendBlock(ref, data, pos)
	if err != nil {
		return err
	}
	sum := md5.Sum(data)
	h := w.Header()
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	h.Set("x-ms-blob-append-offset", strconv.FormatInt(off, 10))
	if b, gerr := s.get(ref); gerr == nil {
		b.close()
		h.Set("x-ms-blob-committed-block-count", strconv.Itoa(b.Blocks))
	}
	return s.written(w, ref, http.StatusCreated)
}

func (s *Store) putBlock(w http.ResponseWriter, r *http.Request, ref Ref, sas SAS) *Error {
	id := r.URL.Query().Get("blockid")
	if !validBlockID(id) {
		return errInvalidQuery("blockid", id, "")
	}
	if _, err := s.creating(r, ref, sas); err != nil {
		return err
	}
	data, err := s.readBody(r, s.maxBlob)
	if err != nil {
		return err
	}
	if err := s.stageBlock(ref, id, data); err != nil {
		return err
	}
	sum := md5.Sum(data)
	h := w.Header()
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	h.Set("x-ms-request-server-encrypted", "true")
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (s *Store) putBlockList(w http.ResponseWriter, r *http.Request, ref Ref, sas SAS) *Error {
	if _, err := s.creating(r, ref, sas); err != nil {
		return err
	}
	entries, err := parseBlockList(r.Body)
	if err != nil {
		return err
	}
	if err := s.commitBlocks(ref, entries, props(r)); err != nil {
		return err
	}
	return s.written(w, ref, http.StatusCreated)
}

func (s *Store) setMetadata(w http.ResponseWriter, r *http.Request, ref Ref, sas SAS) *Error {
	if _, err := s.changing(r, ref, sas, opMetadata); err != nil {
		return err
	}
	if err := s.putMetadata(ref, props(r).Metadata); err != nil {
		return err
	}
	return s.written(w, ref, http.StatusOK)
}

func (s *Store) deleteBlob(w http.ResponseWriter, r *http.Request, ref Ref, sas SAS) *Error {
	if _, err := s.changing(r, ref, sas, opDelete); err != nil {
		return err
	}
	if err := s.remove(ref); err != nil {
		return err
	}
	w.Header().Set("x-ms-delete-type-permanent", "true")
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}
