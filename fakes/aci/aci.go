// Package aci simulates Azure Container Instances (Microsoft.ContainerInstance/containerGroups)
// as far as a registry can tell: creating a container group pulls every container image, the
// way ACI does, with the identity named in imageRegistryCredentials, from ACI's (trusted)
// Azure-service origin; the group's instance view then shows the containers Running, or the
// registry's error in a Failed event.
//
// Limits: containers do not run; only image pulls happen. Username/password credentials pull
// from ACI's public outbound IP, which is not a trusted path.
package aci

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
	"github.com/acr-emulator/acr-emulator/fakes/acrclient"
	"github.com/acr-emulator/acr-emulator/fakes/armio"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
	"github.com/go-chi/chi/v5"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// ACI's origins: with a managed identity, the trusted service; with username/password, its
// public outbound IP, which no bypass covers.
const (
	serviceACI       = "aci"
	serviceACIPublic = "aci-public"
)

// Service serves container groups.
type Service struct {
	p      platform.Platform
	mu     sync.Mutex
	groups map[string]map[string]any // by lowercase ARM id: the resource as GET returns it
}

// New returns the service.
func New(p platform.Platform) *Service { return &Service{p: p, groups: map[string]map[string]any{}} }

// Handler serves the Microsoft.ContainerInstance provider (already authenticated by ARM, which
// hands over paths spelled as these routes are).
func (s *Service) Handler() http.Handler {
	r := chi.NewRouter()
	base := "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.ContainerInstance/containerGroups"
	r.Get(base, s.list)
	r.Put(base+"/{name}", s.put)
	r.Get(base+"/{name}", s.get)
	r.Delete(base+"/{name}", s.delete)
	return r
}

func resourceID(r *http.Request) string {
	id, _ := armid.Parse(r.URL.Path)
	return id.String()
}

type container struct {
	Name       string `json:"name"`
	Properties struct {
		Image     string         `json:"image"`
		Resources map[string]any `json:"resources,omitempty"`
		Ports     []any          `json:"ports,omitempty"`
		Command   []string       `json:"command,omitempty"`
	} `json:"properties"`
}

type credential struct {
	Server   string `json:"server"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	Identity string `json:"identity,omitempty"`
}

type groupBody struct {
	Location   string            `json:"location"`
	Identity   *armio.Identity   `json:"identity"`
	Tags       map[string]string `json:"tags"`
	Properties struct {
		Containers               []container  `json:"containers"`
		ImageRegistryCredentials []credential `json:"imageRegistryCredentials"`
		OSType                   string       `json:"osType"`
		RestartPolicy            string       `json:"restartPolicy"`
		IPAddress                any          `json:"ipAddress,omitempty"`
	} `json:"properties"`
}

// put creates or updates a container group and pulls its images, as ACI does on creation.
// https://learn.microsoft.com/azure/container-instances/using-azure-container-registry-mi
func (s *Service) put(w http.ResponseWriter, r *http.Request) {
	var b groupBody
	if !armio.Decode(w, r, &b) {
		return
	}
	if len(b.Properties.Containers) == 0 {
		armio.Error(w, http.StatusBadRequest, "NoContainersInContainerGroup", "The container group must contain at least one container.")
		return
	}
	id := resourceID(r)
	system, user := b.Identity.Assigned()
	ids, err := s.p.Attach(id, system, user)
	if err != nil {
		armio.Error(w, http.StatusBadRequest, "InvalidIdentity", err.Error())
		return
	}
	events := []map[string]any{}
	failed := false
	containers := []any{}
	for _, c := range b.Properties.Containers {
		now := time.Now().UTC().Format(time.RFC3339)
		ev := func(name, typ, msg string) map[string]any {
			return map[string]any{"count": 1, "firstTimestamp": now, "lastTimestamp": now, "name": name, "message": msg, "type": typ}
		}
		cevents := []any{ev("Pulling", "Normal", "pulling image \""+c.Properties.Image+"\"")}
		state, detail := "Running", ""
		if err := s.pull(r.Context(), c.Properties.Image, b.Properties.ImageRegistryCredentials, ids); err != nil {
			failed = true
			state, detail = "Waiting", "ErrImagePull"
			msg := fmt.Sprintf("Failed to pull image %q: %v", c.Properties.Image, err)
			cevents = append(cevents, ev("Failed", "Warning", msg))
			events = append(events, ev("Failed", "Warning", msg))
		} else {
			cevents = append(cevents, ev("Pulled", "Normal", "Successfully pulled image \""+c.Properties.Image+"\""), ev("Started", "Normal", "Started container"))
		}
		containers = append(containers, map[string]any{"name": c.Name, "properties": map[string]any{
			"image": c.Properties.Image, "resources": c.Properties.Resources, "ports": c.Properties.Ports,
			"instanceView": map[string]any{"restartCount": 0, "currentState": map[string]any{"state": state, "detailStatus": detail, "startTime": now}, "events": cevents},
		}})
	}
	creds := []any{}
	for _, c := range b.Properties.ImageRegistryCredentials {
		creds = append(creds, map[string]string{"server": c.Server, "username": c.Username, "identity": c.Identity})
	}
	prov, groupState := "Succeeded", "Running"
	if failed {
		prov, groupState = "Failed", "Pending"
	}
	res := map[string]any{
		"id": id, "name": chi.URLParam(r, "name"), "type": "Microsoft.ContainerInstance/containerGroups", "location": b.Location, "tags": b.Tags,
		"properties": map[string]any{"provisioningState": prov, "containers": containers, "imageRegistryCredentials": creds,
			"osType": b.Properties.OSType, "restartPolicy": b.Properties.RestartPolicy, "ipAddress": b.Properties.IPAddress,
			"instanceView": map[string]any{"state": groupState, "events": events}},
	}
	if b.Identity != nil {
		ident := map[string]any{"type": b.Identity.Type, "tenantId": s.p.TenantID()}
		if ids.System != nil {
			ident["principalId"] = ids.System.PrincipalID
		}
		if len(ids.User) > 0 {
			ua := map[string]any{}
			for uid, u := range ids.User {
				ua[uid] = map[string]string{"principalId": u.PrincipalID, "clientId": u.ClientID}
			}
			ident["userAssignedIdentities"] = ua
		}
		res["identity"] = ident
	}
	s.mu.Lock()
	_, existed := s.groups[strings.ToLower(id)]
	s.groups[strings.ToLower(id)] = res
	s.mu.Unlock()
	code := http.StatusCreated
	if existed {
		code = http.StatusOK
	}
	armio.WriteJSON(w, code, res)
}

// pull fetches one image with the matching registry credential: a managed identity (trusted
// path), username/password (untrusted), or none (anonymous).
func (s *Service) pull(ctx context.Context, image string, creds []credential, ids platform.Identities) error {
	ref, err := name.ParseReference(image)
	if err != nil {
		return err
	}
	server := ref.Context().RegistryStr()
	var cred *credential
	for i := range creds {
		if strings.EqualFold(creds[i].Server, server) {
			cred = &creds[i]
		}
	}
	switch {
	case cred != nil && cred.Identity != "":
		identity := acrclient.Identity{Endpoint: s.p.IdentityEndpoint(), Header: ids.Header}
		system := strings.EqualFold(cred.Identity, "[system]") || strings.EqualFold(cred.Identity, "system")
		if system {
			if ids.System == nil {
				return errors.New("the container group has no system-assigned identity")
			}
			if s.p.CurrentAzure() {
				return errors.New("system-assigned managed identity is not supported for image pulls from Azure Container Registry; use a user-assigned identity")
			}
		} else {
			u := ids.UserIdentity(cred.Identity)
			if u == nil {
				return fmt.Errorf("the identity %s is not assigned to the container group", cred.Identity)
			}
			identity.ClientID = u.ClientID
		}
		_, err := (&acrclient.Client{Transport: s.p.Transport(serviceACI, system), Identity: identity}).Pull(ctx, image)
		return err
	case cred != nil:
		return pullWith(ctx, ref, s.p.Transport(serviceACIPublic, false), &authn.Basic{Username: cred.Username, Password: cred.Password})
	}
	return pullWith(ctx, ref, s.p.Transport(serviceACIPublic, false), authn.Anonymous)
}

func pullWith(ctx context.Context, ref name.Reference, tr http.RoundTripper, auth authn.Authenticator) error {
	img, err := remote.Image(ref, remote.WithContext(ctx), remote.WithTransport(tr), remote.WithAuth(auth))
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	g, ok := s.groups[strings.ToLower(resourceID(r))]
	s.mu.Unlock()
	if !ok {
		armio.NotFound(w, "Microsoft.ContainerInstance/containerGroups", chi.URLParam(r, "name"), chi.URLParam(r, "rg"))
		return
	}
	armio.WriteJSON(w, http.StatusOK, g)
}

func (s *Service) list(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	out := []any{}
	for _, g := range s.groups {
		out = append(out, g)
	}
	s.mu.Unlock()
	armio.WriteJSON(w, http.StatusOK, map[string]any{"value": out})
}

func (s *Service) delete(w http.ResponseWriter, r *http.Request) {
	id := strings.ToLower(resourceID(r))
	s.mu.Lock()
	_, ok := s.groups[id]
	delete(s.groups, id)
	s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	_ = s.p.Detach(resourceID(r))
	w.WriteHeader(http.StatusOK)
}
