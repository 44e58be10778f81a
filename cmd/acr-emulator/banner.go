package main

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator"
)

// publication says where clients reach the listeners: a bind address is never one to print
// (0.0.0.0 or [::] in a container), and inside a container the ports clients use are the
// host's published ones, which only the operator knows (--published-ports).
type publication struct {
	container bool
	ports     map[int]string // container port -> host:port as published
}

// parsePublished reads docker's -p syntax, [IP:]HOSTPORT:CONTAINERPORT, comma separated.
func parsePublished(spec string, container bool) (publication, error) {
	p := publication{container: container, ports: map[int]string{}}
	for _, item := range strings.Split(spec, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		i := strings.LastIndex(item, ":")
		cport, err := strconv.Atoi(item[i+1:])
		if i <= 0 || err != nil || cport <= 0 || cport > 65535 {
			return p, fmt.Errorf("--published-ports %q: want [IP:]HOSTPORT:CONTAINERPORT, e.g. 127.0.0.1:8443:8443", item)
		}
		host, hport := "localhost", item[:i]
		if j := strings.LastIndex(hport, ":"); j >= 0 {
			host, hport = reachableHost(strings.Trim(hport[:j], "[]")), hport[j+1:]
		}
		if n, err := strconv.Atoi(hport); err != nil || n <= 0 || n > 65535 {
			return p, fmt.Errorf("--published-ports %q: host port %q is not a port", item, hport)
		}
		p.ports[cport] = net.JoinHostPort(host, hport)
	}
	return p, nil
}

// inContainer detects docker (/.dockerenv), podman (/run/.containerenv) and the container
// variable systemd-nspawn, podman and others set.
func inContainer() bool {
	if os.Getenv("container") != "" {
		return true
	}
	for _, f := range []string{"/.dockerenv", "/run/.containerenv"} {
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	return false
}

// reachableHost names a bound host the way clients on this machine reach it; the
// certificate covers localhost.
func reachableHost(h string) string {
	switch h {
	case "", "0.0.0.0", "::", "127.0.0.1", "::1":
		return "localhost"
	}
	return h
}

// hostPort maps a listener's host:port to where clients reach it.
func (p publication) hostPort(hp string) string {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return hp
	}
	host = reachableHost(host)
	if host != "localhost" {
		return net.JoinHostPort(host, port)
	}
	if n, err := strconv.Atoi(port); err == nil {
		if pub, ok := p.ports[n]; ok {
			return pub
		}
	}
	return net.JoinHostPort(host, port)
}

// url maps a listener's base URL (https://[::]:8443) to where clients reach it.
func (p publication) url(raw string) string {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || u.Host == "" {
		return raw
	}
	u.Host = p.hostPort(u.Host)
	return u.String()
}

// unpublished lists the listeners' ports a container does not publish.
func (p publication) unpublished(urls ...string) []string {
	var out []string
	for _, raw := range urls {
		if u, err := url.Parse(raw); raw != "" && err == nil {
			if n, err := strconv.Atoi(u.Port()); err == nil && p.ports[n] == "" {
				out = append(out, u.Port())
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) < len(out[j]) || len(out[i]) == len(out[j]) && out[i] < out[j] })
	return out
}

// printQuickStart prints how to reach the emulator. The default world's secrets are well known
// and printed; a custom world's are not (a log is not a secret store): they are at
// /_emulator/state.
func printQuickStart(w io.Writer, emu *emulator.Emulator, pub publication, wellKnown bool) {
	regs := emu.Registries()
	wd := emu.World()
	httpsURL, httpURL, proxyURL := pub.url(emu.HTTPSURL()), pub.url(emu.HTTPURL()), pub.url(emu.ProxyURL())
	secret := func(s string) string {
		if wellKnown {
			return s
		}
		return "<secret: see " + httpURL + "/_emulator/state>"
	}
	fmt.Fprintf(w, "acr-emulator %s is ready.\n\n", buildVersion())
	if pub.container {
		if len(pub.ports) > 0 {
			fmt.Fprintf(w, "In a container. From the host, on the published ports:\n\n")
		} else {
			fmt.Fprintf(w, "In a container: the addresses below are the container's. From the host, use the ports you published\n"+
				"(docker run -p 127.0.0.1:8443:8443 -p 127.0.0.1:8080:8080 -p 127.0.0.1:8081:8081 ...), and set\n"+
				"ACR_EMULATOR_PUBLISHED_PORTS the same way (127.0.0.1:8443:8443,...) to have them printed here.\n\n")
		}
	}
	for _, r := range regs {
		fmt.Fprintf(w, "  registry  %-14s login server %s\n", r.Name, pub.hostPort(r.LoginServer))
	}
	caPath := emu.CA().Path()
	if pub.container {
		caPath += " (in the container)"
	}
	if httpURL != "" {
		caPath += "; also " + httpURL + "/_emulator/ca.pem"
	}
	fmt.Fprintf(w, "  CA        %s\n", caPath)
	fmt.Fprintf(w, "  Entra ID  authority %s/  tenant %s\n", httpsURL, wd.TenantID)
	if httpURL != "" {
		fmt.Fprintf(w, "  control   %s/_emulator/health  %s/_emulator/state\n", httpURL, httpURL)
		fmt.Fprintf(w, "  portal    %s/_emulator/portal/  (Networking page per registry: public access, firewall, trusted services)\n", httpURL)
	}
	if pub.container && len(pub.ports) > 0 {
		listeners := []string{emu.HTTPSURL(), emu.HTTPURL(), emu.ProxyURL()}
		for _, o := range emu.Origins() {
			listeners = append(listeners, o.ProxyURL)
		}
		if missing := pub.unpublished(listeners...); len(missing) > 0 {
			fmt.Fprintf(w, "  not published: container port %s (reachable only from the container network)\n", strings.Join(missing, ", "))
		}
	}
	if len(regs) == 0 {
		return
	}
	ls := pub.hostPort(regs[0].LoginServer)
	fmt.Fprintf(w, "\nTry it (export SSL_CERT_FILE=<the CA> first):\n")
	if user, pass := emu.AdminCredentials(regs[0].Name); user != "" {
		fmt.Fprintf(w, "  crane auth login %s -u %s -p %s\n", ls, user, secret(pass))
		fmt.Fprintf(w, "  docker login %s -u %s -p %s\n", ls, user, secret(pass))
	}
	fmt.Fprintf(w, "  acr-emulator sample push --registry %s   (pushes %s/hello:v1 and a multi-arch index)\n", ls, ls)
	fmt.Fprintf(w, "  crane ls %s/hello\n", ls)
	for _, sp := range wd.ServicePrincipals {
		fmt.Fprintf(w, "\nService principal %s: AZURE_TENANT_ID=%s AZURE_CLIENT_ID=%s AZURE_CLIENT_SECRET=%s\n",
			sp.Name, wd.TenantID, sp.ClientID, secret(sp.Secret))
		fmt.Fprintf(w, "  (azidentity: authority host %s/, DisableInstanceDiscovery: true; or docker login -u %s -p %s)\n",
			httpsURL, sp.ClientID, secret(sp.Secret))
		break
	}
	if proxyURL != "" {
		fmt.Fprintf(w, "\nReal Azure names (login.microsoftonline.com, management.azure.com, <registry>.azurecr.io) via HTTPS_PROXY=%s\n", proxyURL)
	}
	if origins := emu.Origins(); len(origins) > 0 {
		fmt.Fprintf(w, "\nNamed origins (Go clients never proxy localhost: use <registry>.azurecr.io through them):\n")
		for _, o := range origins {
			fmt.Fprintf(w, "  %-12s HTTPS_PROXY=%s\n", o.Name, pub.url(o.ProxyURL))
		}
	}
	if httpURL != "" {
		for _, c := range wd.ComputeResources {
			fmt.Fprintf(w, "\nManaged identity of %q (azidentity.NewManagedIdentityCredential):\n", c.Name)
			fmt.Fprintf(w, "  export IDENTITY_ENDPOINT=%s/msi/token IDENTITY_HEADER=%s\n", httpURL, secret(c.IdentityHeader))
		}
	}
	fmt.Fprintln(w)
}
