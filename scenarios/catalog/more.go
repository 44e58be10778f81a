package catalog

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/scenarios"
	"github.com/google/go-containerregistry/pkg/authn"
)

// aciSystemIdentity: the seed's ACI row with a system-assigned identity (the default profile;
// ACI's own doc allows only user-assigned identities, the "current" profile).
func aciSystemIdentity() scenarios.Scenario {
	var ref, login, principal string
	var auth authn.Authenticator
	const group = "scenario-aci-sysid"
	create := func(ctx context.Context, s *scenarios.Session) (string, string, error) {
		state, msg, p, err := aciGroup(ctx, s, group, ref, login, map[string]any{"type": "SystemAssigned"}, "[system]")
		if p != "" {
			principal = p
		}
		return state, msg, err
	}
	return scenarios.Scenario{
		Name:    "aci-system-identity",
		Cleanup: reopen("/providers/Microsoft.ContainerInstance/containerGroups/" + group + "?api-version=2023-05-01"),
		Summary: "ACI pulls with its system-assigned identity (AcrPull) from a registry with public access disabled, until trusted services are turned off",
		Steps: func() []scenarios.Step {
			steps := lockdownSteps(&ref, &login, &auth, "scenarios/aci-sysid")
			return append(steps,
				scenarios.Step{Do: "create a container group with a system-assigned identity and assign it AcrPull", Expect: "the identity exists and holds AcrPull",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if _, _, err := create(ctx, s); err != nil {
							return "", err
						}
						return "AcrPull for " + principal, assignAcrPull(ctx, s, principal)
					}},
				deployStep("redeploy the container group", "Succeeded: ACI bypasses the network rules", nil, create, "Succeeded", ""),
				deployStep("disable trusted services and redeploy", "Failed: 403 DENIED", map[string]any{"networkRuleBypassOptions": "None"}, create, "Failed", "is not allowed access"),
				restoreStep(group))
		},
	}
}

// subAssessments reads Defender's results for the registry.
func subAssessments(ctx context.Context, s *scenarios.Session) ([]map[string]any, error) {
	status, body, err := s.ARM(ctx, http.MethodGet, s.RegistryPath(registry)+
		"/providers/Microsoft.Security/assessments/dbd0cb49-b563-45e7-9724-889e799fa648/subAssessments?api-version=2019-01-01-preview", nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("subAssessments: %d %v", status, body["error"])
	}
	vals, _ := body["value"].([]any)
	var out []map[string]any
	for _, v := range vals {
		if m, ok := v.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out, nil
}

// scanOf waits (bounded) for Defender's result for digest.
func scanOf(ctx context.Context, s *scenarios.Session, digest string) (map[string]any, error) {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		vals, err := subAssessments(ctx, s)
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			if scenarios.Prop(v, "properties", "additionalData", "imageDigest") == digest {
				return v, nil
			}
		}
	}
	return nil, fmt.Errorf("no scan result for %s within 20s", digest)
}

func setDefender(ctx context.Context, s *scenarios.Session, tier string) error {
	status, body, err := s.ARM(ctx, http.MethodPut, "/subscriptions/"+s.SubscriptionID()+"/providers/Microsoft.Security/pricings/Containers?api-version=2024-01-01",
		map[string]any{"properties": map[string]any{"pricingTier": tier}})
	if err == nil && status != http.StatusOK {
		err = fmt.Errorf("pricing: %d %v", status, body["error"])
	}
	return err
}

// defenderScan: Defender for Cloud scans every pushed image from its trusted origin, needing
// no identity from the customer; with trusted services off it cannot.
func defenderScan() scenarios.Scenario {
	var login, clientIP string
	var auth authn.Authenticator
	return scenarios.Scenario{
		Name: "defender-scan",
		Cleanup: func(ctx context.Context, s *scenarios.Session) error {
			if err := reopen()(ctx, s); err != nil {
				return err
			}
			return setDefender(ctx, s, "Free")
		},
		Summary: "Defender for Cloud scans pushed images through the network rules while trusted services are allowed",
		Steps: func() []scenarios.Step {
			return []scenarios.Step{
				{Do: "turn on Defender for Containers (Microsoft.Security/pricings/Containers Standard)", Expect: "ARM accepts it",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						var err error
						if login, err = s.LoginServer(ctx, registry); err != nil {
							return "", err
						}
						if auth, err = s.AdminAuth(ctx, registry); err != nil {
							return "", err
						}
						return "pricingTier Standard", setDefender(ctx, s, "Standard")
					}},
				{Do: "lock the registry: firewall default Deny, only this machine's IP; trusted services on", Expect: "pushes from this machine still work",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := s.PatchRegistry(ctx, registry, map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": []any{}}}); err != nil {
							return "", err
						}
						_, err := s.Pull(ctx, login+"/scenarios/none:v1", auth)
						if clientIP, err = expectDenied(err); err != nil {
							return "", err
						}
						return "ipRules [" + clientIP + "]", s.PatchRegistry(ctx, registry, map[string]any{"networkRuleBypassOptions": "AzureServices",
							"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": []any{map[string]string{"value": clientIP}}}})
					}},
				{Do: "push an image", Expect: "Defender scans it: Healthy",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						d, err := s.Push(ctx, login+"/scenarios/scanned:v1", auth)
						if err != nil {
							return "", err
						}
						res, err := scanOf(ctx, s, d.String())
						if err != nil {
							return "", err
						}
						code := scenarios.Prop(res, "properties", "status", "code")
						if code != "Healthy" {
							return fmt.Sprint(code), fmt.Errorf("scan status %v: %v", code, scenarios.Prop(res, "properties", "status", "description"))
						}
						return "scanned " + d.String() + ": Healthy", nil
					}},
				{Do: "disable trusted services and push another image", Expect: "the scan fails: denied: client with IP '<Defender's IP>'",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := s.PatchRegistry(ctx, registry, map[string]any{"networkRuleBypassOptions": "None"}); err != nil {
							return "", err
						}
						d, err := s.Push(ctx, login+"/scenarios/scanned:v2", auth)
						if err != nil {
							return "", err
						}
						res, err := scanOf(ctx, s, d.String())
						if err != nil {
							return "", err
						}
						desc, _ := scenarios.Prop(res, "properties", "status", "description").(string)
						if scenarios.Prop(res, "properties", "status", "code") != "NotApplicable" || !strings.Contains(desc, "is not allowed access") {
							return desc, fmt.Errorf("the scan was not refused")
						}
						return desc, nil
					}},
				{Do: "restore: firewall open, trusted services on, Defender off", Expect: "done",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := s.PatchRegistry(ctx, registry, map[string]any{"networkRuleBypassOptions": "AzureServices",
							"networkRuleSet": map[string]any{"defaultAction": "Allow", "ipRules": []any{}}}); err != nil {
							return "", err
						}
						return "restored", setDefender(ctx, s, "Free")
					}},
			}
		},
	}
}

// importRestricted: ACR import copies an image between repositories of a registry with public
// access disabled (import is a trusted service), and fails once trusted services are off.
func importRestricted() scenarios.Scenario {
	var ref, login string
	var auth authn.Authenticator
	return scenarios.Scenario{
		Name:    "import-restricted",
		Cleanup: reopen(),
		Summary: "ACR import works on a registry with public access disabled while trusted services are allowed",
		Steps: func() []scenarios.Step {
			steps := lockdownSteps(&ref, &login, &auth, "scenarios/import")
			return append(steps,
				scenarios.Step{Do: "import scenarios/import:v1 as scenarios/imported:v1 (az acr import)", Expect: "the import succeeds",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						return importAndWait(ctx, s, "scenarios/imported:v1")
					}},
				scenarios.Step{Do: "disable trusted services and import again", Expect: "the import fails with the registry's 403",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := s.PatchRegistry(ctx, registry, map[string]any{"networkRuleBypassOptions": "None"}); err != nil {
							return "", err
						}
						out, err := importAndWait(ctx, s, "scenarios/imported:v2")
						if err == nil {
							return out, fmt.Errorf("the import succeeded")
						}
						if !strings.Contains(err.Error(), "is not allowed access") {
							return err.Error(), fmt.Errorf("unexpected failure")
						}
						return err.Error(), nil
					}},
				restoreStep("scenario-none"))
		},
	}
}

// importAndWait imports scenarios/import:v1 into target and follows the operation's outcome.
func importAndWait(ctx context.Context, s *scenarios.Session, target string) (string, error) {
	outcome, err := s.ImportImage(ctx, registry, map[string]any{
		"source":     map[string]any{"resourceId": s.RegistryPath(registry), "sourceImage": "scenarios/import:v1"},
		"targetTags": []string{target}, "mode": "Force"})
	if err != nil {
		return "", err
	}
	return "imported to " + target + ": " + outcome, nil
}
