// Package containerapps simulates Azure Container Apps (Microsoft.App) as far as a registry
// can tell: creating a container app pulls each container's image with the credential its
// configuration.registries entry names (a managed identity: "system" or a user-assigned
// identity's id; or a username with a secret), from Container Apps' outbound IP, or from the
// environment's VNet when the environment has one (vnetConfiguration.infrastructureSubnetId).
// Container Apps is not one of ACR's trusted services, so a network-restricted registry lets
// it in only by its outbound IP or a private endpoint of that VNet. A failed pull fails the
// app's provisioning as Azure reports it (ContainerAppOperationError).
// https://learn.microsoft.com/azure/container-apps/managed-identity-image-pull
//
// Limits: nothing runs; revisions, ingress and scaling are echoed, not served.
package containerapps

import (
	"errors"
	"fmt"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/fakes/acrclient"
	"github.com/acr-emulator/acr-emulator/fakes/armio"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

const (
	environmentType = "Microsoft.App/managedEnvironments"
	appType         = "Microsoft.App/containerApps"
	// outboundIP is what the emulator shows as the apps' outboundIpAddresses: the IP their
	// requests come from (emulator/platform.go gives the containerapps origin this address).
	outboundIP = "20.0.0.10"
)

// Environments is the declaration of managed environments: where apps run, and the subnet
// they reach the network from.
func Environments() *platform.Workload[environmentBody] {
	return &platform.Workload[environmentBody]{Type: environmentType, Noun: "environment", Outcome: environmentJSON}
}

// Apps is the declaration of container apps.
func Apps() *platform.Workload[appBody] {
	return &platform.Workload[appBody]{Type: appType, Noun: "container app", Origin: network.ServiceContainerApps,
		Identity: func(b *appBody) (bool, []string) { return b.Identity.Assigned() },
		Pulls:    appPulls, Outcome: appJSON, Failure: appFailure}
}

type environmentBody struct {
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Properties struct {
		VnetConfiguration *struct {
			InfrastructureSubnetID string `json:"infrastructureSubnetId"`
			Internal               bool   `json:"internal"`
		} `json:"vnetConfiguration,omitempty"`
	} `json:"properties"`
}

func (b *environmentBody) vnet() string {
	if b.Properties.VnetConfiguration == nil {
		return ""
	}
	return platform.VNetOf(b.Properties.VnetConfiguration.InfrastructureSubnetID)
}

func environmentJSON(r platform.Request[environmentBody], _ []platform.PullResult) any {
	props := map[string]any{"provisioningState": "Succeeded", "staticIp": outboundIP,
		"defaultDomain": strings.ToLower(r.ID.Name()) + "." + r.Body.Location + ".azurecontainerapps.io"}
	if v := r.Body.Properties.VnetConfiguration; v != nil {
		props["vnetConfiguration"] = v
	}
	return map[string]any{"id": r.ID.String(), "name": r.ID.Name(), "type": environmentType, "location": r.Body.Location,
		"tags": r.Body.Tags, "properties": props}
}

type registry struct {
	Server            string `json:"server"`
	Username          string `json:"username,omitempty"`
	PasswordSecretRef string `json:"passwordSecretRef,omitempty"`
	Identity          string `json:"identity,omitempty"`
}

type appBody struct {
	Location   string            `json:"location"`
	Tags       map[string]string `json:"tags"`
	Identity   *armio.Identity   `json:"identity"`
	Properties struct {
		ManagedEnvironmentID string `json:"managedEnvironmentId"`
		EnvironmentID        string `json:"environmentId"`
		Configuration        struct {
			Secrets []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"secrets"`
			Registries []registry `json:"registries"`
			Ingress    any        `json:"ingress,omitempty"`
		} `json:"configuration"`
		Template struct {
			Containers []struct {
				Name      string `json:"name"`
				Image     string `json:"image"`
				Resources any    `json:"resources,omitempty"`
			} `json:"containers"`
			Scale any `json:"scale,omitempty"`
		} `json:"template"`
	} `json:"properties"`
}

func (b *appBody) environment() string {
	if b.Properties.ManagedEnvironmentID != "" {
		return b.Properties.ManagedEnvironmentID
	}
	return b.Properties.EnvironmentID
}

// appPulls pulls each container's image with its registry's credential, from the
// environment's VNet when it has one.
func appPulls(r platform.Request[appBody]) ([]platform.Pull, error) {
	b := r.Body
	envID := b.environment()
	if envID == "" {
		return nil, platform.BadRequest("ManagedEnvironmentRequired", "properties.managedEnvironmentId is required.")
	}
	env := r.Find(envID)
	if env == nil {
		return nil, platform.BadRequest("ManagedEnvironmentNotFound", "The environment '%s' was not found.", envID)
	}
	vnet := env.Body.(*environmentBody).vnet()
	if len(b.Properties.Template.Containers) == 0 {
		return nil, platform.BadRequest("ContainerAppInvalidTemplate", "properties.template.containers must name at least one container.")
	}
	var out []platform.Pull
	for _, c := range b.Properties.Template.Containers {
		p := platform.Pull{Image: c.Image, VNet: vnet}
		ref, err := name.ParseReference(c.Image)
		if err != nil {
			p.Refused = err
			out = append(out, p)
			continue
		}
		for _, reg := range b.Properties.Configuration.Registries {
			if !strings.EqualFold(reg.Server, ref.Context().RegistryStr()) {
				continue
			}
			switch {
			case reg.Identity != "":
				p.Identity = reg.Identity
			case reg.Username != "":
				secret, ok := b.secret(reg.PasswordSecretRef)
				if !ok {
					return nil, platform.BadRequest("ContainerAppSecretNotFound", "Field 'configuration.registries.passwordSecretRef' is invalid with details: "+
						"'Invalid value: \"%s\": no secret of that name in configuration.secrets'", reg.PasswordSecretRef)
				}
				p.Basic = &authn.Basic{Username: reg.Username, Password: secret}
			}
		}
		out = append(out, p)
	}
	return out, nil
}

func (b *appBody) secret(name string) (string, bool) {
	for _, s := range b.Properties.Configuration.Secrets {
		if s.Name == name {
			return s.Value, true
		}
	}
	return "", false
}

func appJSON(r platform.Request[appBody], pulls []platform.PullResult) any {
	b := r.Body
	state, running := "Succeeded", "Running"
	if appFailure(r, pulls) != nil {
		state, running = "Failed", "Stopped"
	}
	// Secret values are never returned (Azure lists secret names only).
	secrets := []any{}
	for _, s := range b.Properties.Configuration.Secrets {
		secrets = append(secrets, map[string]string{"name": s.Name})
	}
	cfg := map[string]any{"secrets": secrets, "registries": b.Properties.Configuration.Registries, "ingress": b.Properties.Configuration.Ingress,
		"activeRevisionsMode": "Single"}
	revision := r.ID.Name() + "--0000001"
	props := map[string]any{"provisioningState": state, "runningStatus": running, "managedEnvironmentId": b.environment(),
		"environmentId": b.environment(), "outboundIpAddresses": []string{outboundIP}, "latestRevisionName": revision,
		"configuration": cfg, "template": b.Properties.Template}
	if state == "Succeeded" {
		props["latestReadyRevisionName"] = revision
	}
	res := map[string]any{"id": r.ID.String(), "name": r.ID.Name(), "type": appType, "location": b.Location, "tags": b.Tags, "properties": props}
	if b.Identity != nil {
		res["identity"] = r.Identities.JSON(b.Identity.Type, r.TenantID)
	}
	return res
}

// appFailure is how Container Apps fails a revision whose image it cannot pull (the
// MANIFEST_UNKNOWN form is a captured answer; other registry codes follow it, UNCONFIRMED).
func appFailure(r platform.Request[appBody], pulls []platform.PullResult) *platform.Error {
	for i, p := range pulls {
		if p.Err == nil {
			continue
		}
		c := r.Body.Properties.Template.Containers[i]
		detail := p.Err.Error()
		var e *acrclient.Error
		if errors.As(p.Err, &e) && e.Code != "" {
			detail = "GET https:: " + strings.ToUpper(e.Code) + ": " + e.Message
		}
		return &platform.Error{Code: "ContainerAppOperationError", Message: fmt.Sprintf(
			"Failed to provision revision for container app '%s'. Field 'template.containers.%s.image' is invalid with details: 'Invalid value: \"%s\": %s'",
			r.ID.Name(), c.Name, c.Image, detail)}
	}
	return nil
}
