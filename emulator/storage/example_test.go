package storage_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/storage"
)

// layers is a registry's content, served to the storage as a stream (a registry's blob store
// hands out open blobs the same way).
type layers map[string][]byte

func (l layers) Open(name string) (storage.Content, bool) {
	b, ok := l[name]
	if !ok {
		return nil, false
	}
	return struct {
		*bytes.Reader
		io.Closer
	}{bytes.NewReader(b), io.NopCloser(nil)}, true
}

// A registry's blob download, as ACR redirects it: the registry's content mounted read-only in
// an account, and a short-lived read link minted for the client that asked, on the host it used.
func ExampleStore_SignedURL() {
	st := storage.New()
	_ = st.AddAccount("myregistryeus")
	_ = st.Mount("myregistryeus", "registry", layers{"docker/registry/v2/blobs/sha256/ab/ab12/data": []byte("layer bytes")})

	// r is the registry GET the client made (here at localhost:8443, directly).
	r := httptest.NewRequest("GET", "https://localhost:8443/v2/app/blobs/sha256:ab12", nil)
	base := storage.AccountURL("myregistryeus", r.Host, r.TLS != nil, false, "https://localhost:8443")
	link, _ := st.SignedURL(base, storage.Ref{Account: "myregistryeus", Container: "registry", Blob: "docker/registry/v2/blobs/sha256/ab/ab12/data"},
		storage.PermRead, 20*time.Minute)
	fmt.Println(strings.SplitN(link, "?", 2)[0])

	// The client follows the 307 to it, without the registry's Authorization header.
	w := httptest.NewRecorder()
	st.ServeHTTP(w, httptest.NewRequest("GET", link, nil))
	body, _ := io.ReadAll(w.Body)
	fmt.Println(w.Code, string(body))

	// With the header forwarded, storage refuses, as Azure's does.
	fwd := httptest.NewRequest("GET", link, nil)
	fwd.Header.Set("Authorization", "Bearer <registry token>")
	w = httptest.NewRecorder()
	st.ServeHTTP(w, fwd)
	fmt.Println(w.Code, w.Header().Get("x-ms-error-code"))
	// Output:
	// https://localhost:8443/myregistryeus.blob.core.windows.net/registry/docker/registry/v2/blobs/sha256/ab/ab12/data
	// 200 layer bytes
	// 400 InvalidAuthenticationInfo
}
