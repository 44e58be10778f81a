// Package hostguard decides which Host names the emulator answers, against DNS rebinding: a
// web page whose own name resolves to 127.0.0.1 must not reach /_emulator/state (which holds
// every secret) or save the portal's forms. A rebinding attack needs a name the attacker
// registers in public DNS, so IP literals and single-label names (localhost, a container's
// name on a compose network) are always served; dotted names only when the emulator owns
// them.
package hostguard

import (
	"net"
	"net/netip"
	"strings"
)

// Names is the set of dotted names served: exact names and "*.suffix" patterns.
type Names struct {
	exact    map[string]bool
	suffixes []string // ".azurecr.io"
	any      bool     // "*": every name (the operator opted out)
}

// New builds the set; entries are names or "*.suffix"; "*" allows every name.
func New(entries ...string) *Names {
	n := &Names{exact: map[string]bool{}}
	n.Add(entries...)
	return n
}

// Add adds names or patterns.
func (n *Names) Add(entries ...string) {
	for _, e := range entries {
		e = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(e)), ".")
		switch {
		case e == "":
		case e == "*":
			n.any = true
		case strings.HasPrefix(e, "*."):
			n.suffixes = append(n.suffixes, e[1:])
		default:
			n.exact[e] = true
		}
	}
}

// Allowed reports whether a request's Host (name or name:port) is served. owns answers for
// names that come and go (registries created through ARM); it may be nil.
func (n *Names) Allowed(hostport string, owns func(host string) bool) bool {
	host := strings.ToLower(hostport)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	if host == "" {
		return true // HTTP/1.0 without Host: nothing to rebind
	}
	if _, err := netip.ParseAddr(host); err == nil || !strings.Contains(host, ".") {
		return true
	}
	if n.any || n.exact[host] || strings.HasSuffix(host, ".localhost") {
		return true
	}
	for _, s := range n.suffixes {
		if strings.HasSuffix(host, s) {
			return true
		}
	}
	return owns != nil && owns(host)
}
