package storage

import (
	"net"
	"net/http"
	"strings"
)

// How clients address an account. Azure's own form is virtual-hosted,
// https://<account>.blob.core.windows.net/<container>/<blob>, a name that reaches this machine
// only through the emulator's proxies (which tunnel every name into it). Clients that talk to
// the emulator directly use path-style addresses on its listener, as with Azurite:
// https://localhost:8443/<account>/<container>/<blob>. The links the emulator hands out put
// the account's real host name in that first segment,
// https://localhost:8443/<account>.blob.core.windows.net/<container>/<blob>, because some
// clients read <account>.blob.<suffix> out of the URL: Debian's az 2.45 parses run log and
// upload links with the regex http(s)?://(?P<account>.*?)\.blob\.(?P<suffix>.*?)/... and
// rebuilds the URL from its parts, which gives back this same URL, and newer az versions'
// BlobClient.from_blob_url takes the first path segment of a localhost URL as the account.

// BlobSuffix is the public cloud's blob endpoint suffix.
const BlobSuffix = ".blob.core.windows.net"

// AccountURL is the base URL to hand a client for an account, judged from the request the
// client made to ask for a link (listLogSasUrl, a registry blob GET):
//   - a request that came through one of the emulator's proxies (proxied) for an Azure name
//     gets the account's real name, https://<account>.blob.core.windows.net, which the same
//     proxy reaches;
//   - any other request gets the path-style form on the host it used, when it came over TLS
//     (the storage is HTTPS-only, as accounts requiring secure transfer are), else on the
//     emulator's HTTPS listener, fallback (https://localhost:8443).
func AccountURL(account, host string, tls, proxied bool, fallback string) string {
	hostname := strings.ToLower(host)
	if h, _, err := net.SplitHostPort(hostname); err == nil {
		hostname = h
	}
	if proxied && isAzureName(hostname) {
		return "https://" + account + BlobSuffix
	}
	base := strings.TrimSuffix(fallback, "/")
	if tls && host != "" {
		base = "https://" + host
	}
	return base + "/" + account + BlobSuffix
}

// isAzureName tells Azure's public names (the ones clients reach through a proxy) from the
// emulator's own (localhost, its addresses, names a container network gives it).
func isAzureName(host string) bool {
	for _, s := range []string{".azure.com", ".windows.net", ".azurecr.io", ".microsoftonline.com", ".azure.net"} {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// hostAccount reads the account from a virtual-hosted request (<account>.blob.<suffix>).
func hostAccount(host string) (string, bool) {
	host = strings.ToLower(host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	name, rest, ok := strings.Cut(host, ".")
	if !ok || !strings.HasPrefix(rest, "blob.") || !accountName.MatchString(name) {
		return "", false
	}
	return name, true
}

// pathAccount reads the account from a path-style request's first segment: the account's name
// or its real host name.
func pathAccount(segment string) string {
	segment = strings.ToLower(segment)
	if name, rest, ok := strings.Cut(segment, "."); ok && strings.HasPrefix(rest, "blob.") {
		return name
	}
	return segment
}

// Serves says whether a request is for the storage: a virtual-hosted account name, or a path
// whose first segment names one of the store's accounts (registry, ARM and Entra paths never
// do: their first segments are not account names the emulator creates).
func (s *Store) Serves(r *http.Request) bool {
	if _, ok := hostAccount(r.Host); ok {
		return true
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return first != "" && s.hasAccount(pathAccount(first))
}

// route reads the blob a request names.
func route(r *http.Request) (Ref, *Error) {
	p := strings.TrimPrefix(r.URL.Path, "/")
	var ref Ref
	if a, ok := hostAccount(r.Host); ok {
		ref.Account = a
	} else {
		var first string
		first, p, _ = strings.Cut(p, "/")
		ref.Account = pathAccount(first)
	}
	ref.Container, ref.Blob, _ = strings.Cut(p, "/")
	if ref.Container == "" || ref.Blob == "" || len(ref.Blob) > 1024 {
		return ref, errInvalidURI()
	}
	return ref, nil
}
