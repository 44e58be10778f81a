package catalog

import (
	"context"
	"fmt"
	"net/http"

	"github.com/acr-emulator/acr-emulator/scenarios"
	"github.com/google/go-containerregistry/pkg/authn"
)

// mlCustomImage: an Azure Machine Learning workspace deploys a model with a custom image from a
// registry with public access disabled, through trusted services, with its identity's AcrPull.
func mlCustomImage() scenarios.Scenario {
	var ref, login, principal string
	var auth authn.Authenticator
	ws := func(s *scenarios.Session) string {
		return s.ResourceGroupPath() + "/providers/Microsoft.MachineLearningServices/workspaces/scenario-ws"
	}
	deploy := func(ctx context.Context, s *scenarios.Session) (string, string, error) {
		status, body, err := s.ARM(ctx, http.MethodPut, ws(s)+"/onlineEndpoints/scoring/deployments/blue?api-version=2024-04-01",
			map[string]any{"location": "eastus", "properties": map[string]any{"environment": map[string]any{"image": ref}}})
		if err != nil {
			return "", "", err
		}
		if status != http.StatusCreated && status != http.StatusOK {
			return "", "", fmt.Errorf("PUT deployment: %d %v", status, body["error"])
		}
		state, _ := scenarios.Prop(body, "properties", "provisioningState").(string)
		msg, _ := scenarios.Prop(body, "properties", "error", "message").(string)
		return state, msg, nil
	}
	return scenarios.Scenario{
		Name:    "ml-custom-image",
		Cleanup: reopen("/providers/Microsoft.MachineLearningServices/workspaces/scenario-ws?api-version=2024-04-01"),
		Summary: "an Azure ML workspace deploys a custom image from a registry with public access disabled, through trusted services",
		Steps: func() []scenarios.Step {
			steps := lockdownSteps(&ref, &login, &auth, "scenarios/ml")
			return append(steps,
				scenarios.Step{Do: "create a workspace with a system-assigned identity and give it AcrPull", Expect: "the workspace exists and its identity holds AcrPull",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						status, body, err := s.ARM(ctx, http.MethodPut, ws(s)+"?api-version=2024-04-01", map[string]any{"location": "eastus",
							"identity": map[string]any{"type": "SystemAssigned"}, "properties": map[string]any{"containerRegistry": s.RegistryPath(registry)}})
						if err != nil {
							return "", err
						}
						if status != http.StatusCreated && status != http.StatusOK {
							return "", fmt.Errorf("PUT workspace: %d %v", status, body["error"])
						}
						principal, _ = scenarios.Prop(body, "identity", "principalId").(string)
						return "AcrPull for " + principal, assignAcrPull(ctx, s, principal)
					}},
				deployStep("deploy an online deployment with the custom image", "Succeeded", nil, deploy, "Succeeded", ""),
				deployStep("disable trusted services and redeploy", "Failed: 403 DENIED for Machine Learning's IP", map[string]any{"networkRuleBypassOptions": "None"}, deploy, "Failed", "is not allowed access"),
				restoreStep("scenario-none"))
		},
	}
}
