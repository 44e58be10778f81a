// Package faults injects the failures a real registry has now and then, so a user can test
// that their clients retry or fail cleanly: a status (429 with Retry-After, 500, 503), added
// latency, a dropped connection, or an upload cut off midway. Rules are declared per registry
// (world file or POST /_emulator/faults), match requests by method and route, and apply to a
// number of matching requests (all of them when Count is 0), in order of declaration.
package faults

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Routes a rule can match: the part of the registry API a request is for.
const (
	RouteAny      = ""
	RouteManifest = "manifests" // /v2/<name>/manifests/<ref>
	RouteBlob     = "blobs"     // /v2/<name>/blobs/<digest>
	RouteUpload   = "uploads"   // /v2/<name>/blobs/uploads/...
	RouteToken    = "token"     // /oauth2/token and /oauth2/exchange
	RouteMetadata = "acr"       // /acr/v1/...
)

// Rule is one injected fault.
type Rule struct {
	Registry string `json:"registry"`
	// Method ("" any) and Route (one of the Route constants) select the requests.
	Method string `json:"method,omitempty"`
	Route  string `json:"route,omitempty"`
	// Status answers the request with this status and the registry's error envelope (429 adds
	// Retry-After); 0 lets it through after Latency.
	Status     int    `json:"status,omitempty"`
	RetryAfter int    `json:"retryAfter,omitempty"` // seconds; with status 429 or 503
	Latency    string `json:"latency,omitempty"`    // a Go duration added before anything else
	// Drop closes the connection without an answer; CutUpload reads half the body of an
	// upload request, then closes the connection.
	Drop      bool `json:"drop,omitempty"`
	CutUpload bool `json:"cutUpload,omitempty"`
	// Count is how many matching requests the rule applies to; 0 means all.
	Count int `json:"count,omitempty"`

	latency time.Duration
	left    int // requests left when Count > 0
}

// MaxRules bounds what a user can declare.
const MaxRules = 100

// Validate checks a rule and fills its parsed fields.
func (r *Rule) Validate() error {
	switch r.Route {
	case RouteAny, RouteManifest, RouteBlob, RouteUpload, RouteToken, RouteMetadata:
	default:
		return fmt.Errorf("route %q: want manifests, blobs, uploads, token or acr", r.Route)
	}
	if r.Registry == "" {
		return errors.New("registry is required")
	}
	kinds := 0
	for _, set := range []bool{r.Status != 0, r.Drop, r.CutUpload} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		return errors.New("a rule answers with a status, drops the connection or cuts an upload: one of them")
	}
	if r.Status != 0 && (r.Status < 400 || r.Status > 599) {
		return fmt.Errorf("status %d: want a 4xx or 5xx status", r.Status)
	}
	if r.CutUpload && r.Route != RouteUpload && r.Route != RouteAny {
		return errors.New("cutUpload applies to the uploads route")
	}
	if r.RetryAfter < 0 || r.RetryAfter > 3600 || r.Count < 0 {
		return errors.New("retryAfter (0-3600) and count must not be negative")
	}
	if r.Latency != "" {
		d, err := time.ParseDuration(r.Latency)
		if err != nil || d < 0 || d > 5*time.Minute {
			return fmt.Errorf("latency %q: want a duration up to 5m", r.Latency)
		}
		r.latency = d
	}
	if kinds == 0 && r.latency == 0 {
		return errors.New("a rule needs a status, drop, cutUpload or latency")
	}
	r.left = r.Count
	return nil
}

// Route names the part of the API a request path is for.
func Route(path string) string {
	switch {
	case strings.HasPrefix(path, "/oauth2/"):
		return RouteToken
	case strings.HasPrefix(path, "/acr/"):
		return RouteMetadata
	case !strings.HasPrefix(path, "/v2/"):
		return RouteAny
	case strings.Contains(path, "/blobs/uploads"):
		return RouteUpload
	case strings.Contains(path, "/blobs/"):
		return RouteBlob
	case strings.Contains(path, "/manifests/"):
		return RouteManifest
	}
	return RouteAny
}

func (r *Rule) matches(registry, method, route string) bool {
	return strings.EqualFold(r.Registry, registry) && (r.Method == "" || strings.EqualFold(r.Method, method)) &&
		(r.Route == RouteAny || r.Route == route)
}

// Set holds the rules of an emulator. The zero value is empty and usable.
type Set struct {
	mu    sync.Mutex
	rules []*Rule
}

// Add validates and appends rules; none is added when one is invalid.
func (s *Set) Add(rules ...Rule) error {
	var out []*Rule
	for i := range rules {
		r := rules[i]
		if err := r.Validate(); err != nil {
			return fmt.Errorf("fault %d: %w", i, err)
		}
		out = append(out, &r)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rules)+len(out) > MaxRules {
		return fmt.Errorf("at most %d fault rules", MaxRules)
	}
	s.rules = append(s.rules, out...)
	return nil
}

// Clear removes every rule.
func (s *Set) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rules = nil
}

// List returns the rules, with how many requests each has left in Count.
func (s *Set) List() []Rule {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Rule, 0, len(s.rules))
	for _, r := range s.rules {
		c := *r
		c.Count = r.left
		out = append(out, c)
	}
	return out
}

// take finds the first rule for a request and spends one of its requests; a rule with none
// left is dropped.
func (s *Set) take(registry, method, route string) (Rule, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.rules {
		if !r.matches(registry, method, route) {
			continue
		}
		if r.Count > 0 {
			r.left--
			if r.left <= 0 {
				s.rules = append(s.rules[:i:i], s.rules[i+1:]...)
			}
		}
		return *r, true
	}
	return Rule{}, false
}

// Middleware applies the set's rules to a registry's requests. writeError writes a status in
// the registry's error envelope.
func (s *Set) Middleware(registry string, writeError func(w http.ResponseWriter, r *http.Request, status int), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rule, ok := s.take(registry, r.Method, Route(r.URL.Path))
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if rule.latency > 0 {
			select {
			case <-time.After(rule.latency):
			case <-r.Context().Done():
				return
			}
		}
		switch {
		case rule.Drop:
			drop(w)
		case rule.CutUpload:
			if r.ContentLength > 1 {
				_, _ = io.CopyN(io.Discard, r.Body, r.ContentLength/2)
			}
			drop(w)
		case rule.Status != 0:
			if rule.RetryAfter > 0 || rule.Status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", strconv.Itoa(max(rule.RetryAfter, 1)))
			}
			writeError(w, r, rule.Status)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// drop closes the connection without an answer, as a network fault would.
func drop(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler) // HTTP/2: abort the stream
}
