// Package appservice simulates an App Service web app for containers (Microsoft.Web/sites),
// the negative case of trusted services: "enabling the allow trusted services setting doesn't
// apply to App Service". A site pulls its image with its managed identity
// (acrUseManagedIdentityCreds) from App Service's outbound IP, so network rules apply to it
// like to any internet client, whatever networkRuleBypassOptions says.
//
// Limits: the container does not run; the site's state and the emulator-specific
// containerStartupError field report the pull.
package appservice

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/fakes/acrclient"
	"github.com/acr-emulator/acr-emulator/fakes/armio"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
	"github.com/go-chi/chi/v5"
	"github.com/google/go-containerregistry/pkg/name"
)

// service is the origin name: not a trusted service.
const service = "appservice"

// Service serves sites.
type Service struct {
	p     platform.Platform
	mu    sync.Mutex
	sites map[string]map[string]any
}

// New returns the service.
func New(p platform.Platform) *Service { return &Service{p: p, sites: map[string]map[string]any{}} }

// Handler serves the Microsoft.Web provider (already authenticated by ARM).
func (s *Service) Handler() http.Handler {
	r := chi.NewRouter()
	base := "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Web/sites"
	r.Put(base+"/{name}", s.put)
	r.Get(base+"/{name}", s.get)
	r.Delete(base+"/{name}", s.delete)
	return r
}

func siteID(r *http.Request) string {
	id, _ := armid.Parse(r.URL.Path)
	return id.String()
}

type siteBody struct {
	Location   string          `json:"location"`
	Kind       string          `json:"kind"`
	Identity   *armio.Identity `json:"identity"`
	Properties struct {
		SiteConfig struct {
			LinuxFxVersion             string `json:"linuxFxVersion"`
			AcrUseManagedIdentityCreds bool   `json:"acrUseManagedIdentityCreds"`
			AcrUserManagedIdentityID   string `json:"acrUserManagedIdentityID"`
		} `json:"siteConfig"`
	} `json:"properties"`
}

// put creates or updates a site and pulls its container image, as App Service does on start.
func (s *Service) put(w http.ResponseWriter, r *http.Request) {
	var b siteBody
	if !armio.Decode(w, r, &b) {
		return
	}
	image, ok := strings.CutPrefix(b.Properties.SiteConfig.LinuxFxVersion, "DOCKER|")
	if !ok || image == "" {
		armio.Error(w, http.StatusBadRequest, "BadRequest", "siteConfig.linuxFxVersion must be DOCKER|<image>: the emulator simulates container sites only.")
		return
	}
	id := siteID(r)
	system, user := b.Identity.Assigned()
	ids, err := s.p.Attach(id, system, user)
	if err != nil {
		armio.Error(w, http.StatusBadRequest, "InvalidIdentity", err.Error())
		return
	}
	state, startupErr := "Running", ""
	if err := s.pull(r, image, b, ids); err != nil {
		state = "Stopped"
		startupErr = err.Error()
	}
	res := map[string]any{
		"id": id, "name": chi.URLParam(r, "name"), "type": "Microsoft.Web/sites", "kind": b.Kind, "location": b.Location,
		"properties": map[string]any{"state": state, "provisioningState": "Succeeded", "containerStartupError": startupErr,
			"defaultHostName": chi.URLParam(r, "name") + ".azurewebsites.net",
			"siteConfig": map[string]any{"linuxFxVersion": b.Properties.SiteConfig.LinuxFxVersion,
				"acrUseManagedIdentityCreds": b.Properties.SiteConfig.AcrUseManagedIdentityCreds,
				"acrUserManagedIdentityID":   b.Properties.SiteConfig.AcrUserManagedIdentityID}},
	}
	if b.Identity != nil {
		ident := map[string]any{"type": b.Identity.Type, "tenantId": s.p.TenantID()}
		if ids.System != nil {
			ident["principalId"] = ids.System.PrincipalID
		}
		res["identity"] = ident
	}
	s.mu.Lock()
	_, existed := s.sites[strings.ToLower(id)]
	s.sites[strings.ToLower(id)] = res
	s.mu.Unlock()
	code := http.StatusCreated
	if existed {
		code = http.StatusOK
	}
	armio.WriteJSON(w, code, res)
}

// pull fetches the image with the site's managed identity, from App Service's origin. A
// failure reads as App Service reports it (a Docker API error wrapping the registry's text).
func (s *Service) pull(r *http.Request, image string, b siteBody, ids platform.Identities) error {
	if !b.Properties.SiteConfig.AcrUseManagedIdentityCreds {
		return fmt.Errorf("the emulator simulates managed-identity pulls only: set siteConfig.acrUseManagedIdentityCreds")
	}
	identity := acrclient.Identity{Endpoint: s.p.IdentityEndpoint(), Header: ids.Header}
	if uid := b.Properties.SiteConfig.AcrUserManagedIdentityID; uid != "" {
		u := ids.UserIdentity(uid)
		if u == nil {
			return fmt.Errorf("the identity %s is not assigned to the site", uid)
		}
		identity.ClientID = u.ClientID
	} else if ids.System == nil {
		return fmt.Errorf("the site has no system-assigned identity")
	}
	_, err := (&acrclient.Client{Transport: s.p.Transport(service, identity.ClientID == ""), Identity: identity}).Pull(r.Context(), image)
	if err == nil {
		return nil
	}
	ref, perr := name.ParseReference(image)
	if perr != nil {
		return err
	}
	msg := err.Error()
	var e *acrclient.Error
	if errors.As(err, &e) {
		// Docker prints the registry's code in lower case: "denied: client with IP ...".
		msg = e.Message
		if e.Code != "" {
			msg = strings.ToLower(e.Code) + ": " + e.Message
		}
	}
	return fmt.Errorf(`DockerApiException: Docker API responded with status code=InternalServerError, response={"message":"Head \"https://%s/v2/%s/manifests/%s\": %s"}`,
		ref.Context().RegistryStr(), ref.Context().RepositoryStr(), ref.Identifier(), msg)
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	site, ok := s.sites[strings.ToLower(siteID(r))]
	s.mu.Unlock()
	if !ok {
		armio.NotFound(w, "Microsoft.Web/sites", chi.URLParam(r, "name"), chi.URLParam(r, "rg"))
		return
	}
	armio.WriteJSON(w, http.StatusOK, site)
}

func (s *Service) delete(w http.ResponseWriter, r *http.Request) {
	id := strings.ToLower(siteID(r))
	s.mu.Lock()
	_, ok := s.sites[id]
	delete(s.sites, id)
	s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	_ = s.p.Detach(siteID(r))
	w.WriteHeader(http.StatusOK)
}
