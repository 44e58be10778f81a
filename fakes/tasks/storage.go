package tasks

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strconv"
	"strings"
	"testing/fstest"
	"time"

	"github.com/acr-emulator/acr-emulator/fakes/armio"
	"github.com/go-chi/chi/v5"
)

// ACR Tasks keeps run logs and uploaded build sources in Azure Storage and hands out SAS links
// to them. The emulator serves both from one fake storage account, LogAccount.blob.<host>.
const (
	// maxSource bounds an uploaded build context (compressed, and each of its files).
	maxSource = 128 << 20
	// maxContext bounds a build context's files once extracted.
	maxContext = 256 << 20
	// maxSources is how many uploaded sources are kept (the oldest go first).
	maxSources = 32
	sasQuery   = "?sv=2019-07-07&sr=b&sp=racwd&sig=acr-emulator"
)

func (s *Service) storageURL(p string) string { return "https://" + s.LogHost() + "/" + p + sasQuery }

func (s *Service) logLink(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.logAndStatus(registryID(r), chi.URLParam(r, "run")); !ok {
		armio.Error(w, http.StatusNotFound, "RunNotFound", "The run '"+chi.URLParam(r, "run")+"' was not found.")
		return
	}
	// The shape az acr task logs parses: https://<account>.blob.<suffix>/<container>/<blob>?<sas>.
	armio.WriteJSON(w, http.StatusOK, map[string]string{"logLink": s.storageURL("logs/" + chi.URLParam(r, "sub") + "/" + chi.URLParam(r, "rg") + "/" +
		chi.URLParam(r, "reg") + "/" + chi.URLParam(r, "run") + "/rawtext.log")})
}

// sourceUploadURL answers listBuildSourceUploadUrl: where az acr build uploads its context.
func (s *Service) sourceUploadURL(w http.ResponseWriter, r *http.Request) {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	rel := "source/" + time.Now().UTC().Format("20060102") + "/" + fmt.Sprintf("%x", b) + ".tar.gz"
	s.mu.Lock()
	s.sources[rel] = nil // issued, not uploaded yet
	s.sourceOrder = append(s.sourceOrder, rel)
	if len(s.sourceOrder) > maxSources {
		delete(s.sources, s.sourceOrder[0])
		s.sourceOrder = s.sourceOrder[1:]
	}
	s.mu.Unlock()
	armio.WriteJSON(w, http.StatusOK, map[string]string{"uploadUrl": s.storageURL(rel), "relativePath": rel})
}

// Storage serves the fake storage account, as far as ACR Tasks clients go: run logs as the
// append blobs the agent writes (HEAD with the Complete metadata, which az acr task run turns
// into its exit status; GET with x-ms-range or Range), and PUT of the block blob an uploaded
// build source is.
func (s *Service) Storage() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("x-ms-version", "2019-07-07")
		p := strings.TrimPrefix(r.URL.Path, "/")
		if strings.HasPrefix(p, "source/") && r.Method == http.MethodPut {
			s.putSource(w, r, p)
			return
		}
		parts := strings.Split(p, "/")
		var log, status string
		var ok bool
		if len(parts) == 6 && parts[0] == "logs" && parts[5] == "rawtext.log" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			regID := "/subscriptions/" + parts[1] + "/resourceGroups/" + parts[2] + "/providers/Microsoft.ContainerRegistry/registries/" + parts[3]
			log, status, ok = s.logAndStatus(regID, parts[4])
		}
		if !ok {
			storageError(w, r, http.StatusNotFound, "BlobNotFound", "The specified blob does not exist.")
			return
		}
		w.Header().Set("x-ms-blob-type", "AppendBlob")
		if status != "" {
			w.Header().Set("x-ms-meta-Complete", status)
		}
		w.Header().Set("ETag", fmt.Sprintf(`"0x%X"`, len(log)))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		rng := r.Header.Get("x-ms-range")
		if rng == "" {
			rng = r.Header.Get("Range")
		}
		start, end, ranged := parseRange(rng, len(log))
		if ranged && start >= len(log) {
			w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", len(log)))
			storageError(w, r, http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The range specified is invalid for the current size of the resource.")
			return
		}
		body, code := log, http.StatusOK
		if ranged {
			body, code = log[start:end+1], http.StatusPartialContent
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, len(log)))
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(code)
		if r.Method == http.MethodGet {
			_, _ = io.WriteString(w, body)
		}
	})
}

func storageError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	w.Header().Set("x-ms-error-code", code)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, msg)
	}
}

// putSource stores an uploaded build source, once, at a name listBuildSourceUploadUrl issued.
func (s *Service) putSource(w http.ResponseWriter, r *http.Request, rel string) {
	s.mu.Lock()
	data, issued := s.sources[rel]
	s.mu.Unlock()
	if !issued || data != nil {
		storageError(w, r, http.StatusForbidden, "AuthorizationFailure", "This request is not authorized to perform this operation.")
		return
	}
	if !strings.EqualFold(r.Header.Get("x-ms-blob-type"), "BlockBlob") {
		storageError(w, r, http.StatusBadRequest, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified.")
		return
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxSource+1))
	if err != nil {
		storageError(w, r, http.StatusBadRequest, "InvalidInput", err.Error())
		return
	}
	if len(b) > maxSource {
		storageError(w, r, http.StatusRequestEntityTooLarge, "RequestBodyTooLarge", fmt.Sprintf("The request body is too large and exceeds the maximum permissible limit of %d bytes in the emulator.", maxSource))
		return
	}
	s.mu.Lock()
	if _, still := s.sources[rel]; still {
		s.sources[rel] = b
	}
	s.mu.Unlock()
	sum := md5.Sum(b)
	w.Header().Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	w.Header().Set("ETag", fmt.Sprintf(`"0x%X"`, sum[:8]))
	w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
	w.Header().Set("x-ms-request-server-encrypted", "true")
	w.WriteHeader(http.StatusCreated)
}

// sourceFS extracts an uploaded source (a tar.gz, as az packs it) into a file system.
func (s *Service) sourceFS(rel string) (fstest.MapFS, error) {
	s.mu.Lock()
	data := s.sources[rel]
	s.mu.Unlock()
	if data == nil {
		if strings.Contains(rel, "://") {
			return nil, fmt.Errorf("the source location %s is not emulated: upload the context (az acr build, az acr run with a directory)", rel)
		}
		return nil, fmt.Errorf("the source location %s was not uploaded", rel)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("the source is not a tar.gz: %v", err)
	}
	out := fstest.MapFS{}
	total := int64(0)
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("the source archive: %v", err)
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "/"))
		if h.Typeflag != tar.TypeReg || name == "." || name == ".." || strings.HasPrefix(name, "../") {
			continue
		}
		if total += h.Size; total > maxContext {
			return nil, fmt.Errorf("the build context is over %d bytes", maxContext)
		}
		b, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err != nil {
			return nil, err
		}
		out[name] = &fstest.MapFile{Data: b, Mode: h.FileInfo().Mode().Perm()}
	}
}

// parseRange reads "bytes=start-end" (end optional, clamped to the blob).
func parseRange(h string, size int) (start, end int, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	if !found {
		return 0, 0, false
	}
	a, b, _ := strings.Cut(spec, "-")
	start, err := strconv.Atoi(a)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	end = size - 1
	if e, err := strconv.Atoi(b); err == nil && e < end {
		end = e
	}
	return start, end, true
}

// logAndStatus returns a run's log and its outcome as the Complete metadata names it ("" while
// the run goes on).
func (s *Service) logAndStatus(registryID, runID string) (string, string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rn := range s.runs[strings.ToLower(registryID)] {
		if strings.EqualFold(rn.res["name"].(string), runID) {
			status := "" // no Complete metadata while the run goes on: log readers wait for more
			if rn.done {
				switch rn.res["properties"].(map[string]any)["status"] {
				case "Succeeded":
					status = "successful"
				case "Canceled":
					status = "canceled" // az: "Run was canceled"
				default:
					status = "failed"
				}
			}
			return rn.log.String(), status, true
		}
	}
	return "", "", false
}
