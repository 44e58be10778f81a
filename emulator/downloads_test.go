package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// downloadWorld is the default world with origins to come from: an office whose IP the
// firewall may list, a café it never does, and VNets with private endpoints to myregistry, one
// of whose DNS lacks the data endpoint's record.
func downloadWorld(edit func(r *world.Registry)) *world.World {
	w := world.Default()
	edit(&w.Registries[0])
	w.Origins = append(w.Origins,
		world.Origin{Name: "office", IP: "198.51.100.7"},
		world.Origin{Name: "cafe", IP: "203.0.113.50"},
		world.Origin{Name: "corpvnet", IP: "20.0.0.10", PrivateEndpoints: []string{"myregistry"}},
		world.Origin{Name: "halfdns", IP: "20.0.0.11", PrivateEndpoints: []string{"myregistry"}, PrivateDNSRecords: []string{"myregistry.azurecr.io"}})
	return w
}

// via is an HTTP transport that goes through a named origin's proxy, trusting the emulator.
func via(t *testing.T, emu *emulatortest.Emulator, origin string) http.RoundTripper {
	t.Helper()
	for _, o := range emu.Origins() {
		if o.Name == origin {
			u, _ := url.Parse(o.ProxyURL)
			tr := emu.Transport().Clone()
			tr.Proxy, tr.DialContext = http.ProxyURL(u), nil
			return tr
		}
	}
	t.Fatalf("no origin %s", origin)
	return nil
}

// pushImage pushes a random image as the admin user, directly, and returns it.
func pushImage(t *testing.T, emu *emulatortest.Emulator, ref string) v1.Image {
	t.Helper()
	img, _ := random.Image(2048, 2)
	r, _ := name.ParseReference(ref)
	u, p := emu.Admin()
	if err := remote.Write(r, img, remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: u, Password: p})); err != nil {
		t.Fatal(err)
	}
	return img
}

// registryClient is an HTTP client that authenticates to repo as the admin user through base
// and does not follow redirects.
func registryClient(t *testing.T, emu *emulatortest.Emulator, host, repo string, base http.RoundTripper) *http.Client {
	t.Helper()
	r, _ := name.NewRepository(host + "/" + repo)
	u, p := emu.Admin()
	tr, err := transport.NewWithContext(context.Background(), r.Registry, &authn.Basic{Username: u, Password: p}, base, []string{r.Scope(transport.PullScope)})
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func fetch(t *testing.T, c *http.Client, u string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

// pushed pushes an image to repo:v1 and returns the login server, its first layer's digest and
// bytes, and a client of repo that does not follow redirects.
func pushed(t *testing.T, emu *emulatortest.Emulator, repo string) (string, v1.Hash, []byte, *http.Client) {
	t.Helper()
	host := emu.Registry().Host
	layer, want := firstLayer(t, pushImage(t, emu, host+"/"+repo+":v1"))
	return host, layer, want, registryClient(t, emu, host, repo, emu.Transport())
}

func firstLayer(t *testing.T, img v1.Image) (v1.Hash, []byte) {
	t.Helper()
	ls, _ := img.Layers()
	d, _ := ls[0].Digest()
	rc, _ := ls[0].Compressed()
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return d, b
}

var storageLinkRE = regexp.MustCompile(`^/acremulatorcontent\.blob\.core\.windows\.net/([0-9a-f]{32})-[a-z0-9]{10}//docker/registry/v2/blobs/sha256/([0-9a-f]{2})/([0-9a-f]{64})/data$`)

// Without data endpoints, blob GETs redirect to a signed link on the fake storage, on the host
// the client called (or the account's own name through a proxy), as ACR does.
func TestDownloadsFromStorage(t *testing.T) {
	w := downloadWorld(func(*world.Registry) {})
	w.Origins = w.Origins[:3] // no private endpoint, which would turn data endpoints on
	emu := emulatortest.New(t, emulatortest.WithWorld(w))
	host, layer, want, c := pushed(t, emu, "dl/app")
	res, body := fetch(t, c, "https://"+host+"/v2/dl/app/blobs/"+layer.String())
	loc, _ := url.Parse(res.Header.Get("Location"))
	m := storageLinkRE.FindStringSubmatch(loc.Path)
	if res.StatusCode != http.StatusTemporaryRedirect || loc.Host != host || m == nil || m[3] != layer.Hex || m[2] != layer.Hex[:2] ||
		loc.Query().Get("sp") != "r" || loc.Query().Get("sr") != "b" || loc.Query().Get("sig") == "" || loc.Query().Get("regid") != m[1] ||
		res.Header.Get("Docker-Content-Digest") != layer.String() || !strings.Contains(string(body), "Temporary Redirect") {
		t.Fatalf("GET blob: %d %v %s", res.StatusCode, res.Header, body)
	}
	// Following it: the registry's Authorization goes along on the same host (go-containerregistry
	// sends it to every request for the registry's host) and is ignored there.
	if res, got := fetch(t, c, loc.String()); res.StatusCode != http.StatusOK || string(got) != string(want) {
		t.Fatalf("storage link with the registry's token: %d %q", res.StatusCode, got)
	}
	plain := &http.Client{Transport: emu.Transport()}
	if res, got := fetch(t, plain, loc.String()); res.StatusCode != http.StatusOK || string(got) != string(want) || res.Header.Get("x-ms-blob-type") != "BlockBlob" {
		t.Fatalf("storage link: %d %v %q", res.StatusCode, res.Header, got)
	}
	tampered := strings.Replace(loc.String(), m[3], strings.Repeat("0", 64), 1)
	if res, _ := fetch(t, plain, tampered); res.StatusCode != http.StatusForbidden || res.Header.Get("x-ms-error-code") != "AuthenticationFailed" {
		t.Fatalf("tampered link: %d %v", res.StatusCode, res.Header)
	}
	// go-containerregistry pins a localhost registry's scheme to the one its ping answered on,
	// plain HTTP included (the HTTPS port speaks both), for every request to the registry's
	// host: the link shares it, so it works over plain HTTP too.
	plainURL := "http://" + host + loc.RequestURI()
	if res, got := fetch(t, plain, plainURL); res.StatusCode != http.StatusOK || string(got) != string(want) {
		t.Fatalf("storage link over plain HTTP on the registry's host: %d %q", res.StatusCode, got)
	}
	// HEAD is answered by the registry.
	req, _ := http.NewRequest("HEAD", "https://"+host+"/v2/dl/app/blobs/"+layer.String(), nil)
	if res, err := c.Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: %v %v", err, res)
	}

	// Through a proxy by the registry's real name: the link names the account's real host, and
	// storage refuses a forwarded token there as Azure does.
	office := via(t, emu, "office")
	oc := registryClient(t, emu, "myregistry.azurecr.io", "dl/app", office)
	res, _ = fetch(t, oc, "https://myregistry.azurecr.io/v2/dl/app/blobs/"+layer.String())
	loc, _ = url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusTemporaryRedirect || loc.Host != "acremulatorcontent.blob.core.windows.net" ||
		storageLinkRE.FindStringSubmatch("/acremulatorcontent.blob.core.windows.net"+loc.Path) == nil {
		t.Fatalf("proxied GET blob: %d %v", res.StatusCode, res.Header)
	}
	pc := &http.Client{Transport: office}
	if res, got := fetch(t, pc, loc.String()); res.StatusCode != http.StatusOK || string(got) != string(want) {
		t.Fatalf("proxied storage link: %d %q", res.StatusCode, got)
	}
	if res, _ := fetch(t, pc, loc.String(), "Authorization", "Bearer forwarded"); res.StatusCode != http.StatusBadRequest ||
		res.Header.Get("x-ms-error-code") != "InvalidAuthenticationInfo" {
		t.Fatalf("forwarded token: %d %v", res.StatusCode, res.Header)
	}
	// Real clients pull through the redirect, directly and through the proxy.
	pullBothWays(t, emu, "dl/app:v1", office)
}

// pullBothWays pulls ref (repository:tag) with go-containerregistry directly and through
// the proxy by the registry's real name.
func pullBothWays(t *testing.T, emu *emulatortest.Emulator, ref string, proxy http.RoundTripper) {
	t.Helper()
	for _, full := range []string{emu.Registry().Host + "/" + ref, "myregistry.azurecr.io/" + ref} {
		tr := proxy
		if !strings.HasPrefix(full, "myregistry.azurecr.io/") {
			tr = emu.Transport()
		}
		if err := pullAll(full, tr, emu); err != nil {
			t.Errorf("pull %s: %v", full, err)
		}
	}
}

// pullAll pulls an image and reads every layer, which verifies their digests.
func pullAll(ref string, tr http.RoundTripper, emu *emulatortest.Emulator) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	u, p := emu.Admin()
	img, err := remote.Image(r, remote.WithTransport(tr), remote.WithAuth(&authn.Basic{Username: u, Password: p}))
	if err != nil {
		return err
	}
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// With dedicated data endpoints, blob GETs redirect to <registry>.<region>.data.azurecr.io,
// which the registry's network rules guard as they guard the login server.
func TestDataEndpoints(t *testing.T) {
	emu := emulatortest.New(t, emulatortest.WithWorld(downloadWorld(func(r *world.Registry) {
		r.DataEndpointEnabled = true
		r.NetworkRuleSet = &world.NetworkRuleSet{DefaultAction: "Deny", IPRules: []string{"127.0.0.1", "198.51.100.7"}}
	})))
	// Directly: a path-style link on the host the client called.
	host, layer, want, c := pushed(t, emu, "dde/app")
	res, _ := fetch(t, c, "https://"+host+"/v2/dde/app/blobs/"+layer.String())
	loc, _ := url.Parse(res.Header.Get("Location"))
	q := loc.Query()
	if res.StatusCode != http.StatusTemporaryRedirect || loc.Host != host || loc.Path != "/myregistry.eastus.data.azurecr.io/" ||
		q.Get("d") != layer.String() || q.Get("r") != "dde/app" || q.Get("h") != host || q.Get("s") == "" || q.Get("v") != "1" || q.Get("t") == "" {
		t.Fatalf("GET blob: %d %v", res.StatusCode, res.Header)
	}
	if res, got := fetch(t, c, loc.String()); res.StatusCode != http.StatusOK || string(got) != string(want) || res.Header.Get("Docker-Content-Digest") != layer.String() {
		t.Fatalf("data endpoint: %d %q", res.StatusCode, got)
	}
	plain := &http.Client{Transport: emu.Transport()}
	if res, got := fetch(t, plain, loc.String(), "Range", "bytes=0-9"); res.StatusCode != http.StatusPartialContent || string(got) != string(want[:10]) {
		t.Fatalf("data endpoint range: %d %q", res.StatusCode, got)
	}
	for desc, u := range map[string]string{
		"another digest":      strings.Replace(loc.String(), layer.Hex, strings.Repeat("1", 64), 1),
		"another repository":  strings.Replace(loc.String(), "r=dde%2Fapp", "r=other", 1),
		"no signature":        strings.Replace(loc.String(), "&s=", "&x=", 1),
		"another data region": strings.Replace(loc.String(), "myregistry.eastus.", "myregistry.westus.", 1),
	} {
		res, body := fetch(t, plain, u)
		code := ""
		var env struct{ Errors []struct{ Code string } }
		if json.Unmarshal(body, &env) == nil && len(env.Errors) == 1 {
			code = env.Errors[0].Code
		}
		switch {
		case desc == "another data region" && res.StatusCode != http.StatusNotFound:
			t.Errorf("%s: %d %s (a region the registry is not in has no data endpoint)", desc, res.StatusCode, body)
		case desc != "another data region" && (res.StatusCode != http.StatusForbidden || code != "DENIED"):
			t.Errorf("%s: %d %s", desc, res.StatusCode, body)
		}
	}

	// Through proxies: the data endpoint's real name. The office (listed) downloads; the café
	// holding the office's link is refused by the data endpoint itself, naming its IP.
	office := via(t, emu, "office")
	oc := registryClient(t, emu, "myregistry.azurecr.io", "dde/app", office)
	res, _ = fetch(t, oc, "https://myregistry.azurecr.io/v2/dde/app/blobs/"+layer.String())
	link := res.Header.Get("Location")
	if res.StatusCode != http.StatusTemporaryRedirect || !strings.HasPrefix(link, "https://myregistry.eastus.data.azurecr.io/?t=") {
		t.Fatalf("proxied GET blob: %d %v", res.StatusCode, res.Header)
	}
	if res, got := fetch(t, &http.Client{Transport: office}, link); res.StatusCode != http.StatusOK || string(got) != string(want) {
		t.Fatalf("office download: %d %q", res.StatusCode, got)
	}
	res, body := fetch(t, &http.Client{Transport: via(t, emu, "cafe")}, link)
	if res.StatusCode != http.StatusForbidden || !strings.Contains(string(body), `client with IP '203.0.113.50' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.`) {
		t.Fatalf("café download: %d %s", res.StatusCode, body)
	}
	pullBothWays(t, emu, "dde/app:v1", office)
	// The audit tells the data endpoint from the login server.
	entries := audit(t, emu)
	if !anyEntry(entries, func(e auditEntry) bool {
		return e.Origin == "cafe" && e.Host == "myregistry.eastus.data.azurecr.io" && e.Decision == "denied" && e.Rule == "default-action-deny"
	}) {
		t.Errorf("audit lacks the café's data endpoint denial: %+v", entries)
	}
}

type auditEntry struct {
	Origin, ClientIP, Host, PrivateIP, Decision, Rule, Path string
}

func audit(t *testing.T, emu *emulatortest.Emulator) []auditEntry {
	t.Helper()
	res, err := http.Get(emu.HTTPURL() + "/_emulator/audit?registry=myregistry")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var a struct{ Entries []auditEntry }
	if err := json.NewDecoder(res.Body).Decode(&a); err != nil {
		t.Fatal(err)
	}
	return a.Entries
}

func anyEntry(es []auditEntry, f func(auditEntry) bool) bool {
	for _, e := range es {
		if f(e) {
			return true
		}
	}
	return false
}

// The failure users meet on Azure: a VNet reaches the login server through its private
// endpoint, but its DNS lacks the data endpoint's record, so layer downloads go to the public
// endpoint, which public network access disabled refuses. Manifests pull; layers do not.
func TestPrivateEndpointWithoutDataEndpointRecord(t *testing.T) {
	emu := emulatortest.New(t, emulatortest.WithWorld(downloadWorld(func(r *world.Registry) {})))
	host := emu.Registry().Host
	img := pushImage(t, emu, host+"/pe/app:v1")
	reg, _ := emu.Store().GetRegistry("myregistry")
	locked := reg.Copy()
	locked.PublicNetworkAccess = false
	if err := emu.Store().PutRegistry(locked); err != nil {
		t.Fatal(err)
	}
	u, p := emu.Admin()
	auth := remote.WithAuth(&authn.Basic{Username: u, Password: p})
	ref, _ := name.ParseReference("myregistry.azurecr.io/pe/app:v1")
	want, _ := img.Digest()

	// The VNet whose private DNS zone has every record pulls everything privately.
	if err := pullAll(ref.String(), via(t, emu, "corpvnet"), emu); err != nil {
		t.Fatalf("pull from corpvnet: %v", err)
	}
	// The VNet without the data endpoint's record: the manifest comes, the layers do not.
	half := via(t, emu, "halfdns")
	got, err := remote.Image(ref, remote.WithTransport(half), auth)
	if err != nil {
		t.Fatalf("manifest from halfdns: %v", err)
	}
	if d, _ := got.Digest(); d != want {
		t.Fatalf("manifest digest %s, want %s", d, want)
	}
	ls, _ := got.Layers()
	_, err = ls[0].Compressed()
	var terr *transport.Error
	if !errors.As(err, &terr) || terr.StatusCode != http.StatusForbidden ||
		!strings.Contains(err.Error(), "client with IP '20.0.0.11' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.") {
		t.Fatalf("layer from halfdns: %v", err)
	}
	entries := audit(t, emu)
	checks := map[string]func(auditEntry) bool{
		"corpvnet's login server request through the private endpoint, from its own address": func(e auditEntry) bool {
			return e.Origin == "corpvnet" && e.Host == "myregistry.azurecr.io" && e.Rule == "private-endpoint" && e.ClientIP == "10.0.0.4" && e.PrivateIP != ""
		},
		"corpvnet's download through the data endpoint's member": func(e auditEntry) bool {
			return e.Origin == "corpvnet" && e.Host == "myregistry.eastus.data.azurecr.io" && e.Rule == "private-endpoint" && e.PrivateIP != ""
		},
		"halfdns's download denied for the missing record, from its public IP": func(e auditEntry) bool {
			return e.Origin == "halfdns" && e.Host == "myregistry.eastus.data.azurecr.io" && e.Decision == "denied" &&
				e.Rule == "private-dns-record-missing" && e.ClientIP == "20.0.0.11"
		},
	}
	for desc, f := range checks {
		if !anyEntry(entries, f) {
			t.Errorf("audit lacks %s: %+v", desc, entries)
		}
	}
	// Each member has its own private address.
	addrs := map[string]string{}
	for _, e := range entries {
		if e.Origin == "corpvnet" && e.PrivateIP != "" {
			addrs[e.Host] = e.PrivateIP
		}
	}
	if len(addrs) != 2 || addrs["myregistry.azurecr.io"] == addrs["myregistry.eastus.data.azurecr.io"] {
		t.Errorf("private addresses by host: %v", addrs)
	}
}
