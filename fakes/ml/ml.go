// Package ml simulates Azure Machine Learning as far as a registry can tell: a workspace
// (Microsoft.MachineLearningServices/workspaces) has managed identities, and an online
// deployment or a training job that names a custom image pulls it with one of them (the
// system-assigned one, or properties.identityClientId) from Machine Learning's (trusted)
// Azure-service origin. A deployment's provisioningState is Succeeded, or Failed with the
// registry's error; a job's status is Completed or Failed.
//
// Limits: nothing is served or trained; only the image pull happens. The image is given inline
// as properties.environment.image (or properties.image), not through environment assets.
package ml

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/fakes/acrclient"
	"github.com/acr-emulator/acr-emulator/fakes/armio"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
	"github.com/go-chi/chi/v5"
)

const service = "ml"

// Service serves workspaces and their online deployments.
type Service struct {
	p          platform.Platform
	mu         sync.Mutex
	workspaces map[string]map[string]any // by lowercase ARM id
	identities map[string]platform.Identities
	children   map[string]map[string]any // deployments and jobs, by lowercase ARM id
}

// New returns the service.
func New(p platform.Platform) *Service {
	return &Service{p: p, workspaces: map[string]map[string]any{}, identities: map[string]platform.Identities{}, children: map[string]map[string]any{}}
}

// Handler serves the Microsoft.MachineLearningServices provider (already authenticated by ARM).
func (s *Service) Handler() http.Handler {
	r := chi.NewRouter()
	ws := "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}"
	r.Put(ws, s.putWorkspace)
	r.Get(ws, s.getWorkspace)
	r.Delete(ws, s.deleteWorkspace)
	r.Put(ws+"/onlineEndpoints/{ep}/deployments/{dep}", s.putDeployment)
	r.Get(ws+"/onlineEndpoints/{ep}/deployments/{dep}", s.getDeployment)
	r.Put(ws+"/jobs/{job}", s.putJob)
	r.Get(ws+"/jobs/{job}", s.getJob)
	return r
}

func workspaceID(r *http.Request) string {
	id, _ := armid.Parse(r.URL.Path)
	return id.Resource(1).String()
}

func (s *Service) putWorkspace(w http.ResponseWriter, r *http.Request) {
	var b struct {
		Location   string          `json:"location"`
		Identity   *armio.Identity `json:"identity"`
		Properties map[string]any  `json:"properties"`
	}
	if !armio.Decode(w, r, &b) {
		return
	}
	id := workspaceID(r)
	system, user := b.Identity.Assigned()
	system = system || b.Identity == nil // a workspace has a system identity unless told otherwise
	ids, err := s.p.Attach(id, system, user)
	if err != nil {
		armio.Error(w, http.StatusBadRequest, "InvalidIdentity", err.Error())
		return
	}
	ident := map[string]any{"type": "SystemAssigned", "tenantId": s.p.TenantID()}
	if b.Identity != nil {
		ident["type"] = b.Identity.Type
	}
	if ids.System != nil {
		ident["principalId"] = ids.System.PrincipalID
	}
	props := b.Properties
	if props == nil {
		props = map[string]any{}
	}
	props["provisioningState"] = "Succeeded"
	res := map[string]any{"id": id, "name": chi.URLParam(r, "ws"), "type": "Microsoft.MachineLearningServices/workspaces",
		"location": b.Location, "identity": ident, "properties": props}
	s.mu.Lock()
	_, existed := s.workspaces[strings.ToLower(id)]
	s.workspaces[strings.ToLower(id)] = res
	s.identities[strings.ToLower(id)] = ids
	s.mu.Unlock()
	code := http.StatusCreated
	if existed {
		code = http.StatusOK
	}
	armio.WriteJSON(w, code, res)
}

func (s *Service) getWorkspace(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	ws, ok := s.workspaces[strings.ToLower(workspaceID(r))]
	s.mu.Unlock()
	if !ok {
		armio.Error(w, http.StatusNotFound, "ResourceNotFound", "The Resource 'Microsoft.MachineLearningServices/workspaces/"+chi.URLParam(r, "ws")+"' was not found.")
		return
	}
	armio.WriteJSON(w, http.StatusOK, ws)
}

// imageRequest is the part of a deployment or job that names its image and identity.
type imageRequest struct {
	Location   string `json:"location"`
	Properties struct {
		Image       string `json:"image"`
		Environment struct {
			Image string `json:"image"`
		} `json:"environment"`
		IdentityClientID string `json:"identityClientId"`
	} `json:"properties"`
}

// pullImage reads a deployment's or job's request and pulls its image with the workspace's
// identity (a user-assigned one by client id, or the system-assigned one) from Machine
// Learning's origin. It answers the request itself and returns ok=false when the request is
// bad; otherwise failure is the reason the pull failed ("" when it succeeded).
func (s *Service) pullImage(w http.ResponseWriter, r *http.Request) (b imageRequest, image, failure string, ok bool) {
	s.mu.Lock()
	ids, found := s.identities[strings.ToLower(workspaceID(r))]
	s.mu.Unlock()
	if !found {
		armio.Error(w, http.StatusNotFound, "ResourceNotFound", "The workspace '"+chi.URLParam(r, "ws")+"' was not found.")
		return b, "", "", false
	}
	if !armio.Decode(w, r, &b) {
		return b, "", "", false
	}
	image = b.Properties.Environment.Image
	if image == "" {
		image = b.Properties.Image
	}
	if image == "" {
		armio.Error(w, http.StatusBadRequest, "BadArgument", "properties.environment.image is required: the emulator runs custom images only.")
		return b, "", "", false
	}
	identity := acrclient.Identity{Endpoint: s.p.IdentityEndpoint(), Header: ids.Header}
	switch {
	case b.Properties.IdentityClientID != "":
		u := ids.UserIdentity(b.Properties.IdentityClientID)
		if u == nil {
			return b, image, "The identity " + b.Properties.IdentityClientID + " is not assigned to the workspace.", true
		}
		identity.ClientID = u.ClientID
	case ids.System == nil:
		return b, image, "The workspace has no system-assigned identity.", true
	}
	if _, err := (&acrclient.Client{Transport: s.p.Transport(service, identity.ClientID == ""), Identity: identity}).Pull(r.Context(), image); err != nil {
		return b, image, fmt.Sprintf("ImagePullFailure: could not pull the image %q: %v", image, err), true
	}
	return b, image, "", true
}

// putDeployment deploys a model with a custom image: the workspace identity pulls it.
func (s *Service) putDeployment(w http.ResponseWriter, r *http.Request) {
	b, image, failure, ok := s.pullImage(w, r)
	if !ok {
		return
	}
	state := "Succeeded"
	if failure != "" {
		state = "Failed"
	}
	id := workspaceID(r) + "/onlineEndpoints/" + chi.URLParam(r, "ep") + "/deployments/" + chi.URLParam(r, "dep")
	res := map[string]any{"id": id, "name": chi.URLParam(r, "dep"), "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
		"location": b.Location, "properties": map[string]any{"provisioningState": state, "environment": map[string]string{"image": image},
			"error": map[string]string{"message": failure}}}
	s.mu.Lock()
	s.children[strings.ToLower(id)] = res
	s.mu.Unlock()
	armio.WriteJSON(w, http.StatusCreated, res)
}

// putJob submits a training job with a custom image: the workspace identity pulls it, and
// the job is Completed (nothing trains) or Failed with the reason.
func (s *Service) putJob(w http.ResponseWriter, r *http.Request) {
	_, image, failure, ok := s.pullImage(w, r)
	if !ok {
		return
	}
	props := map[string]any{"jobType": "Command", "status": "Completed", "provisioningState": "Succeeded", "environment": map[string]string{"image": image}}
	if failure != "" {
		props["status"] = "Failed"
		props["error"] = map[string]string{"code": "UserError", "message": failure}
	}
	id := workspaceID(r) + "/jobs/" + chi.URLParam(r, "job")
	res := map[string]any{"id": id, "name": chi.URLParam(r, "job"), "type": "Microsoft.MachineLearningServices/workspaces/jobs", "properties": props}
	s.mu.Lock()
	s.children[strings.ToLower(id)] = res
	s.mu.Unlock()
	armio.WriteJSON(w, http.StatusCreated, res)
}

func (s *Service) getJob(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	j, ok := s.children[strings.ToLower(workspaceID(r)+"/jobs/"+chi.URLParam(r, "job"))]
	s.mu.Unlock()
	if !ok {
		armio.Error(w, http.StatusNotFound, "ResourceNotFound", "The job '"+chi.URLParam(r, "job")+"' was not found.")
		return
	}
	armio.WriteJSON(w, http.StatusOK, j)
}

func (s *Service) getDeployment(w http.ResponseWriter, r *http.Request) {
	id := workspaceID(r) + "/onlineEndpoints/" + chi.URLParam(r, "ep") + "/deployments/" + chi.URLParam(r, "dep")
	s.mu.Lock()
	d, ok := s.children[strings.ToLower(id)]
	s.mu.Unlock()
	if !ok {
		armio.Error(w, http.StatusNotFound, "ResourceNotFound", "The deployment '"+chi.URLParam(r, "dep")+"' was not found.")
		return
	}
	armio.WriteJSON(w, http.StatusOK, d)
}

func (s *Service) deleteWorkspace(w http.ResponseWriter, r *http.Request) {
	id := strings.ToLower(workspaceID(r))
	s.mu.Lock()
	_, ok := s.workspaces[id]
	delete(s.workspaces, id)
	delete(s.identities, id)
	for k := range s.children {
		if strings.HasPrefix(k, id+"/") {
			delete(s.children, k)
		}
	}
	s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	_ = s.p.Detach(workspaceID(r))
	w.WriteHeader(http.StatusOK)
}
