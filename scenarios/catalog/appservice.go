package catalog

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/scenarios"
	"github.com/google/go-containerregistry/pkg/authn"
)

// appServiceNotTrusted: "enabling the allow trusted services setting doesn't apply to App
// Service". A web app with AcrPull pulls from an open registry, and fails once network rules
// apply, even with trusted services on.
func appServiceNotTrusted() scenarios.Scenario {
	var ref, login string
	var auth authn.Authenticator
	site := func(ctx context.Context, s *scenarios.Session) (state, msg, principal string, err error) {
		status, body, err := s.ARM(ctx, http.MethodPut, s.ResourceGroupPath()+"/providers/Microsoft.Web/sites/scenario-webapp?api-version=2023-12-01", map[string]any{
			"location": "eastus", "kind": "app,linux,container", "identity": map[string]any{"type": "SystemAssigned"},
			"properties": map[string]any{"siteConfig": map[string]any{"linuxFxVersion": "DOCKER|" + ref, "acrUseManagedIdentityCreds": true}}})
		if err != nil {
			return "", "", "", err
		}
		if status != http.StatusOK && status != http.StatusCreated {
			return "", "", "", fmt.Errorf("PUT site: %d %v", status, body["error"])
		}
		state, _ = scenarios.Prop(body, "properties", "state").(string)
		msg, _ = scenarios.Prop(body, "properties", "containerStartupError").(string)
		principal, _ = scenarios.Prop(body, "identity", "principalId").(string)
		return state, msg, principal, nil
	}
	return scenarios.Scenario{
		Name:    "appservice-not-trusted",
		Cleanup: reopen("/providers/Microsoft.Web/sites/scenario-webapp?api-version=2023-12-01"),
		Summary: "App Service is not a trusted service: with AcrPull it pulls from an open registry, never through network rules",
		Steps: func() []scenarios.Step {
			return []scenarios.Step{
				pushStep(&ref, &login, &auth, "scenarios/webapp"),
				{Do: "create a web app for containers with a system-assigned identity and give it AcrPull", Expect: "the site runs (the registry is open)",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						_, _, principal, err := site(ctx, s)
						if err != nil {
							return "", err
						}
						if err := assignAcrPull(ctx, s, principal); err != nil {
							return "", err
						}
						state, msg, _, err := site(ctx, s)
						if err == nil && state != "Running" {
							err = fmt.Errorf("state %s: %s", state, msg)
						}
						return state, err
					}},
				{Do: "disable public network access; trusted services stay allowed", Expect: "the site stops: denied: client with IP '<App Service outbound IP>'",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := s.PatchRegistry(ctx, registry, map[string]any{"publicNetworkAccess": "Disabled", "networkRuleBypassOptions": "AzureServices"}); err != nil {
							return "", err
						}
						state, msg, _, err := site(ctx, s)
						if err == nil && (state != "Stopped" || !strings.Contains(msg, "is not allowed access. Refer https://aka.ms/acr/firewall to grant access.")) {
							err = fmt.Errorf("state %s: %s", state, msg)
						}
						return state + ": " + msg, err
					}},
				{Do: "restore: public access on, delete the site", Expect: "done",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := s.PatchRegistry(ctx, registry, map[string]any{"publicNetworkAccess": "Enabled"}); err != nil {
							return "", err
						}
						status, body, err := s.ARM(ctx, http.MethodDelete, s.ResourceGroupPath()+"/providers/Microsoft.Web/sites/scenario-webapp?api-version=2023-12-01", nil)
						if err == nil && status != http.StatusOK && status != http.StatusNoContent {
							err = fmt.Errorf("DELETE site: %d %v", status, body["error"])
						}
						return "restored", err
					}},
			}
		},
	}
}

// assignAcrPull gives a principal AcrPull on the registry through ARM.
func assignAcrPull(ctx context.Context, s *scenarios.Session, principal string) error {
	return assignRole(ctx, s, principal, "7f951dda-4ed3-4680-a7ca-43fe172d538d")
}

// assignRole gives a principal a role (by definition GUID) on the registry through ARM.
func assignRole(ctx context.Context, s *scenarios.Session, principal, role string) error {
	path := s.RegistryPath(registry) + "/providers/Microsoft.Authorization/roleAssignments/" + newGUID() + "?api-version=2022-04-01"
	status, body, err := s.ARM(ctx, http.MethodPut, path, map[string]any{"properties": map[string]any{
		"roleDefinitionId": "/subscriptions/" + s.SubscriptionID() + "/providers/Microsoft.Authorization/roleDefinitions/" + role,
		"principalId":      principal, "principalType": "ServicePrincipal"}})
	// An identical assignment already there (a re-run) is as good as a new one.
	if err == nil && status != http.StatusCreated && status != http.StatusConflict {
		err = fmt.Errorf("role assignment: %d %v", status, body["error"])
	}
	return err
}
