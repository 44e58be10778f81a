package tasks

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"testing/fstest"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/storage"
	"github.com/acr-emulator/acr-emulator/fakes/archive"
	"github.com/acr-emulator/acr-emulator/fakes/armio"
	"github.com/go-chi/chi/v5"
)

// ACR Tasks keeps run logs and uploaded build sources in Azure Storage and hands out SAS links
// to them: one container per registry in the storage account LogAccount, named as ACR names
// them (<32 hex digits>-<10 random characters>), holding logs/<runId>/rawtext.log (an append
// blob the run writes as it goes, with its outcome in the Complete metadata at the end) and
// source/<yyyyMMddHHmm>/<guid>.tar.gz (a block blob az uploads). The links are signed: a run's
// log cannot be read by guessing its name.
const (
	// maxSource bounds an uploaded build context (compressed, and each of its files).
	maxSource = 128 << 20
	// maxContext bounds a build context's files once extracted.
	maxContext = 256 << 20
	// maxSources is how many upload links are kept (the oldest uploads go first).
	maxSources = 32
	// linkTTL is how long a log or upload link is valid (UNCONFIRMED: ACR's links carry an se
	// of the same order).
	linkTTL = time.Hour
)

// container is a registry's container in the storage account, created on first use.
func (s *Service) container(registryID string) (string, error) {
	key := strings.ToLower(registryID)
	s.mu.Lock()
	name := s.containers[key]
	if name == "" {
		sum := sha256.Sum256([]byte(key))
		name = hex.EncodeToString(sum[:16]) + "-" + randomSuffix()
		s.containers[key] = name
	}
	s.mu.Unlock()
	return name, s.blobs.EnsureContainer(LogAccount, name)
}

func randomSuffix() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// logRef is where a run's log is kept.
func (s *Service) logRef(registryID, runID string) (storage.Ref, error) {
	c, err := s.container(registryID)
	return storage.Ref{Account: LogAccount, Container: c, Blob: "logs/" + runID + "/rawtext.log"}, err
}

// logLink answers listLogSasUrl: a read-only link to the run's log, on the host the caller
// used (see storage.AccountURL), in the shape az acr task logs parses.
func (s *Service) logLink(w http.ResponseWriter, r *http.Request) {
	regID, runID := registryID(r), chi.URLParam(r, "run")
	if s.findRun(regID, runID) == nil {
		armio.Error(w, http.StatusNotFound, "RunNotFound", "The run '"+runID+"' was not found.")
		return
	}
	ref, err := s.logRef(regID, runID)
	if err == nil {
		var link string
		if link, err = s.blobs.SignedURL(s.AccountURL(r), ref, storage.PermRead, linkTTL); err == nil {
			armio.WriteJSON(w, http.StatusOK, map[string]string{"logLink": link})
			return
		}
	}
	armio.Error(w, http.StatusInternalServerError, "InternalServerError", err.Error())
}

// sourceUploadURL answers listBuildSourceUploadUrl: where az acr build uploads its context, a
// link that creates that one blob (create only: once uploaded, a context cannot be swapped
// under a run; UNCONFIRMED which permissions ACR signs).
func (s *Service) sourceUploadURL(w http.ResponseWriter, r *http.Request) {
	c, err := s.container(registryID(r))
	if err != nil {
		armio.Error(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	rel := "source/" + time.Now().UTC().Format("200601021504") + "/" + hex.EncodeToString(id) + ".tar.gz"
	ref := storage.Ref{Account: LogAccount, Container: c, Blob: rel}
	link, err := s.blobs.SignedURL(s.AccountURL(r), ref, storage.PermCreate, linkTTL)
	if err != nil {
		armio.Error(w, http.StatusInternalServerError, "InternalServerError", err.Error())
		return
	}
	s.mu.Lock()
	s.sources = append(s.sources, ref)
	var drop []storage.Ref
	if len(s.sources) > maxSources {
		drop, s.sources = s.sources[:len(s.sources)-maxSources], s.sources[len(s.sources)-maxSources:]
	}
	s.mu.Unlock()
	for _, old := range drop {
		_ = s.blobs.Delete(old) // an upload that never came is not there
	}
	armio.WriteJSON(w, http.StatusOK, map[string]string{"uploadUrl": link, "relativePath": rel})
}

// sourceFS extracts an uploaded source (a tar.gz, as az packs it) into a file system.
func (s *Service) sourceFS(registryID, rel string) (fstest.MapFS, error) {
	if strings.Contains(rel, "://") {
		return nil, fmt.Errorf("the source location %s is not emulated: upload the context (az acr build, az acr run with a directory)", rel)
	}
	c, err := s.container(registryID)
	if err != nil {
		return nil, err
	}
	b, err := s.blobs.Get(storage.Ref{Account: LogAccount, Container: c, Blob: rel})
	if storage.IsNotFound(err) {
		return nil, fmt.Errorf("the source location %s was not uploaded", rel)
	}
	if err != nil {
		return nil, err
	}
	if len(b.Data) > maxSource {
		return nil, fmt.Errorf("the uploaded source is over %d bytes", maxSource)
	}
	return extract(b.Data, maxContext, maxContext+maxContext/8)
}

// extract unpacks a tar.gz into a file system: its regular files, at most maxFiles bytes of
// them, decompressing at most maxWork bytes in all.
func extract(data []byte, maxFiles, maxWork int64) (fstest.MapFS, error) {
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("the source is not a tar.gz: %v", err)
	}
	out := fstest.MapFS{}
	total := int64(0)
	// Every byte decompressed counts, those of the entries skipped too: a small gzip can
	// expand a thousandfold.
	tr := tar.NewReader(archive.Limit(zr, maxWork, "the uploaded source"))
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
		if total += h.Size; total > maxFiles {
			return nil, fmt.Errorf("the build context is over %d bytes", maxFiles)
		}
		b, err := io.ReadAll(io.LimitReader(tr, h.Size))
		if err != nil {
			return nil, err
		}
		out[name] = &fstest.MapFile{Data: b, Mode: h.FileInfo().Mode().Perm()}
	}
}

// runLog is a run's log as the run writes it: each write is a block appended to the log blob,
// which the storage serves meanwhile, so az acr task run shows the steps as they go. Lines end
// in CRLF, as the agent's do: az prints the log up to each \r\n it reads.
type runLog struct {
	blobs *storage.Store
	ref   storage.Ref
}

func (l *runLog) Write(p []byte) (int, error) {
	if err := l.blobs.AppendBlock(l.ref, bytes.ReplaceAll(p, []byte("\n"), []byte("\r\n"))); err != nil {
		return 0, err
	}
	return len(p), nil
}

// newRunLog creates a run's log blob, empty and without the Complete metadata: log readers wait
// for more until it is there.
func (s *Service) newRunLog(registryID, runID string) (*runLog, error) {
	ref, err := s.logRef(registryID, runID)
	if err != nil {
		return nil, err
	}
	if err := s.blobs.CreateAppendBlob(ref, storage.Props{ContentType: "text/plain; charset=utf-8"}); err != nil {
		return nil, err
	}
	return &runLog{blobs: s.blobs, ref: ref}, nil
}

// complete records a run's outcome on its log as the Complete metadata, which az acr task run
// turns into its exit status.
func (l *runLog) complete(status string) {
	outcome := "failed"
	switch status {
	case "Succeeded":
		outcome = "successful"
	case "Canceled":
		outcome = "canceled" // az: "Run was canceled"
	}
	_ = l.blobs.SetMetadata(l.ref, map[string]string{"Complete": outcome})
}
