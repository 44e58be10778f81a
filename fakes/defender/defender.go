// Package defender simulates Microsoft Defender for Cloud's vulnerability assessment of
// container registries: with the subscription's Containers plan on
// (Microsoft.Security/pricings/Containers, pricingTier Standard), every image pushed is pulled
// and scanned within seconds from Defender's trusted Azure-service origin, with no customer
// identity (Defender uses its own). A result per image digest lists what the scan derived (the
// OS from /etc/os-release, packages from the dpkg or apk databases), or why it could not scan
// (the registry's own error, e.g. its 403 when trusted services are not allowed).
//
// Limits: no vulnerability database, so findings are package inventories; results are served at
// <registry id>/providers/Microsoft.Security/assessments/<AssessmentKey>/subAssessments.
package defender

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/fakes/acrclient"
	"github.com/acr-emulator/acr-emulator/fakes/archive"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
	"github.com/go-chi/chi/v5"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// AssessmentKey is the assessment "Container registry images should have vulnerability
// findings resolved".
const AssessmentKey = "dbd0cb49-b563-45e7-9724-889e799fa648"

// maxScannedLayer bounds what a scan decompresses of one layer.
const maxScannedLayer = 1 << 30

// Result is one image's scan.
type Result struct {
	RegistryID, Registry, Repository, Digest string
	Status                                   string // Healthy (scanned), NotApplicable (could not scan)
	OS                                       string
	Packages                                 []string
	Error                                    string
	ScannedAt                                time.Time
}

// Service scans pushed images while the Containers plan is on.
type Service struct {
	p       platform.Platform
	auth    *authn.Basic
	mu      sync.Mutex
	enabled bool
	results map[string][]Result // by registry id (lowercase)
	wg      sync.WaitGroup
}

// New returns the service; auth is Defender's own identity on the registries.
func New(p platform.Platform, auth *authn.Basic) *Service {
	return &Service{p: p, auth: auth, results: map[string][]Result{}}
}

// Handler serves Microsoft.Security (already authenticated by ARM).
func (s *Service) Handler() http.Handler {
	r := chi.NewRouter()
	r.Put("/subscriptions/{sub}/providers/Microsoft.Security/pricings/{plan}", s.putPricing)
	r.Get("/subscriptions/{sub}/providers/Microsoft.Security/pricings/{plan}", s.getPricing)
	r.Get("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerRegistry/registries/{name}/providers/Microsoft.Security/assessments/{key}/subAssessments", s.subAssessments)
	return r
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Service) pricingJSON(r *http.Request) map[string]any {
	tier := "Free"
	if s.enabled {
		tier = "Standard"
	}
	return map[string]any{"id": "/subscriptions/" + chi.URLParam(r, "sub") + "/providers/Microsoft.Security/pricings/Containers",
		"name": "Containers", "type": "Microsoft.Security/pricings", "properties": map[string]any{"pricingTier": tier}}
}

func (s *Service) putPricing(w http.ResponseWriter, r *http.Request) {
	if !strings.EqualFold(chi.URLParam(r, "plan"), "Containers") {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"code": "InvalidInput",
			"message": "The emulator simulates the Containers plan only."}})
		return
	}
	var b struct {
		Properties struct {
			PricingTier string `json:"pricingTier"`
		} `json:"properties"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&b); err != nil || (b.Properties.PricingTier != "Standard" && b.Properties.PricingTier != "Free") {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"code": "InvalidInput",
			"message": "properties.pricingTier must be Standard or Free."}})
		return
	}
	s.mu.Lock()
	s.enabled = b.Properties.PricingTier == "Standard"
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.pricingJSON(r))
}

func (s *Service) getPricing(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.pricingJSON(r))
}

// OnPush schedules the scan of a pushed image manifest (indexes and artifacts are skipped).
func (s *Service) OnPush(registryID, loginServer, repo, digest, mediaType string) {
	s.mu.Lock()
	enabled := s.enabled
	s.mu.Unlock()
	if !enabled || (mediaType != "application/vnd.oci.image.manifest.v1+json" && mediaType != "application/vnd.docker.distribution.manifest.v2+json") {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		res := s.scan(ctx, loginServer, repo, digest)
		res.RegistryID, res.Registry, res.Repository, res.Digest, res.ScannedAt = registryID, loginServer, repo, digest, time.Now().UTC()
		s.mu.Lock()
		key := strings.ToLower(registryID)
		s.results[key] = append(s.results[key], res)
		s.mu.Unlock()
	}()
}

// Wait blocks until running scans finish (tests, shutdown).
func (s *Service) Wait() { s.wg.Wait() }

func (s *Service) scan(ctx context.Context, loginServer, repo, digest string) Result {
	ref, err := name.NewDigest(loginServer + "/" + repo + "@" + digest)
	if err != nil {
		return Result{Status: "NotApplicable", Error: err.Error()}
	}
	// Defender's own credential, from its origin; Login cannot fail for a username/password.
	auth, tr, _ := platform.Puller{Platform: s.p, Origin: network.ServiceDefender}.Login(ctx, platform.Pull{Basic: s.auth}, loginServer)
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithTransport(tr), remote.WithAuth(auth))
	if err != nil {
		return Result{Status: "NotApplicable", Error: "The image could not be scanned: " + acrclient.Message(err)}
	}
	layers, err := img.Layers()
	if err != nil {
		return Result{Status: "NotApplicable", Error: "The image could not be scanned: " + acrclient.Message(err)}
	}
	res := Result{Status: "Healthy"}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return Result{Status: "NotApplicable", Error: "The image could not be scanned: " + acrclient.Message(err)}
		}
		// A scan reads what a pushed layer decompresses to: bounded, so a crafted layer cannot
		// keep the scanner busy for hours (what it found until then stands).
		inspect(archive.Limit(rc, maxScannedLayer, "the layer"), &res)
		rc.Close()
	}
	return res
}

// inspect reads the files a scanner looks at; later layers override earlier ones.
func inspect(r io.Reader, res *Result) {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err != nil {
			return
		}
		switch strings.TrimPrefix(h.Name, "./") {
		case "etc/os-release", "usr/lib/os-release":
			if os := prettyName(tr); os != "" {
				res.OS = os
			}
		case "var/lib/dpkg/status":
			res.Packages = fields(tr, "Package: ")
		case "lib/apk/db/installed":
			res.Packages = fields(tr, "P:")
		}
	}
}

func prettyName(r io.Reader) string {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}

func fields(r io.Reader, prefix string) []string {
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// subAssessments lists the registry's scan results, one sub-assessment per scanned image.
func (s *Service) subAssessments(w http.ResponseWriter, r *http.Request) {
	id, _ := armid.Parse(r.URL.Path)
	regID := id.ScopePath()
	s.mu.Lock()
	results := append([]Result(nil), s.results[strings.ToLower(regID)]...)
	s.mu.Unlock()
	out := []any{}
	for _, res := range results {
		out = append(out, map[string]any{
			"id":   regID + "/providers/Microsoft.Security/assessments/" + AssessmentKey + "/subAssessments/" + strings.TrimPrefix(res.Digest, "sha256:"),
			"name": strings.TrimPrefix(res.Digest, "sha256:"), "type": "Microsoft.Security/assessments/subAssessments",
			"properties": map[string]any{
				"displayName": "Image scan of " + res.Repository + "@" + res.Digest, "timeGenerated": res.ScannedAt.Format(time.RFC3339),
				"status": map[string]string{"code": res.Status, "description": res.Error},
				"additionalData": map[string]any{"assessedResourceType": "ContainerRegistryVulnerability", "registryHost": res.Registry,
					"repositoryName": res.Repository, "imageDigest": res.Digest, "operatingSystem": res.OS, "packages": res.Packages},
			},
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"value": out})
}
