package emulator_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/store/blobstore"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// bigLayer pushes a layer larger than the blob store hands out whole to repo.
func bigLayer(t *testing.T, emu *emulatortest.Emulator, repo string) (name.Digest, []byte) {
	t.Helper()
	data := make([]byte, blobstore.MaxGet+3<<20)
	_, _ = rand.Read(data)
	l := static.NewLayer(data, types.OCILayer)
	d, _ := l.Digest()
	r, _ := name.NewRepository(emu.Registry().Host + "/" + repo)
	u, p := emu.Admin()
	if err := remote.WriteLayer(r, l, remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: u, Password: p})); err != nil {
		t.Fatal(err)
	}
	return r.Digest(d.String()), data
}

// A layer larger than 16 MiB downloads whole and by ranges through the storage link a blob GET
// redirects to, and the store stays consistent.
func TestLargeLayerThroughStorageLink(t *testing.T) {
	emu := emulatortest.New(t)
	ref, data := bigLayer(t, emu, "big/app")
	pullLayer(t, emu, ref, emu.Transport(), data)

	c := registryClient(t, emu, emu.Registry().Host, "big/app", emu.Transport())
	res, _ := fetch(t, c, "https://"+emu.Registry().Host+"/v2/big/app/blobs/"+ref.DigestStr())
	if res.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("GET blob: %d", res.StatusCode)
	}
	plain := &http.Client{Transport: emu.Transport()}
	start, end := int64(blobstore.MaxGet-5), int64(blobstore.MaxGet+100)
	res, part := fetch(t, plain, res.Header.Get("Location"), "Range", "bytes="+itoa(start)+"-"+itoa(end))
	if res.StatusCode != http.StatusPartialContent || !bytes.Equal(part, data[start:end+1]) {
		t.Fatalf("ranged GET of the link: %d, %d bytes", res.StatusCode, len(part))
	}
	checkConsistent(t, emu)
}

// A pull over the plain HTTP listener is redirected on plain HTTP to that listener, so a
// client that does not trust the emulator's CA (docker's insecure registries) follows it.
func TestPlainHTTPPullStaysPlain(t *testing.T) {
	emu := emulatortest.New(t)
	ref, data := bigLayer(t, emu, "plain/app")
	httpHost := strings.TrimPrefix(emu.HTTPURL(), "http://")
	r, _ := name.NewRepository(httpHost+"/plain/app", name.Insecure)
	noCA := http.DefaultTransport.(*http.Transport).Clone()
	pullLayer(t, emu, r.Digest(ref.DigestStr()), noCA, data)
	c := registryClient(t, emu, httpHost, "plain/app", noCA)
	res, _ := fetch(t, c, "http://"+httpHost+"/v2/plain/app/blobs/"+ref.DigestStr())
	loc, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusTemporaryRedirect || loc.Scheme != "http" || loc.Host != httpHost || !storageLinkRE.MatchString(loc.Path) {
		t.Fatalf("GET blob over plain HTTP: %d %s", res.StatusCode, loc)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// checkConsistent asks GET /_emulator/check for violations.
func checkConsistent(t *testing.T, emu *emulatortest.Emulator) {
	t.Helper()
	res, err := http.Get(emu.HTTPURL() + "/_emulator/check")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Consistent bool              `json:"consistent"`
		Violations []json.RawMessage `json:"violations"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || !out.Consistent {
		t.Fatalf("check: %v %s", err, out.Violations)
	}
}

// pullLayer pulls a layer whole with go-containerregistry as the admin user and checks it is
// data.
func pullLayer(t *testing.T, emu *emulatortest.Emulator, ref name.Digest, tr http.RoundTripper, data []byte) {
	t.Helper()
	u, p := emu.Admin()
	l, err := remote.Layer(ref, remote.WithTransport(tr), remote.WithAuth(&authn.Basic{Username: u, Password: p}))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("pulled %d of %d bytes from %s: %v", len(got), len(data), ref, err)
	}
}
