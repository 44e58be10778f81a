package main

import (
	"net"
	"net/url"
	"slices"
	"strings"
)

// clientView is what a client needs to know of a running emulator; exec reads it from the
// emulator it started, env from /_emulator/state.
type clientView struct {
	HTTPS, HTTP, Proxy string // base URLs as clients reach them; HTTP and Proxy may be ""
	CAFile             string
	TenantID           string
	ClientID, Secret   string // the world's first service principal
	IdentityHeader     string // the world's first compute resource
	LoginServer        string // the world's first registry
}

// vars is the environment a client needs, in a stable order: the CA for Go, Python, Node and
// curl; azidentity's EnvironmentCredential and ManagedIdentityCredential (App Service
// protocol); the login server; and the proxy for real Azure names. HTTPS_PROXY also applies
// to localhost in some clients (Python's requests, curl), so NO_PROXY names the emulator's own
// hosts: they are reached directly, and their origin stays the TCP peer.
func (v clientView) vars() [][2]string {
	out := [][2]string{
		{"ACR_EMULATOR_URL", v.HTTPS},
		{"ACR_EMULATOR_CA", v.CAFile},
		{"SSL_CERT_FILE", v.CAFile},
		{"REQUESTS_CA_BUNDLE", v.CAFile},
		{"NODE_EXTRA_CA_CERTS", v.CAFile},
		{"CURL_CA_BUNDLE", v.CAFile},
		{"AZURE_TENANT_ID", v.TenantID},
		{"AZURE_CLIENT_ID", v.ClientID},
		{"AZURE_CLIENT_SECRET", v.Secret},
		{"AZURE_AUTHORITY_HOST", v.authority()},
	}
	identity := v.HTTP
	if identity == "" {
		identity = v.HTTPS
	}
	if v.IdentityHeader != "" {
		out = append(out, [2]string{"IDENTITY_ENDPOINT", identity + "/msi/token"}, [2]string{"IDENTITY_HEADER", v.IdentityHeader})
	}
	if v.LoginServer != "" {
		out = append(out, [2]string{"ACR_LOGIN_SERVER", v.LoginServer})
	}
	if v.Proxy != "" {
		out = append(out, [2]string{"HTTPS_PROXY", v.Proxy})
	}
	out = append(out, [2]string{"NO_PROXY", strings.Join(v.directHosts(), ",")})
	var kept [][2]string
	for _, kv := range out {
		if kv[1] != "" && kv[1] != "/" {
			kept = append(kept, kv)
		}
	}
	return kept
}

// authority is Entra's address for azidentity. With the proxy it is Entra's real name, which
// the proxy sends to the emulator: MSAL for Python (Debian's 1.21) drops the port of an
// authority such as https://localhost:8443 during instance discovery, and every client
// honours HTTPS_PROXY for that name.
func (v clientView) authority() string {
	if v.Proxy != "" {
		return "https://login.microsoftonline.com/"
	}
	return v.HTTPS + "/"
}

// directHosts are the emulator's own hosts, which clients reach without the proxy.
func (v clientView) directHosts() []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	for _, raw := range []string{v.HTTPS, v.HTTP, "//" + v.LoginServer} {
		if u, err := url.Parse(raw); err == nil && u.Hostname() != "" && !slices.Contains(hosts, u.Hostname()) &&
			!strings.HasSuffix(u.Hostname(), ".azurecr.io") {
			hosts = append(hosts, u.Hostname())
		}
	}
	return hosts
}

// environ merges vars into an environment (KEY=VALUE), replacing what it sets in either case:
// clients read https_proxy and no_proxy too, and some prefer them.
func environ(base []string, vars [][2]string) []string {
	set := map[string]bool{}
	for _, kv := range vars {
		set[strings.ToUpper(kv[0])] = true
	}
	var out []string
	for _, kv := range base {
		if k, _, _ := strings.Cut(kv, "="); !set[strings.ToUpper(k)] {
			out = append(out, kv)
		}
	}
	for _, kv := range vars {
		out = append(out, kv[0]+"="+kv[1])
	}
	return out
}

// exports renders vars as POSIX shell export lines.
func exports(vars [][2]string) string {
	var b strings.Builder
	for _, kv := range vars {
		b.WriteString("export " + kv[0] + "=" + shellQuote(kv[1]) + "\n")
	}
	return b.String()
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:,@=+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// withHost replaces a base URL's localhost with host (the name under which the caller reached
// the emulator, e.g. its compose service), keeping the port.
func withHost(raw, host string) string {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || host == "" || u.Hostname() != "localhost" {
		return raw
	}
	u.Host = net.JoinHostPort(host, u.Port())
	return u.String()
}
