package storage

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// devstoreKey is Azurite's well-known account key: the vectors below were signed with it by
// the Azure SDKs for Python, so they pin the string to sign of each service version to what
// real clients compute.
const devstoreKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFr/6BcQoVr5fWlLnUCeA=="

func TestSignatureMatchesAzureSDKs(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString(devstoreKey)
	blob := Ref{Account: "devstoreaccount1", Container: "logs", Blob: "a/b/rawtext.log"}
	for _, tc := range []struct{ name, token string }{
		// azure-storage-blob 12.15 generate_blob_sas(permission=read, start, expiry)
		{"2021-12-02 blob", "st=2024-01-02T03%3A04%3A05Z&se=2024-01-02T04%3A04%3A05Z&sp=r&sv=2021-12-02&sr=b&sig=fCe1OicjgnVdk5yMfAde0Pa4mBXZWIDwY15oRsyrudU%3D"},
		// azure-storage-blob 12.15 generate_container_sas(permission="racwd", expiry)
		{"2021-12-02 container", "se=2024-01-02T04%3A04%3A05Z&sp=racwd&sv=2021-12-02&sr=c&sig=azQd5AbN3OOXVN840r4q7Ubn1OB3K6LRpW3gg0MTFg8%3D"},
		// az 2.45's storage SDK (azure.multiapi.storage v2018_11_09), protocol https
		{"2018-11-09 blob", "st=2024-01-02T03%3A04%3A05Z&se=2024-01-02T04%3A04%3A05Z&sp=r&spr=https&sv=2018-11-09&sr=b&sig=ZP6xPJvodTWgq0Vb%2B3wBHRFNay1/2P8ALmxYYr9/qBA%3D"},
		// azure.multiapi.storage v2017_11_09
		{"2017-11-09 blob", "se=2024-01-02T04%3A04%3A05Z&sp=rw&sv=2017-11-09&sr=b&sig=0HyaTc143rcUDzh5FO9xIMHqCntjxbD8B9wKaUhoYEw%3D"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.token)
			if err != nil {
				t.Fatal(err)
			}
			p, ok := parseSAS(q)
			if !ok {
				t.Fatal("no SAS")
			}
			if got := sign(key, p.StringToSign(blob)); got != p.Signature {
				t.Fatalf("signature %s, the SDK's %s; string to sign:\n%s", got, p.Signature, p.StringToSign(blob))
			}
			if err := p.authenticate(key, blob, time.Date(2024, 1, 2, 3, 30, 0, 0, time.UTC), true); err != nil {
				t.Fatalf("authenticate: %v", err)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	key := []byte("account key")
	ref := Ref{Account: "acct", Container: "c1", Blob: "logs/ca1/rawtext.log"}
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	valid := newSAS(key, ref, "r", now.Add(-time.Minute), time.Hour)
	resign := func(p SAS) SAS { p.Signature = sign(key, p.StringToSign(ref)); return p }
	with := func(f func(*SAS)) SAS { p := valid; f(&p); return p }
	for _, tc := range []struct {
		name   string
		sas    SAS
		ref    Ref
		key    []byte
		http   bool
		code   string
		detail string // exact AuthenticationErrorDetail; "" with a code: not checked
	}{
		{name: "valid", sas: valid},
		{name: "valid container SAS for any blob in it", sas: resign(with(func(p *SAS) { p.Resource = "c" })), ref: Ref{"acct", "c1", "other"}},
		{name: "sv missing", sas: with(func(p *SAS) { p.Version = "" }), code: "AuthenticationFailed", detail: "sv is mandatory. Cannot be empty"},
		{name: "sr missing", sas: with(func(p *SAS) { p.Resource = "" }), code: "AuthenticationFailed", detail: "sr is mandatory. Cannot be empty"},
		{name: "sp missing", sas: with(func(p *SAS) { p.Permissions = "" }), code: "AuthenticationFailed", detail: "sp is mandatory. Cannot be empty"},
		{name: "se missing", sas: with(func(p *SAS) { p.Expiry = "" }), code: "AuthenticationFailed", detail: "se is mandatory. Cannot be empty"},
		{name: "expired, no start", sas: resign(with(func(p *SAS) { p.Expiry = "2024-05-06T07:00:00Z" })), code: "AuthenticationFailed",
			detail: "Signed expiry time [Mon, 06 May 2024 07:00:00 GMT] must be after signed start time [Mon, 06 May 2024 07:08:09 GMT]"},
		{name: "expired, with start", sas: resign(with(func(p *SAS) { p.Start, p.Expiry = "2024-05-06T06:00:00Z", "2024-05-06T07:00:00Z" })), code: "AuthenticationFailed",
			detail: "Signature not valid in the specified time frame: Start [Mon, 06 May 2024 06:00:00 GMT] - Expiry [Mon, 06 May 2024 07:00:00 GMT] - Current [Mon, 06 May 2024 07:08:09 GMT]"},
		{name: "not yet valid", sas: resign(with(func(p *SAS) { p.Start = "2024-05-06T08:00:00Z" })), code: "AuthenticationFailed",
			detail: "Signature not valid in the specified time frame: Start [Mon, 06 May 2024 08:00:00 GMT] - Expiry [Mon, 06 May 2024 08:07:09 GMT] - Current [Mon, 06 May 2024 07:08:09 GMT]"},
		{name: "expiry extended without re-signing", sas: with(func(p *SAS) { p.Expiry = "2030-01-01T00:00:00Z" }), code: "AuthenticationFailed",
			detail: "Signature did not match. String to sign used was r\n\n2030-01-01T00:00:00Z\n/blob/acct/c1/logs/ca1/rawtext.log\n\n\n\n2023-01-03\nb\n\n\n\n\n\n\n"},
		{name: "permissions widened", sas: with(func(p *SAS) { p.Permissions = "rw" }), code: "AuthenticationFailed"},
		{name: "another blob (a guessed run)", sas: valid, ref: Ref{"acct", "c1", "logs/ca2/rawtext.log"}, code: "AuthenticationFailed"},
		{name: "another account's key", sas: valid, key: []byte("other key"), code: "AuthenticationFailed"},
		{name: "a constant, unsigned sig", sas: with(func(p *SAS) { p.Signature = "acr-emulator" }), code: "AuthenticationFailed", detail: "Signature fields not well formed."},
		{name: "a short sig", sas: with(func(p *SAS) { p.Signature = "c2hvcnQ=" }), code: "AuthenticationFailed", detail: "Signature size is invalid"},
		{name: "unknown permission", sas: resign(with(func(p *SAS) { p.Permissions = "rq" })), code: "AuthenticationFailed", detail: "Signature fields not well formed."},
		{name: "bad expiry", sas: resign(with(func(p *SAS) { p.Expiry = "tomorrow" })), code: "AuthenticationFailed", detail: "Signature fields not well formed."},
		{name: "stored access policy", sas: resign(with(func(p *SAS) { p.Identifier = "policy1" })), code: "AuthenticationFailed",
			detail: "SAS identifier cannot be found for specified signed identifier"},
		{name: "version before 2015-04-05", sas: resign(with(func(p *SAS) { p.Version = "2013-08-15" })), code: "AuthenticationFailed", detail: "Signature fields not well formed."},
		{name: "https only, over http", sas: resign(with(func(p *SAS) { p.Protocol = "https" })), http: true, code: "AuthorizationProtocolMismatch"},
		{name: "https or http, over http", sas: resign(with(func(p *SAS) { p.Protocol = "https,http" })), http: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, k := tc.ref, tc.key
			if r == (Ref{}) {
				r = ref
			}
			if k == nil {
				k = key
			}
			err := tc.sas.authenticate(k, r, now, !tc.http)
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.code == "":
				return
			case err == nil:
				t.Fatalf("accepted, want %s", tc.code)
			case err.Code != tc.code || err.Status != http.StatusForbidden:
				t.Fatalf("got %d %s, want 403 %s", err.Status, err, tc.code)
			case tc.detail != "" && (len(err.Extra) != 1 || err.Extra[0].Value != tc.detail):
				t.Fatalf("detail %q,\nwant   %q", err.Extra, tc.detail)
			}
		})
	}
}

func TestPermits(t *testing.T) {
	for _, tc := range []struct {
		perms  string
		op     operation
		exists bool
		want   bool
	}{
		{"r", opRead, true, true},
		{"cw", opRead, true, false},
		{"c", opWrite, false, true}, // create writes new blobs only
		{"c", opWrite, true, false},
		{"w", opWrite, true, true},
		{"r", opWrite, false, false},
		{"a", opAppend, true, true},
		{"w", opAppend, true, true},
		{"c", opAppend, true, false},
		{"w", opMetadata, true, true},
		{"ac", opMetadata, true, false},
		{"d", opDelete, true, true},
		{"rw", opDelete, true, false},
	} {
		if got := permits(tc.perms, tc.op, tc.exists); got != tc.want {
			t.Errorf("permits(%q, %d, exists %v) = %v", tc.perms, tc.op, tc.exists, got)
		}
	}
}

// A signed link carries ACR's parameter order and survives the round trip through a URL.
func TestSignedURL(t *testing.T) {
	now := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	s := New(WithClock(func() time.Time { return now }))
	if err := s.AddAccount("acrtasklogs"); err != nil {
		t.Fatal(err)
	}
	ref := Ref{"acrtasklogs", "c1", "logs/ca1/raw text.log"}
	link, err := s.SignedURL("https://localhost:8443/acrtasklogs.blob.core.windows.net", ref, "r", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "https://localhost:8443/acrtasklogs.blob.core.windows.net/c1/logs/ca1/raw%20text.log?sv=2023-01-03&se=2024-05-06T08%3A08%3A09Z&sr=b&sp=r&sig="
	if !strings.HasPrefix(link, prefix) {
		t.Fatalf("link %s", link)
	}
	u, _ := url.Parse(link)
	p, _ := parseSAS(u.Query())
	if err := p.authenticate(s.accountKey("acrtasklogs"), ref, now, true); err != nil {
		t.Fatalf("the link does not verify: %v", err)
	}
	if _, err := s.SignedURL("https://x", Ref{"nosuch", "c", "b"}, "r", time.Hour); err == nil {
		t.Fatal("signed for an account that does not exist")
	}
}

func TestAccountURL(t *testing.T) {
	const fallback = "https://localhost:8443"
	for _, tc := range []struct {
		host         string
		tls, proxied bool
		want         string
	}{
		{"localhost:8443", true, false, "https://localhost:8443/acct.blob.core.windows.net"},
		{"127.0.0.1:9443", true, false, "https://127.0.0.1:9443/acct.blob.core.windows.net"},
		// az through the proxy with a custom cloud at localhost: the same host, through the same proxy
		{"localhost:8443", true, true, "https://localhost:8443/acct.blob.core.windows.net"},
		// a container network's name for the emulator
		{"acr-emulator:8443", true, false, "https://acr-emulator:8443/acct.blob.core.windows.net"},
		// an Azure name through a proxy: the real name, which the proxy tunnels too
		{"management.azure.com", true, true, "https://acct.blob.core.windows.net"},
		{"myregistry.azurecr.io:443", true, true, "https://acct.blob.core.windows.net"},
		// an Azure name not through a proxy (a network alias): keep to the host that worked
		{"myregistry.azurecr.io", true, false, "https://myregistry.azurecr.io/acct.blob.core.windows.net"},
		// plain HTTP: the storage is HTTPS-only, so the HTTPS listener
		{"localhost:8080", false, false, "https://localhost:8443/acct.blob.core.windows.net"},
	} {
		if got := AccountURL("acct", tc.host, tc.tls, tc.proxied, fallback); got != tc.want {
			t.Errorf("AccountURL(%s, tls %v, proxied %v) = %s, want %s", tc.host, tc.tls, tc.proxied, got, tc.want)
		}
	}
}
