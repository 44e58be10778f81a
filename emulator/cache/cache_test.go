package cache_test

import (
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/cache"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
)

const regName = "cachereg"

// upstream is a loopback registry (go-containerregistry's) that counts what it serves and can
// be told to fail.
type upstream struct {
	srv       *httptest.Server
	manifests atomic.Int32
	blobs     atomic.Int32
	failBlobs atomic.Bool
	user      string // when set, Basic auth with user:pass is required
	pass      string
}

func newUpstream(t *testing.T) *upstream {
	u := &upstream{}
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u.user != "" {
			if user, pass, ok := r.BasicAuth(); !ok || user != u.user || pass != u.pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="upstream"`)
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
		}
		if r.Method == http.MethodGet {
			switch {
			case strings.Contains(r.URL.Path, "/manifests/"):
				u.manifests.Add(1)
			case strings.Contains(r.URL.Path, "/blobs/"):
				u.blobs.Add(1)
				if u.failBlobs.Load() {
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
			}
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) host() string { return strings.TrimPrefix(u.srv.URL, "http://") }

func (u *upstream) push(t *testing.T, ref string, img v1.Image) {
	t.Helper()
	r, err := name.ParseReference(u.host() + "/" + ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: u.user, Password: u.pass})); err != nil {
		t.Fatal(err)
	}
}

type env struct {
	st    *store.Store
	audit *network.Audit
	srv   *httptest.Server
	rules network.Rules
	mu    sync.Mutex
}

func (e *env) setRules(r network.Rules) { e.mu.Lock(); e.rules = r; e.mu.Unlock() }

func newEnv(t *testing.T, secrets map[string]string, maxBytes int64) *env {
	t.Helper()
	e := &env{st: store.New(), audit: network.NewAudit(100), rules: network.Rules{PublicNetworkAccess: true, DefaultAllow: true, BypassAzureServices: true}}
	if err := e.st.PutRegistry(&store.Registry{Name: regName, ID: "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/" + regName}); err != nil {
		t.Fatal(err)
	}
	c := cache.New(cache.Config{Store: e.st, Secrets: secrets, Audit: e.audit, MaxBytes: maxBytes, Timeout: 20 * time.Second,
		NetworkRules: func(string) (network.Rules, error) { e.mu.Lock(); defer e.mu.Unlock(); return e.rules, nil },
		Transport:    func(string) http.RoundTripper { return nil }})
	t.Cleanup(c.Close)
	e.srv = httptest.NewServer(registry.New(e.st, regName, registry.WithUpstream(c.For(regName))).Handler())
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) rule(t *testing.T, name, source, target, credentialSet string) {
	t.Helper()
	if err := e.st.PutCacheRule(&store.CacheRule{Registry: regName, Name: name, SourceRepository: source, TargetRepository: target, CredentialSetID: credentialSet}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(strings.TrimPrefix(e.srv.URL, "http://") + "/" + s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// pull reads the image fully (manifest, config, layers) and returns the manifest's
// X-Azure-Origin header.
func (e *env) pull(t *testing.T, ref string) (v1.Hash, string, error) {
	t.Helper()
	r := e.ref(t, ref)
	origin := ""
	tr := roundTripper(func(req *http.Request) (*http.Response, error) {
		res, err := http.DefaultTransport.RoundTrip(req)
		if err == nil && strings.Contains(req.URL.Path, "/manifests/") && res.Header.Get("X-Azure-Origin") != "" {
			origin = res.Header.Get("X-Azure-Origin")
		}
		return res, err
	})
	img, err := remote.Image(r, remote.WithTransport(tr))
	if err != nil {
		return v1.Hash{}, origin, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, origin, err
	}
	for _, l := range layers {
		if _, err := l.Digest(); err != nil {
			return v1.Hash{}, origin, err
		}
		rc, err := l.Compressed()
		if err != nil {
			return v1.Hash{}, origin, err
		}
		rc.Close()
	}
	d, err := img.Digest()
	return d, origin, err
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func registryError(t *testing.T, err error) (int, string, string) {
	t.Helper()
	var te *transport.Error
	if !errors.As(err, &te) || len(te.Errors) == 0 {
		t.Fatalf("want a registry error, got %v", err)
	}
	return te.StatusCode, string(te.Errors[0].Code), te.Errors[0].Message
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(2048, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPullThroughThenCacheHit(t *testing.T) {
	up := newUpstream(t)
	img := randomImage(t)
	up.push(t, "library/hello:v1", img)
	want, _ := img.Digest()
	e := newEnv(t, nil, 0)
	e.rule(t, "hello", up.host()+"/library/hello", "hello", "")

	got, origin, err := e.pull(t, "hello:v1")
	if err != nil {
		t.Fatal(err)
	}
	if got != want || origin != "upstream" {
		t.Fatalf("first pull: digest %s origin %q, want %s from upstream", got, origin, want)
	}
	manifests, blobs := up.manifests.Load(), up.blobs.Load()
	got, origin, err = e.pull(t, "hello:v1")
	if err != nil || got != want || origin != "" {
		t.Fatalf("second pull: %s %q %v, want %s from the cache", got, origin, err, want)
	}
	if up.manifests.Load() != manifests || up.blobs.Load() != blobs {
		t.Fatalf("the cache hit went upstream: manifests %d->%d blobs %d->%d", manifests, up.manifests.Load(), blobs, up.blobs.Load())
	}
	// Stored in the target repository, tagged, as a pushed image is.
	tag, err := e.st.GetTag(regName, "hello", "v1")
	if err != nil || tag == nil || tag.Digest.String() != want.String() {
		t.Fatalf("tag: %+v %v", tag, err)
	}
	// A cached tag is not refreshed when the upstream moves it (as ACR).
	up.push(t, "library/hello:v1", randomImage(t))
	if got, _, err = e.pull(t, "hello:v1"); err != nil || got != want {
		t.Fatalf("after the upstream moved v1: %s %v, want the cached %s", got, err, want)
	}
	// By digest, a manifest not yet cached.
	other := randomImage(t)
	up.push(t, "library/hello:v2", other)
	od, _ := other.Digest()
	if got, _, err = e.pull(t, "hello@"+od.String()); err != nil || got != od {
		t.Fatalf("by digest: %s %v", got, err)
	}
	if tag, _ := e.st.GetTag(regName, "hello", "v2"); tag != nil {
		t.Fatalf("a pull by digest tagged the cached copy: %+v", tag)
	}
}

func TestMultiArchIndex(t *testing.T) {
	up := newUpstream(t)
	idx, err := random.Index(1024, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(up.host() + "/multi/app:1.0")
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, nil, 0)
	e.rule(t, "multi", up.host()+"/multi/*", "mirror/*", "")
	got, err := remote.Index(e.ref(t, "mirror/app:1.0"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := got.IndexManifest()
	if err != nil || len(im.Manifests) != 3 {
		t.Fatalf("index: %v %v", im, err)
	}
	for _, c := range im.Manifests {
		m, err := e.st.GetManifest(regName, "mirror/app", digestOf(c.Digest))
		if err != nil || m == nil {
			t.Fatalf("child %s not cached: %v", c.Digest, err)
		}
		img, err := got.Image(c.Digest)
		if err != nil {
			t.Fatal(err)
		}
		layers, _ := img.Layers()
		for _, l := range layers {
			rc, err := l.Compressed()
			if err != nil {
				t.Fatalf("child layer: %v", err)
			}
			rc.Close()
		}
	}
}

func TestUpstreamMissIsNotFound(t *testing.T) {
	up := newUpstream(t)
	up.push(t, "library/hello:v1", randomImage(t))
	e := newEnv(t, nil, 0)
	e.rule(t, "hello", up.host()+"/library/hello", "hello", "")
	_, _, err := e.pull(t, "hello:nope")
	if status, code, _ := registryError(t, err); status != http.StatusNotFound || code != "NAME_UNKNOWN" {
		t.Fatalf("nothing cached yet: got %d %s", status, code)
	}
	if _, _, err := e.pull(t, "hello:v1"); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.pull(t, "hello:nope")
	if status, code, _ := registryError(t, err); status != http.StatusNotFound || code != "MANIFEST_UNKNOWN" {
		t.Fatalf("a tag the upstream lacks: got %d %s", status, code)
	}
	// A repository no rule covers is not sent upstream.
	before := up.manifests.Load()
	_, _, err = e.pull(t, "other:v1")
	if status, code, _ := registryError(t, err); status != http.StatusNotFound || code != "NAME_UNKNOWN" || up.manifests.Load() != before {
		t.Fatalf("uncovered repository: %d %s, upstream asked %d times", status, code, up.manifests.Load()-before)
	}
}

// A failing or oversized upstream leaves nothing behind: no manifest, no tag.
func TestFailedFillStoresNothing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		maxBytes int64
		fail     bool
		want     string
	}{
		{name: "blob fetch fails", fail: true, want: "returned status code 500"},
		{name: "over the size bound", maxBytes: 1024, want: "returned more than the cache reads in one pull (1024 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up := newUpstream(t)
			up.push(t, "library/hello:v1", randomImage(t))
			up.failBlobs.Store(tc.fail)
			e := newEnv(t, nil, tc.maxBytes)
			e.rule(t, "hello", up.host()+"/library/hello", "hello", "")
			_, _, err := e.pull(t, "hello:v1")
			status, code, msg := registryError(t, err)
			if status != http.StatusFailedDependency || code != "UNKNOWN" || !strings.Contains(msg, tc.want) || !strings.Contains(msg, "for cache rule 'hello'") {
				t.Fatalf("got %d %s %q", status, code, msg)
			}
			if tag, _ := e.st.GetTag(regName, "hello", "v1"); tag != nil {
				t.Fatalf("a failed fill left tag %+v", tag)
			}
			if ms, _ := e.st.ListManifests(regName, "hello"); len(ms) != 0 {
				t.Fatalf("a failed fill left %d manifests", len(ms))
			}
		})
	}
}

// The cache fills a network-restricted registry only while trusted services are allowed;
// what is cached is served either way.
func TestTrustedAccess(t *testing.T) {
	up := newUpstream(t)
	up.push(t, "library/hello:v1", randomImage(t))
	up.push(t, "library/hello:v2", randomImage(t))
	e := newEnv(t, nil, 0)
	e.rule(t, "hello", up.host()+"/library/hello", "hello", "")
	e.setRules(network.Rules{PublicNetworkAccess: false, DefaultAllow: true, BypassAzureServices: true})
	if _, _, err := e.pull(t, "hello:v1"); err != nil {
		t.Fatalf("trusted services on: %v", err)
	}
	for _, r := range []network.Rules{
		{PublicNetworkAccess: false, DefaultAllow: true},
		{PublicNetworkAccess: true, DefaultAllow: false, IPRules: []string{"20.0.0.0/8"}},
	} {
		e.setRules(r)
		_, _, err := e.pull(t, "hello:v2")
		status, code, msg := registryError(t, err)
		if status != http.StatusForbidden || code != "DENIED" || !strings.Contains(msg, "cache rule 'hello' cannot populate the cache") {
			t.Fatalf("%+v: got %d %s %q", r, status, code, msg)
		}
		if _, _, err := e.pull(t, "hello:v1"); err != nil {
			t.Fatalf("%+v: the cached image: %v", r, err)
		}
	}
	// The audit shows the cache's decisions on the registry, as the gate's.
	allowed, denied := e.audit.List(regName, "allowed"), e.audit.List(regName, "denied")
	if len(allowed) != 1 || allowed[0].Origin != "artifactcache" || allowed[0].Rule != "trusted-service-bypass" || allowed[0].Status != 200 ||
		allowed[0].Path != "/v2/hello/manifests/v1" {
		t.Fatalf("allowed: %+v", allowed)
	}
	if len(denied) != 2 || denied[0].Rule != "public-network-access-disabled" || denied[1].Rule != "default-action-deny" || denied[1].Status != 403 {
		t.Fatalf("denied: %+v", denied)
	}
}

func TestCredentialSet(t *testing.T) {
	up := newUpstream(t)
	up.user, up.pass = "upstream-user", "upstream-pass"
	up.push(t, "private/app:v1", randomImage(t))
	const (
		userID = "https://myvault.vault.azure.net/secrets/upstream-user"
		passID = "https://myvault.vault.azure.net/secrets/upstream-pass/0123456789abcdef"
	)
	secrets := map[string]string{cache.SecretKey(userID): "upstream-user", cache.SecretKey(passID): "upstream-pass"}
	e := newEnv(t, secrets, 0)
	regID := "/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/" + regName
	if err := e.st.PutCredentialSet(&store.CredentialSet{Registry: regName, Name: "upstream-creds", LoginServer: up.host(), PrincipalID: "p1",
		Credentials: []store.AuthCredential{{Name: "Credential1", UsernameSecretID: userID, PasswordSecretID: passID}}}); err != nil {
		t.Fatal(err)
	}
	e.rule(t, "private", up.host()+"/private/app", "app", regID+"/credentialSets/upstream-creds")
	e.rule(t, "anonymous", up.host()+"/private/app", "anon", "")

	_, _, err := e.pull(t, "anon:v1")
	if status, code, msg := registryError(t, err); status != http.StatusUnauthorized || code != "UNAUTHORIZED" ||
		!strings.HasPrefix(msg, "authentication required with source registry for cache rule 'anonymous'.") {
		t.Fatalf("anonymous: %d %s %q", status, code, msg)
	}
	_, _, err = e.pull(t, "app:v1")
	if status, _, msg := registryError(t, err); status != http.StatusUnauthorized || !strings.Contains(msg, "no role assignment on the key vault") {
		t.Fatalf("without a vault role: %d %q", status, msg)
	}
	scope := "/subscriptions/s/resourceGroups/g/providers/Microsoft.KeyVault/vaults/myvault"
	if err := e.st.PutRoleAssignment(&store.RoleAssignment{ID: scope + "/providers/Microsoft.Authorization/roleAssignments/r1", Name: "r1",
		Scope: scope, PrincipalID: "p1", RoleDefinitionID: "/providers/Microsoft.Authorization/roleDefinitions/4633458b-17de-408a-b874-0445c86b69e6"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.pull(t, "app:v1"); err != nil {
		t.Fatalf("with the vault role: %v", err)
	}
}

// Concurrent pulls of one miss read the upstream once.
func TestConcurrentMissesShareOneFill(t *testing.T) {
	up := newUpstream(t)
	up.push(t, "library/hello:v1", randomImage(t))
	e := newEnv(t, nil, 0)
	e.rule(t, "hello", up.host()+"/library/hello", "hello", "")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := remote.Head(e.ref(t, "hello:v1"))
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := up.blobs.Load(); n != 3 {
		t.Fatalf("the upstream served %d blob reads for one image of 3 blobs", n)
	}
}

func digestOf(h v1.Hash) digest.Digest { return digest.Digest(h.String()) }
