package catalog

import (
	"context"
	"fmt"
	"net/http"

	"github.com/acr-emulator/acr-emulator/scenarios"
	"github.com/google/go-containerregistry/pkg/authn"
)

const (
	vnet        = "appvnet"
	peName      = "scenario-pe"
	peConn      = "scenario-pe-conn"
	peAPI       = "?api-version=2024-05-01"
	registryAPI = "?api-version=2025-11-01"
)

// privateEndpoint: a registry with public access disabled is reached from a VNet through a
// private endpoint, once its connection is approved; trusted services play no part.
func privateEndpoint() scenarios.Scenario {
	var ref, login string
	var auth authn.Authenticator
	pullFromVNet := func(ctx context.Context, s *scenarios.Session) error {
		v, err := s.Via(ctx, vnet)
		if err != nil {
			return err
		}
		_, err = v.Pull(ctx, ref, auth)
		return err
	}
	setConnection := func(ctx context.Context, s *scenarios.Session, state string) error {
		status, body, err := s.ARM(ctx, http.MethodPut, s.RegistryPath(registry)+"/privateEndpointConnections/"+peConn+registryAPI,
			map[string]any{"properties": map[string]any{"privateLinkServiceConnectionState": map[string]any{"status": state, "description": "by the scenario"}}})
		if err == nil && status != http.StatusCreated { // ACR answers 201 and an operation to poll
			err = fmt.Errorf("%s the connection: %d %v", state, status, body["error"])
		}
		return err
	}
	return scenarios.Scenario{
		Name:    "private-endpoint",
		Summary: "a VNet reaches a registry with public access disabled through a private endpoint, once the connection is approved",
		Cleanup: reopen("/providers/Microsoft.Network/privateEndpoints/" + peName + peAPI),
		Steps: func() []scenarios.Step {
			steps := lockdownSteps(&ref, &login, &auth, "scenarios/pe")
			return append(steps,
				scenarios.Step{Do: "pull from the VNet " + vnet + ", which has no private endpoint", Expect: "403 DENIED for the VNet's outbound IP",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						err := pullFromVNet(ctx, s)
						_, derr := expectDenied(err)
						return errText(err), derr
					}},
				scenarios.Step{Do: "create a private endpoint in " + vnet + " with a manual connection to " + registry, Expect: "the connection is Pending and carries no traffic",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						status, body, err := s.ARM(ctx, http.MethodPut, s.ResourceGroupPath()+"/providers/Microsoft.Network/privateEndpoints/"+peName+peAPI, map[string]any{
							"location": "eastus", "properties": map[string]any{
								"subnet": map[string]any{"id": s.ResourceGroupPath() + "/providers/Microsoft.Network/virtualNetworks/" + vnet + "/subnets/default"},
								"manualPrivateLinkServiceConnections": []any{map[string]any{"name": peConn, "properties": map[string]any{
									"privateLinkServiceId": s.RegistryPath(registry), "groupIds": []any{"registry"}}}}}})
						if err != nil {
							return "", err
						}
						if status != http.StatusCreated && status != http.StatusOK {
							return "", fmt.Errorf("PUT private endpoint: %d %v", status, body["error"])
						}
						err = pullFromVNet(ctx, s)
						_, derr := expectDenied(err)
						return "Pending; " + errText(err), derr
					}},
				scenarios.Step{Do: "approve the connection (az acr private-endpoint-connection approve)", Expect: "pulls from the VNet succeed; this machine is still denied",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := setConnection(ctx, s, "Approved"); err != nil {
							return "", err
						}
						if err := pullFromVNet(ctx, s); err != nil {
							return errText(err), err
						}
						_, err := s.Pull(ctx, ref, auth)
						_, derr := expectDenied(err)
						return "the VNet pulled " + ref + "; from here: " + errText(err), derr
					}},
				scenarios.Step{Do: "reject the connection", Expect: "pulls from the VNet are denied again",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := setConnection(ctx, s, "Rejected"); err != nil {
							return "", err
						}
						err := pullFromVNet(ctx, s)
						_, derr := expectDenied(err)
						return errText(err), derr
					}},
			)
		},
	}
}
