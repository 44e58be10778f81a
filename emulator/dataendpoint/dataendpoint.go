// Package dataendpoint names ACR's dedicated data endpoints and signs the download links
// they serve (https://aka.ms/acr/dedicated-data-endpoints). A registry with data endpoints
// redirects blob GETs to <registry>.<region>.data.azurecr.io, one per region it is in, with a
// short-lived link in the query; the data endpoint serves the blob to whoever holds the link,
// under the registry's network rules.
//
// ACR's links look like
// https://myregistry.eastus.data.azurecr.io/?t=<hex>&h=myregistry.azurecr.io&c=<correlation id>&r=<repository>&d=sha256:<hex>&p=<opaque>&s=<signature>&v=1
// (as Azure/peerd's tests of real links show). The emulator's carry the same parameters but p;
// what t, p and s hold in ACR's is UNCONFIRMED: here t is the expiry (hexadecimal Unix
// seconds) and s an HMAC-SHA256 of the others, bound to the registry and region.
package dataendpoint

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Suffix ends every data endpoint's host name.
const Suffix = ".data.azurecr.io"

var (
	registryRE = regexp.MustCompile(`^[a-z0-9]{5,50}$`)
	regionRE   = regexp.MustCompile(`^[a-z0-9]{2,40}$`)
)

// Host is a registry's data endpoint in a region: myregistry.eastus.data.azurecr.io.
func Host(registry, region string) string { return strings.ToLower(registry) + "." + region + Suffix }

// ParseHost reads the registry and region of a data endpoint's host name (with or without a
// port), in any case.
func ParseHost(host string) (registry, region string, ok bool) {
	host = strings.ToLower(host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	rest, ok := strings.CutSuffix(host, Suffix)
	if !ok {
		return "", "", false
	}
	registry, region, ok = strings.Cut(rest, ".")
	if !ok || !registryRE.MatchString(registry) || !regionRE.MatchString(region) {
		return "", "", false
	}
	return registry, region, true
}

// Link is what a download link grants: one blob of one repository, until Expiry.
type Link struct {
	Registry, Region string // whose data endpoint serves it
	LoginServer      string // h: the login server the client asked
	Correlation      string // c: the correlation id of the GET that was redirected
	Repository       string // r
	Digest           digest.Digest
	Expiry           time.Time
}

// Errors of Verify.
var (
	ErrInvalid = errors.New("the download link is not valid")
	ErrExpired = errors.New("the download link has expired")
)

// Signer signs and checks links with one key.
type Signer struct {
	key []byte
	now func() time.Time
}

// NewSigner signs with key; now is the clock (nil: time.Now).
func NewSigner(key []byte, now func() time.Time) *Signer {
	if now == nil {
		now = time.Now
	}
	return &Signer{key: key, now: now}
}

// Query is the link's query string, in ACR's parameter order.
func (s *Signer) Query(l Link) string {
	t := strconv.FormatInt(l.Expiry.Unix(), 16)
	q := "t=" + t + "&h=" + url.QueryEscape(l.LoginServer) + "&c=" + url.QueryEscape(l.Correlation) +
		"&r=" + url.QueryEscape(l.Repository) + "&d=" + url.QueryEscape(l.Digest.String())
	return q + "&s=" + s.sign(strings.ToLower(l.Registry), l.Region, t, l.LoginServer, l.Correlation, l.Repository, l.Digest.String()) + "&v=1"
}

// Verify checks a link's query for the data endpoint of registry in region.
func (s *Signer) Verify(registry, region string, q url.Values) (Link, error) {
	t, sig := q.Get("t"), q.Get("s")
	want := s.sign(strings.ToLower(registry), region, t, q.Get("h"), q.Get("c"), q.Get("r"), q.Get("d"))
	if sig == "" || q.Get("v") != "1" || !hmac.Equal([]byte(sig), []byte(want)) {
		return Link{}, ErrInvalid
	}
	exp, err := strconv.ParseInt(t, 16, 64)
	d, derr := digest.Parse(q.Get("d"))
	if err != nil || derr != nil {
		return Link{}, ErrInvalid
	}
	l := Link{Registry: strings.ToLower(registry), Region: region, LoginServer: q.Get("h"), Correlation: q.Get("c"), Repository: q.Get("r"),
		Digest: d, Expiry: time.Unix(exp, 0)}
	if !s.now().Before(l.Expiry) {
		return l, ErrExpired
	}
	return l, nil
}

func (s *Signer) sign(fields ...string) string {
	m := hmac.New(sha256.New, s.key)
	for _, f := range fields {
		m.Write([]byte(f))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
