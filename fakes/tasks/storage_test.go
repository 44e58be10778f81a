package tasks

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/storage"
)

const testRegistry = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.ContainerRegistry/registries/reg"

// armPost calls one of the service's POST actions as a client of localhost:8443 would.
func armPost(t *testing.T, s *Service, action string) (int, map[string]string) {
	t.Helper()
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodPost, "https://localhost:8443"+testRegistry+action, nil))
	var out map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

// blobCall sends a request to the storage, as a client following a link does.
func blobCall(blobs *storage.Store, method, link string, body []byte, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, link, bytes.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	blobs.ServeHTTP(w, r)
	return w
}

// logLinkOf returns a run's listLogSasUrl link.
func logLinkOf(t *testing.T, s *Service, runID string) string {
	t.Helper()
	code, out := armPost(t, s, "/runs/"+runID+"/listLogSasUrl")
	if code != http.StatusOK {
		t.Fatalf("listLogSasUrl: %d %v", code, out)
	}
	return out["logLink"]
}

// A run's log blob is readable through its link while the run goes on, without the Complete
// metadata that tells az acr task run to stop reading; it gets it, with the outcome, when the
// run ends. The link reads that log only.
func TestLogBlobWhileRunning(t *testing.T) {
	blobs := storage.New()
	s := New(nil, nil, nil, blobs)
	log, err := s.newRunLog(testRegistry, "ca1")
	if err != nil {
		t.Fatal(err)
	}
	s.runs[strings.ToLower(testRegistry)] = []*run{{res: map[string]any{"name": "ca1"}, log: log}}
	_, _ = io.WriteString(log, "step 1\n")

	link := logLinkOf(t, s, "ca1")
	// The shape az acr task logs parses (account.blob.suffix/container/blob?sas), on the host the
	// caller used, with a per-registry container named as ACR names them.
	shape := regexp.MustCompile(`^https://localhost:8443/acrtasklogs\.blob\.core\.windows\.net/[0-9a-f]{32}-[a-z0-9]{10}/logs/ca1/rawtext\.log\?sv=2023-01-03&se=[^&]+&sr=b&sp=r&sig=[^&]+$`)
	if !shape.MatchString(link) {
		t.Fatalf("logLink = %s", link)
	}
	head := func(wantLen int, wantComplete string) {
		t.Helper()
		w := blobCall(blobs, http.MethodHead, link, nil)
		if w.Code != http.StatusOK || w.Header().Get("Content-Length") != strconv.Itoa(wantLen) || w.Header().Get("x-ms-blob-type") != "AppendBlob" {
			t.Fatalf("HEAD: %d, length %q, want %d", w.Code, w.Header().Get("Content-Length"), wantLen)
		}
		got, set := w.Header()["x-ms-meta-Complete"]
		if wantComplete == "" && set || wantComplete != "" && (len(got) != 1 || got[0] != wantComplete) {
			t.Fatalf("Complete metadata %q, want %q", got, wantComplete)
		}
	}
	head(len("step 1\r\n"), "")
	_, _ = io.WriteString(log, "step 2\n")
	head(len("step 1\r\nstep 2\r\n"), "")
	// A reader resumes where it stopped; lines end in CRLF, as az's reader needs.
	if w := blobCall(blobs, http.MethodGet, link, nil, "x-ms-range", "bytes=8-100"); w.Code != http.StatusPartialContent || w.Body.String() != "step 2\r\n" {
		t.Fatalf("ranged GET: %d %q", w.Code, w.Body.String())
	}
	// Nothing new yet past the end.
	if w := blobCall(blobs, http.MethodGet, link, nil, "x-ms-range", "bytes=16-100"); w.Code != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("GET past the end: %d %q", w.Code, w.Body.String())
	}
	log.complete("Failed")
	head(len("step 1\r\nstep 2\r\n"), "failed")

	// Another run's log with this link's signature (issue 12: guessed log URLs) is refused.
	if w := blobCall(blobs, http.MethodGet, strings.Replace(link, "/ca1/", "/ca2/", 1), nil); w.Code != http.StatusForbidden ||
		w.Header().Get("x-ms-error-code") != "AuthenticationFailed" {
		t.Fatalf("a guessed log: %d %s", w.Code, w.Body)
	}
	if w := blobCall(blobs, http.MethodGet, link[:strings.Index(link, "?")], nil); w.Code != http.StatusNotFound {
		t.Fatalf("the log without its SAS: %d %s", w.Code, w.Body)
	}
	if code, out := armPost(t, s, "/runs/ca9/listLogSasUrl"); code != http.StatusNotFound {
		t.Fatalf("listLogSasUrl of an unknown run: %d %v", code, out)
	}
}

// listBuildSourceUploadUrl hands out a link that creates that one blob, once, which a run then
// reads as its context.
func TestSourceUpload(t *testing.T) {
	blobs := storage.New()
	s := New(nil, nil, nil, blobs)
	upload := func() (string, string) {
		t.Helper()
		code, out := armPost(t, s, "/listBuildSourceUploadUrl")
		if code != http.StatusOK || !strings.HasPrefix(out["relativePath"], "source/") || !strings.Contains(out["uploadUrl"], "/"+out["relativePath"]+"?") ||
			!strings.Contains(out["uploadUrl"], "&sp=c&") {
			t.Fatalf("listBuildSourceUploadUrl: %d %v", code, out)
		}
		return out["uploadUrl"], out["relativePath"]
	}
	link, rel := upload()
	tgz := tarGz(t, map[string]string{"Dockerfile": "FROM scratch\n"})
	if w := blobCall(blobs, http.MethodPut, link, tgz, "x-ms-blob-type", "BlockBlob"); w.Code != http.StatusCreated {
		t.Fatalf("upload: %d %s", w.Code, w.Body)
	}
	fsys, err := s.sourceFS(testRegistry, rel)
	if err != nil || string(fsys["Dockerfile"].Data) != "FROM scratch\n" {
		t.Fatalf("the uploaded context: %v %v", fsys, err)
	}
	// The link creates; it does not overwrite, read, nor write another blob.
	if w := blobCall(blobs, http.MethodPut, link, []byte("x"), "x-ms-blob-type", "BlockBlob"); w.Code != http.StatusForbidden {
		t.Fatalf("a second upload: %d %s", w.Code, w.Body)
	}
	if w := blobCall(blobs, http.MethodGet, link, nil); w.Code != http.StatusForbidden || w.Header().Get("x-ms-error-code") != "AuthorizationPermissionMismatch" {
		t.Fatalf("reading through the upload link: %d %s", w.Code, w.Body)
	}
	other := strings.Replace(link, rel, "source/other.tar.gz", 1)
	if w := blobCall(blobs, http.MethodPut, other, tgz, "x-ms-blob-type", "BlockBlob"); w.Code != http.StatusForbidden {
		t.Fatalf("writing another blob with the link's signature: %d %s", w.Code, w.Body)
	}
	// Another registry's run cannot use the upload.
	if _, err := s.sourceFS(testRegistry+"2", rel); err == nil || !strings.Contains(err.Error(), "was not uploaded") {
		t.Fatalf("another registry's source: %v", err)
	}
	// The oldest uploads go once maxSources more links are out.
	for i := 0; i < maxSources; i++ {
		upload()
	}
	if _, err := s.sourceFS(testRegistry, rel); err == nil || !strings.Contains(err.Error(), "was not uploaded") {
		t.Fatalf("an upload past maxSources is still kept: %v", err)
	}
}

func tarGz(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(tw, body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A small upload that decompresses a thousandfold is refused once decompression passes the
// bound, skipped entries included (tar decompresses what it skips).
func TestExtractBounds(t *testing.T) {
	bomb := func(name string, size int64) []byte {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		tw := tar.NewWriter(zw)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := io.CopyN(tw, zeroReader{}, size); err != nil {
			t.Fatal(err)
		}
		_ = tw.Close()
		_ = zw.Close()
		return buf.Bytes()
	}
	// Outside the context, so skipped: only the decompression bound catches it.
	skipped := bomb("../zeros", 4<<20)
	if len(skipped) > 64<<10 {
		t.Fatalf("the bomb is %d bytes packed", len(skipped))
	}
	if _, err := extract(skipped, 1<<20, 2<<20); err == nil || !strings.Contains(err.Error(), "the uploaded source decompresses to more than 2 MiB") {
		t.Fatalf("a skipped bomb: %v", err)
	}
	if _, err := extract(bomb("zeros", 4<<20), 1<<20, 8<<20); err == nil || !strings.Contains(err.Error(), "over 1048576 bytes") {
		t.Fatalf("a bomb kept as a file: %v", err)
	}
	fsys, err := extract(bomb("zeros", 1<<20), 1<<20, 2<<20)
	if err != nil || len(fsys["zeros"].Data) != 1<<20 {
		t.Fatalf("within the bounds: %v", err)
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
