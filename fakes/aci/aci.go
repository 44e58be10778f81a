// Package aci simulates Azure Container Instances (Microsoft.ContainerInstance/containerGroups)
// as far as a registry can tell: creating a container group pulls every container image, the
// way ACI does, with the identity named in imageRegistryCredentials, from ACI's (trusted)
// Azure-service origin; the group's instance view then shows the containers Running, or the
// registry's error in a Failed event.
// https://learn.microsoft.com/azure/container-instances/using-azure-container-registry-mi
//
// Limits: containers do not run; only image pulls happen. Username/password credentials pull
// from ACI's public outbound IP, which is not a trusted path.
package aci

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/fakes/armio"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// ContainerGroups is the declaration of container groups.
func ContainerGroups() *platform.Workload[groupBody] {
	return &platform.Workload[groupBody]{Type: "Microsoft.ContainerInstance/containerGroups", Noun: "container group",
		// With a managed identity, ACI is the trusted service; with username/password, its
		// public outbound IP, which no bypass covers.
		Origin: network.ServiceACI, PublicOrigin: network.ServiceACIPublic,
		Identity: func(b *groupBody) (bool, []string) { return b.Identity.Assigned() },
		Pulls:    groupPulls, Outcome: groupJSON}
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

// groupPulls pulls each container's image with the credential for its registry: a managed
// identity (trusted path), username/password (untrusted), or none (anonymous).
func groupPulls(r platform.Request[groupBody]) ([]platform.Pull, error) {
	props := r.Body.Properties
	if len(props.Containers) == 0 {
		return nil, platform.BadRequest("NoContainersInContainerGroup", "The container group must contain at least one container.")
	}
	var out []platform.Pull
	for _, c := range props.Containers {
		p := platform.Pull{Image: c.Properties.Image}
		ref, err := name.ParseReference(c.Properties.Image)
		if err != nil {
			p.Refused = err
			out = append(out, p)
			continue
		}
		for _, cr := range props.ImageRegistryCredentials {
			if !strings.EqualFold(cr.Server, ref.Context().RegistryStr()) {
				continue
			}
			switch {
			case cr.Identity != "" && platform.IsSystem(cr.Identity) && r.CurrentAzure:
				p.Refused = errors.New("system-assigned managed identity is not supported for image pulls from Azure Container Registry; use a user-assigned identity")
			case cr.Identity != "":
				p.Identity = cr.Identity
			default:
				p.Basic = &authn.Basic{Username: cr.Username, Password: cr.Password}
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// groupJSON is the group as ACI reports it: Succeeded with Running containers, or Failed
// with each failed pull's event.
func groupJSON(r platform.Request[groupBody], pulls []platform.PullResult) any {
	b := r.Body
	now := time.Now().UTC().Format(time.RFC3339)
	ev := func(name, typ, msg string) map[string]any {
		return map[string]any{"count": 1, "firstTimestamp": now, "lastTimestamp": now, "name": name, "message": msg, "type": typ}
	}
	events, containers := []map[string]any{}, []any{}
	failed := false
	for i, c := range b.Properties.Containers {
		cevents := []any{ev("Pulling", "Normal", "pulling image \""+c.Properties.Image+"\"")}
		state, detail := "Running", ""
		if err := pulls[i].Err; err != nil {
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
		"id": r.ID.String(), "name": r.ID.Name(), "type": "Microsoft.ContainerInstance/containerGroups", "location": b.Location, "tags": b.Tags,
		"properties": map[string]any{"provisioningState": prov, "containers": containers, "imageRegistryCredentials": creds,
			"osType": b.Properties.OSType, "restartPolicy": b.Properties.RestartPolicy, "ipAddress": b.Properties.IPAddress,
			"instanceView": map[string]any{"state": groupState, "events": events}},
	}
	if b.Identity != nil {
		res["identity"] = r.Identities.JSON(b.Identity.Type, r.TenantID)
	}
	return res
}
