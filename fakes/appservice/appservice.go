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
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/fakes/acrclient"
	"github.com/acr-emulator/acr-emulator/fakes/armio"
	"github.com/acr-emulator/acr-emulator/fakes/platform"
	"github.com/google/go-containerregistry/pkg/name"
)

// Sites is the declaration of web apps.
func Sites() *platform.Workload[siteBody] {
	return &platform.Workload[siteBody]{Type: "Microsoft.Web/sites", Noun: "site", Origin: network.ServiceAppService,
		Identity: func(b *siteBody) (bool, []string) { return b.Identity.Assigned() },
		Pulls:    sitePulls, Outcome: siteJSON}
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

func image(b *siteBody) string {
	img, _ := strings.CutPrefix(b.Properties.SiteConfig.LinuxFxVersion, "DOCKER|")
	return img
}

// sitePulls pulls the site's image with its managed identity, as App Service does on start.
func sitePulls(r platform.Request[siteBody]) ([]platform.Pull, error) {
	cfg := r.Body.Properties.SiteConfig
	img := image(r.Body)
	if !strings.HasPrefix(cfg.LinuxFxVersion, "DOCKER|") || img == "" {
		return nil, platform.BadRequest("BadRequest", "siteConfig.linuxFxVersion must be DOCKER|<image>: the emulator simulates container sites only.")
	}
	p := platform.Pull{Image: img, Identity: platform.SystemIdentity}
	switch {
	case !cfg.AcrUseManagedIdentityCreds:
		p.Refused = errors.New("the emulator simulates managed-identity pulls only: set siteConfig.acrUseManagedIdentityCreds")
	case cfg.AcrUserManagedIdentityID != "":
		p.Identity = cfg.AcrUserManagedIdentityID
	}
	return []platform.Pull{p}, nil
}

func siteJSON(r platform.Request[siteBody], pulls []platform.PullResult) any {
	b, cfg := r.Body, r.Body.Properties.SiteConfig
	state, startupErr := "Running", ""
	if err := pulls[0].Err; err != nil {
		state, startupErr = "Stopped", dockerError(image(b), err)
	}
	res := map[string]any{
		"id": r.ID.String(), "name": r.ID.Name(), "type": "Microsoft.Web/sites", "kind": b.Kind, "location": b.Location,
		"properties": map[string]any{"state": state, "provisioningState": "Succeeded", "containerStartupError": startupErr,
			"defaultHostName": r.ID.Name() + ".azurewebsites.net",
			"siteConfig": map[string]any{"linuxFxVersion": cfg.LinuxFxVersion, "acrUseManagedIdentityCreds": cfg.AcrUseManagedIdentityCreds,
				"acrUserManagedIdentityID": cfg.AcrUserManagedIdentityID}},
	}
	if b.Identity != nil {
		res["identity"] = r.Identities.JSON(b.Identity.Type, r.TenantID)
	}
	return res
}

// dockerError reads a failed pull as App Service reports it: a Docker API error wrapping the
// registry's text.
func dockerError(image string, err error) string {
	ref, perr := name.ParseReference(image)
	var e *acrclient.Error
	if perr != nil || !errors.As(err, &e) {
		return err.Error()
	}
	return fmt.Sprintf(`DockerApiException: Docker API responded with status code=InternalServerError, response={"message":"Head \"https://%s/v2/%s/manifests/%s\": %s"}`,
		ref.Context().RegistryStr(), ref.Context().RepositoryStr(), ref.Identifier(), acrclient.Message(err))
}
