// Package catalog holds the named scenarios of `acr-emulator scenario`.
package catalog

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/acr-emulator/acr-emulator/scenarios"
	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// All returns every scenario, in the order `scenario run --all` runs them.
func All() []scenarios.Scenario {
	return []scenarios.Scenario{firewallIPRules(), aciUserIdentity(), aciSystemIdentity(), trustedWithoutRole(), defenderScan(), importRestricted(), mlCustomImage(), tasksTrusted(), tasks2025Policy(), privateEndpoint(), appServiceNotTrusted(),
		containerAppsNotTrusted(), aksPrivateEndpoint(), artifactCacheTrusted()}
}

// Find returns the scenario named name.
func Find(name string) (scenarios.Scenario, bool) {
	for _, s := range All() {
		if s.Name == name {
			return s, true
		}
	}
	return scenarios.Scenario{}, false
}

const registry = "myregistry"

var deniedRE = regexp.MustCompile(`client with IP '([^']+)' is not allowed access\. Refer https://aka\.ms/acr/firewall to grant access\.`)

// expectDenied checks an error is the registry's 403 DENIED firewall answer and returns the
// client IP it names.
func expectDenied(err error) (string, error) {
	if err == nil {
		return "", fmt.Errorf("the request succeeded")
	}
	status, code, msg := scenarios.RegistryError(err)
	m := deniedRE.FindStringSubmatch(msg)
	if status != http.StatusForbidden || code != "DENIED" || m == nil {
		return "", fmt.Errorf("got %d %s %q, want 403 DENIED with the firewall message", status, code, msg)
	}
	return m[1], nil
}

// firewallIPRules: the registry firewall lets only listed public IPs through, and the 403
// names the client's IP, as on Azure. It restores the registry's settings at the end.
func firewallIPRules() scenarios.Scenario {
	var (
		auth     authn.Authenticator
		ref      string
		digest   v1.Hash
		clientIP string
	)
	return scenarios.Scenario{
		Name:    "firewall-ip-rules",
		Cleanup: reopen(),
		Summary: "a Premium registry's firewall lets only listed IPs in; the 403 names the client's IP",
		Steps: func() []scenarios.Step {
			return []scenarios.Step{
				{Do: "read " + registry + " through ARM", Expect: "a Premium registry with public network access Enabled",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						body, err := s.Registry(ctx, registry)
						if err != nil {
							return "", err
						}
						sku, pna := scenarios.Prop(body, "sku", "name"), scenarios.Prop(body, "properties", "publicNetworkAccess")
						obs := fmt.Sprintf("%v, public network access %v", sku, pna)
						if sku != "Premium" || pna != "Enabled" {
							return obs, fmt.Errorf("the scenario needs a Premium registry with public access enabled")
						}
						ls, _ := scenarios.Prop(body, "properties", "loginServer").(string)
						ref = ls + "/scenarios/firewall:v1"
						return obs, nil
					}},
				{Do: "push an image as the admin user (credentials from ARM listCredentials)", Expect: "the push succeeds",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						var err error
						if auth, err = s.AdminAuth(ctx, registry); err != nil {
							return "", err
						}
						digest, err = s.Push(ctx, ref, auth)
						return "pushed " + ref + "@" + digest.String(), err
					}},
				{Do: "set the firewall's default action to Deny, with no IP rules", Expect: "ARM accepts the change",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						return "defaultAction Deny", s.PatchRegistry(ctx, registry, map[string]any{
							"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": []any{}}})
					}},
				{Do: "pull the image from this machine", Expect: "403 DENIED: client with IP '<this machine>' is not allowed access",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						_, err := s.Pull(ctx, ref, auth)
						ip, derr := expectDenied(err)
						clientIP = ip
						return errText(err), derr
					}},
				{Do: "add this machine's IP to the firewall's IP rules", Expect: "ARM accepts the rule",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						return "ipRules [" + clientIP + "]", s.PatchRegistry(ctx, registry, map[string]any{
							"networkRuleSet": map[string]any{"defaultAction": "Deny", "ipRules": []any{map[string]string{"action": "Allow", "value": clientIP}}}})
					}},
				{Do: "pull the image again", Expect: "the pull succeeds with the pushed digest",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						got, err := s.Pull(ctx, ref, auth)
						if err == nil && got != digest {
							err = fmt.Errorf("pulled %s, pushed %s", got, digest)
						}
						return "pulled " + got.String(), err
					}},
				{Do: "restore the firewall (default action Allow, no rules)", Expect: "the registry is open again",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := s.PatchRegistry(ctx, registry, map[string]any{"networkRuleSet": map[string]any{"defaultAction": "Allow", "ipRules": []any{}}}); err != nil {
							return "", err
						}
						_, err := s.Pull(ctx, ref, auth)
						return "pull succeeds", err
					}},
			}
		},
	}
}

func errText(err error) string {
	if err == nil {
		return "no error"
	}
	return strings.TrimSpace(err.Error())
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
