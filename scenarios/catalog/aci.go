package catalog

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/scenarios"
	"github.com/google/go-containerregistry/pkg/authn"
)

// aciGroup creates (or updates) a container group running image and reports its outcome:
// provisioning state and the first event's message.
func aciGroup(ctx context.Context, s *scenarios.Session, name, image, loginServer string, identity map[string]any, credIdentity string) (state, message, principal string, err error) {
	path := s.ResourceGroupPath() + "/providers/Microsoft.ContainerInstance/containerGroups/" + name + "?api-version=2023-05-01"
	status, body, err := s.ARM(ctx, http.MethodPut, path, map[string]any{
		"location": "eastus", "identity": identity,
		"properties": map[string]any{"osType": "Linux",
			"imageRegistryCredentials": []any{map[string]any{"server": loginServer, "identity": credIdentity}},
			"containers": []any{map[string]any{"name": "app", "properties": map[string]any{"image": image,
				"resources": map[string]any{"requests": map[string]any{"cpu": 1, "memoryInGB": 1}}}}}}})
	if err != nil {
		return "", "", "", err
	}
	if status != http.StatusOK && status != http.StatusCreated {
		return "", "", "", fmt.Errorf("PUT container group: %d %v", status, body["error"])
	}
	state, _ = scenarios.Prop(body, "properties", "provisioningState").(string)
	if evs, _ := scenarios.Prop(body, "properties", "instanceView", "events").([]any); len(evs) > 0 {
		message, _ = evs[0].(map[string]any)["message"].(string)
	}
	principal, _ = scenarios.Prop(body, "identity", "principalId").(string)
	return state, message, principal, nil
}

func deleteGroup(ctx context.Context, s *scenarios.Session, name string) error {
	status, body, err := s.ARM(ctx, http.MethodDelete, s.ResourceGroupPath()+"/providers/Microsoft.ContainerInstance/containerGroups/"+name+"?api-version=2023-05-01", nil)
	if err == nil && status != http.StatusOK && status != http.StatusNoContent {
		err = fmt.Errorf("DELETE container group: %d %v", status, body["error"])
	}
	return err
}

// lockdownSteps push an image and disable public access; shared by the trusted-service stories.
func lockdownSteps(ref *string, login *string, auth *authn.Authenticator, repo string) []scenarios.Step {
	return []scenarios.Step{
		pushStep(ref, login, auth, repo),
		{Do: "disable public network access (az acr update --public-network-enabled false)", Expect: "pulls from this machine get 403 DENIED",
			Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
				if err := s.PatchRegistry(ctx, registry, map[string]any{"publicNetworkAccess": "Disabled"}); err != nil {
					return "", err
				}
				_, err := s.Pull(ctx, *ref, *auth)
				_, derr := expectDenied(err)
				return errText(err), derr
			}},
	}
}

// pushStep pushes an image to the registry as its admin user, keeping its reference, the
// login server and the credentials for the steps after it.
func pushStep(ref *string, login *string, auth *authn.Authenticator, repo string) scenarios.Step {
	return scenarios.Step{Do: "push an image to " + registry + " as its admin user", Expect: "the push succeeds",
		Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
			var err error
			if *login, err = s.LoginServer(ctx, registry); err != nil {
				return "", err
			}
			if *auth, err = s.AdminAuth(ctx, registry); err != nil {
				return "", err
			}
			*ref = *login + "/" + repo + ":v1"
			d, err := s.Push(ctx, *ref, *auth)
			return "pushed " + *ref + "@" + d.String(), err
		}}
}

// reopen restores the registry's network settings and deletes what the scenario created (best
// effort for what is already gone): every lockdown scenario's cleanup.
func reopen(resources ...string) func(ctx context.Context, s *scenarios.Session) error {
	return func(ctx context.Context, s *scenarios.Session) error {
		for _, r := range resources {
			if _, _, err := s.ARM(ctx, http.MethodDelete, s.ResourceGroupPath()+r, nil); err != nil {
				return err
			}
		}
		return s.PatchRegistry(ctx, registry, map[string]any{"publicNetworkAccess": "Enabled", "networkRuleBypassOptions": "AzureServices",
			"networkRuleSet": map[string]any{"defaultAction": "Allow", "ipRules": []any{}}})
	}
}

func restoreStep(group string) scenarios.Step {
	return scenarios.Step{Do: "restore: public access on, trusted services on, delete the container group", Expect: "done",
		Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
			if err := s.PatchRegistry(ctx, registry, map[string]any{"publicNetworkAccess": "Enabled", "networkRuleBypassOptions": "AzureServices"}); err != nil {
				return "", err
			}
			return "restored", deleteGroup(ctx, s, group)
		}}
}

// deployStep (re)deploys a resource, after an optional change of the registry's properties,
// and checks its provisioning state (and, when contains is set, its message).
func deployStep(do, expect string, registryChange map[string]any, deploy func(context.Context, *scenarios.Session) (state, message string, err error), want, contains string) scenarios.Step {
	return scenarios.Step{Do: do, Expect: expect, Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
		if registryChange != nil {
			if err := s.PatchRegistry(ctx, registry, registryChange); err != nil {
				return "", err
			}
		}
		state, msg, err := deploy(ctx, s)
		if err != nil {
			return "", err
		}
		observed := state
		if msg != "" {
			observed += ": " + msg
		}
		return observed, expectState(state, msg, want, contains)
	}}
}

func expectState(state, message, want, contains string) error {
	if state != want || (contains != "" && !strings.Contains(message, contains)) {
		return fmt.Errorf("provisioning state %s (%q), want %s with %q", state, message, want, contains)
	}
	return nil
}

// aciUserIdentity is the seed's story with Azure Container Instances: a trusted service pulls
// from a registry with public access disabled while "Allow trusted Microsoft services" is on,
// and fails once it is off.
func aciUserIdentity() scenarios.Scenario {
	var ref, login string
	var auth authn.Authenticator
	const group = "scenario-aci-user"
	uami := func(s *scenarios.Session) string {
		return s.ResourceGroupPath() + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/demo-identity"
	}
	create := func(ctx context.Context, s *scenarios.Session) (string, string, error) {
		state, msg, _, err := aciGroup(ctx, s, group, ref, login,
			map[string]any{"type": "UserAssigned", "userAssignedIdentities": map[string]any{uami(s): map[string]any{}}}, uami(s))
		return state, msg, err
	}
	return scenarios.Scenario{
		Name:    "aci-user-identity",
		Cleanup: reopen("/providers/Microsoft.ContainerInstance/containerGroups/" + group + "?api-version=2023-05-01"),
		Summary: "ACI pulls with a user-assigned identity (AcrPush) through trusted services; turning the setting off makes it fail",
		Steps: func() []scenarios.Step {
			steps := lockdownSteps(&ref, &login, &auth, "scenarios/aci")
			return append(steps,
				deployStep("create a container group with the user-assigned identity demo-identity", "Succeeded: ACI bypasses the network rules", nil, create, "Succeeded", ""),
				deployStep("disable trusted services (az acr update --allow-trusted-services false) and redeploy", "Failed: 403 DENIED for ACI's IP", map[string]any{"networkRuleBypassOptions": "None"}, create, "Failed", "is not allowed access. Refer https://aka.ms/acr/firewall to grant access."),
				deployStep("enable trusted services again and redeploy", "Succeeded", map[string]any{"networkRuleBypassOptions": "AzureServices"}, create, "Succeeded", ""),
				restoreStep(group))
		},
	}
}

// trustedWithoutRole: the bypass lets a trusted service through the network rules, but it
// still has to authenticate, and an identity without a role cannot.
func trustedWithoutRole() scenarios.Scenario {
	var ref, login, principal string
	var auth authn.Authenticator
	const group = "scenario-aci-system"
	create := func(ctx context.Context, s *scenarios.Session) (string, string, error) {
		state, msg, p, err := aciGroup(ctx, s, group, ref, login, map[string]any{"type": "SystemAssigned"}, "[system]")
		principal = p
		return state, msg, err
	}
	return scenarios.Scenario{
		Name:    "trusted-without-role",
		Cleanup: reopen("/providers/Microsoft.ContainerInstance/containerGroups/" + group + "?api-version=2023-05-01"),
		Summary: "a trusted service bypasses the network rules but still needs a role: 401 until AcrPull is assigned",
		Steps: func() []scenarios.Step {
			steps := lockdownSteps(&ref, &login, &auth, "scenarios/norole")
			return append(steps,
				deployStep("create a container group with a new system-assigned identity (no role yet)", "Failed: 401 from the registry's token service", nil, create, "Failed", "401"),
				scenarios.Step{Do: "assign AcrPull on the registry to the group's identity", Expect: "ARM creates the role assignment",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						return "AcrPull for " + principal, assignAcrPull(ctx, s, principal)
					}},
				deployStep("redeploy the container group", "Succeeded", nil, create, "Succeeded", ""),
				restoreStep(group))
		},
	}
}
