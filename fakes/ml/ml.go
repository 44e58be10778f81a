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

	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/fakes/armio"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
)

const workspaceType = "Microsoft.MachineLearningServices/workspaces"

// Workspaces is the declaration of workspaces, with their online deployments and jobs.
func Workspaces() *platform.Workload[workspaceBody] {
	child := func(typ string, outcome func(platform.Request[imageRequest], []platform.PullResult) any) *platform.Workload[imageRequest] {
		return &platform.Workload[imageRequest]{Type: typ, Noun: "workspace", Origin: network.ServiceML, Pulls: imagePulls, Outcome: outcome}
	}
	return &platform.Workload[workspaceBody]{Type: workspaceType, Noun: "workspace", Origin: network.ServiceML,
		Children: []platform.Resource{child("onlineEndpoints/deployments", deploymentJSON), child("jobs", jobJSON)},
		Identity: func(b *workspaceBody) (bool, []string) {
			system, user := b.Identity.Assigned()
			return system || b.Identity == nil, user // a workspace has a system identity unless told otherwise
		},
		Outcome: workspaceJSON}
}

type workspaceBody struct {
	Location   string          `json:"location"`
	Identity   *armio.Identity `json:"identity"`
	Properties map[string]any  `json:"properties"`
}

func workspaceJSON(r platform.Request[workspaceBody], _ []platform.PullResult) any {
	typ := "SystemAssigned"
	if r.Body.Identity != nil {
		typ = r.Body.Identity.Type
	}
	props := map[string]any{}
	for k, v := range r.Body.Properties {
		props[k] = v
	}
	props["provisioningState"] = "Succeeded"
	return map[string]any{"id": r.ID.String(), "name": r.ID.Name(), "type": workspaceType, "location": r.Body.Location,
		"identity": r.Identities.JSON(typ, r.TenantID), "properties": props}
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

func (b *imageRequest) image() string {
	if b.Properties.Environment.Image != "" {
		return b.Properties.Environment.Image
	}
	return b.Properties.Image
}

// imagePulls pulls a deployment's or job's image with the workspace's identity: a
// user-assigned one by client id, or the system-assigned one.
func imagePulls(r platform.Request[imageRequest]) ([]platform.Pull, error) {
	if r.Body.image() == "" {
		return nil, platform.BadRequest("BadArgument", "properties.environment.image is required: the emulator runs custom images only.")
	}
	p := platform.Pull{Image: r.Body.image(), Identity: platform.SystemIdentity}
	if id := r.Body.Properties.IdentityClientID; id != "" {
		p.Identity = id
	}
	return []platform.Pull{p}, nil
}

func failure(p platform.PullResult) string {
	if p.Err == nil {
		return ""
	}
	return fmt.Sprintf("ImagePullFailure: could not pull the image %q: %v", p.Image, p.Err)
}

// deploymentJSON: a model deployed with a custom image is Succeeded, or Failed with the reason.
func deploymentJSON(r platform.Request[imageRequest], pulls []platform.PullResult) any {
	state := "Succeeded"
	if pulls[0].Err != nil {
		state = "Failed"
	}
	return map[string]any{"id": r.ID.String(), "name": r.ID.Name(), "type": workspaceType + "/onlineEndpoints/deployments",
		"location": r.Body.Location, "properties": map[string]any{"provisioningState": state, "environment": map[string]string{"image": r.Body.image()},
			"error": map[string]string{"message": failure(pulls[0])}}}
}

// jobJSON: a training job is Completed (nothing trains) or Failed with the reason.
func jobJSON(r platform.Request[imageRequest], pulls []platform.PullResult) any {
	props := map[string]any{"jobType": "Command", "status": "Completed", "provisioningState": "Succeeded", "environment": map[string]string{"image": r.Body.image()}}
	if msg := failure(pulls[0]); msg != "" {
		props["status"] = "Failed"
		props["error"] = map[string]string{"code": "UserError", "message": msg}
	}
	return map[string]any{"id": r.ID.String(), "name": r.ID.Name(), "type": workspaceType + "/jobs", "properties": props}
}
