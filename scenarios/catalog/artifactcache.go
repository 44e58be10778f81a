package catalog

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/scenarios"
	"github.com/google/go-containerregistry/pkg/authn"
)

// The artifact cache behind trusted services: a cache rule's first pull reads the upstream
// from inside ACR, which reaches a network-restricted registry only as a trusted service.

const (
	cacheUpstream = "scenariocacheup"
	cacheRule     = "scenario-cache"
	cacheTarget   = "scenarios/cached"
)

// artifactCacheTrusted: myregistry caches scenarios/cached from another registry. Behind its
// firewall (only this machine's IP allowed) the first pull fills the cache while trusted
// services are allowed; with them off a miss fails and what is cached is still served.
func artifactCacheTrusted() scenarios.Scenario {
	var login, cachedDigest string
	var auth authn.Authenticator
	upstream := func(s *scenarios.Session) string { return s.RegistryPath(cacheUpstream) }
	rule := func(s *scenarios.Session) string { return s.RegistryPath(registry) + "/cacheRules/" + cacheRule }
	pull := func(ctx context.Context, s *scenarios.Session, tag string) (string, error) {
		d, err := s.Pull(ctx, login+"/"+cacheTarget+":"+tag, auth)
		return d.String(), err
	}
	return scenarios.Scenario{
		Name:    "artifact-cache-trusted",
		Summary: "a network-restricted registry fills its artifact cache only while trusted services are allowed; cached images are served either way",
		Cleanup: func(ctx context.Context, s *scenarios.Session) error {
			if err := reopen()(ctx, s); err != nil {
				return err
			}
			if cachedDigest != "" && auth != nil {
				// The next run's upstream holds other images under the same tags.
				if err := s.Delete(ctx, login+"/"+cacheTarget+"@"+cachedDigest, auth); err != nil {
					return err
				}
			}
			for _, p := range []string{rule(s), upstream(s)} {
				if _, _, err := s.ARM(ctx, http.MethodDelete, p, nil); err != nil {
					return err
				}
			}
			return nil
		},
		Steps: func() []scenarios.Step {
			var v1 string
			return []scenarios.Step{
				{Do: "create registry " + cacheUpstream + " (anonymous pull on) and push scenarios/cache-src:v1 and :v2 to it",
					Expect: "the pushes succeed",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						status, h, body, err := s.ARMResponse(ctx, http.MethodPut, upstream(s), map[string]any{"location": "eastus", "sku": map[string]any{"name": "Premium"},
							"properties": map[string]any{"adminUserEnabled": true, "anonymousPullEnabled": true}})
						if err != nil {
							return "", err
						}
						if status != http.StatusOK && status != http.StatusCreated {
							return "", fmt.Errorf("PUT registry: %d %v", status, body["error"])
						}
						if _, err := s.Operation(ctx, h); err != nil {
							return "", err
						}
						upAuth, err := s.AdminAuth(ctx, cacheUpstream)
						if err != nil {
							return "", err
						}
						// <name>.azurecr.io is reached through an origin's proxy.
						vnet, err := s.Via(ctx, "appvnet")
						if err != nil {
							return "", err
						}
						d, err := vnet.Push(ctx, cacheUpstream+".azurecr.io/scenarios/cache-src:v1", upAuth)
						if err != nil {
							return "", err
						}
						v1 = d.String()
						if _, err := vnet.Push(ctx, cacheUpstream+".azurecr.io/scenarios/cache-src:v2", upAuth); err != nil {
							return "", err
						}
						return "pushed v1@" + v1 + " and v2", nil
					}},
				{Do: "create cache rule " + cacheRule + " on " + registry + ": " + cacheUpstream + ".azurecr.io/scenarios/cache-src => " + cacheTarget,
					Expect: "the rule is Succeeded",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						status, body, err := s.ARM(ctx, http.MethodPut, rule(s), map[string]any{"properties": map[string]any{
							"sourceRepository": cacheUpstream + ".azurecr.io/scenarios/cache-src", "targetRepository": cacheTarget}})
						if err != nil {
							return "", err
						}
						state, _ := scenarios.Prop(body, "properties", "provisioningState").(string)
						if status != http.StatusCreated && status != http.StatusOK || state != "Succeeded" {
							return "", fmt.Errorf("PUT cache rule: %d %v", status, body)
						}
						return "rule " + cacheRule + " " + state, nil
					}},
				{Do: "turn the firewall on (default action Deny), allowing only this machine's IP; trusted services stay allowed",
					Expect: "pulls from this machine still pass",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						var err error
						if login, err = s.LoginServer(ctx, registry); err != nil {
							return "", err
						}
						if auth, err = s.AdminAuth(ctx, registry); err != nil {
							return "", err
						}
						if err := s.PatchRegistry(ctx, registry, map[string]any{"networkRuleBypassOptions": "AzureServices",
							"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": []any{}}}); err != nil {
							return "", err
						}
						_, err = pull(ctx, s, "v1")
						ip, err := expectDenied(err)
						if err != nil {
							return "", err
						}
						if err := s.PatchRegistry(ctx, registry, map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Deny",
							"ipRules": []any{map[string]any{"action": "Allow", "value": ip}}}}); err != nil {
							return "", err
						}
						return "firewall allows only " + ip, nil
					}},
				{Do: "pull " + cacheTarget + ":v1 (a cache miss)", Expect: "the artifact cache fills it through the trusted bypass: the upstream's digest",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						d, err := pull(ctx, s, "v1")
						if err == nil && d != v1 {
							err = fmt.Errorf("pulled %s, the upstream has %s", d, v1)
						}
						if err == nil {
							cachedDigest = d
						}
						return "pulled " + d, err
					}},
				{Do: "disable trusted services (networkRuleBypassOptions None); pull " + cacheTarget + ":v2 (a cache miss)",
					Expect: "403 DENIED: the cache rule cannot populate the cache",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := s.PatchRegistry(ctx, registry, map[string]any{"networkRuleBypassOptions": "None"}); err != nil {
							return "", err
						}
						_, err := pull(ctx, s, "v2")
						if err == nil {
							return "", fmt.Errorf("the pull succeeded")
						}
						status, code, msg := scenarios.RegistryError(err)
						if status != http.StatusForbidden || code != "DENIED" || !strings.Contains(msg, "cannot populate the cache") {
							return errText(err), fmt.Errorf("got %d %s, want 403 DENIED from the artifact cache", status, code)
						}
						return fmt.Sprintf("%d %s: %s", status, code, msg), nil
					}},
				{Do: "pull " + cacheTarget + ":v1 again", Expect: "served from the cache, trusted services or not",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						d, err := pull(ctx, s, "v1")
						if err == nil && d != v1 {
							err = fmt.Errorf("pulled %s, want the cached %s", d, v1)
						}
						return "pulled " + d, err
					}},
			}
		},
	}
}
