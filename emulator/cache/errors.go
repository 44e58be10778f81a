package cache

import (
	"fmt"
	"net/http"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
)

// What a pull through a cache rule answers when the upstream cannot be read. The texts follow
// the ones ACR users report ("authentication required with source registry for cache rule
// 'docker-io'", "too many requests to source registry for cache rule", "request to fetch
// referrers from source '…' for cache rule '…' returned status code 303. CorrelationId:…",
// 424 UNKNOWN: github.com/Azure/acr issues 599, 754, 891); the trusted-access refusal and
// the unhealthy credential set's detail are UNCONFIRMED.

const moreInfo = "For more information, please visit https://aka.ms/acr/cache"

func errAuthRequired(rule string) error {
	return httpx.NewRegistryError(http.StatusUnauthorized, "UNAUTHORIZED",
		fmt.Sprintf("authentication required with source registry for cache rule '%s'. %s", rule, moreInfo))
}

// errCredentialSet: the rule's credential set cannot give credentials (its identity may not
// read the vault, or a secret does not exist).
func errCredentialSet(rule, set, why string) error {
	return httpx.NewRegistryError(http.StatusUnauthorized, "UNAUTHORIZED",
		fmt.Sprintf("authentication required with source registry for cache rule '%s': the credential set '%s' is unhealthy: %s. %s", rule, set, why, moreInfo))
}

func errTooManyRequests(rule string) error {
	return httpx.NewRegistryError(http.StatusTooManyRequests, "TOOMANYREQUESTS",
		fmt.Sprintf("too many requests to source registry for cache rule '%s'. %s", rule, moreInfo))
}

// errUpstream: the upstream answered what, or could not be reached.
func errUpstream(what, source, rule, outcome string) error {
	return httpx.NewRegistryError(http.StatusFailedDependency, "UNKNOWN",
		fmt.Sprintf("request to fetch %s from source '%s' for cache rule '%s' %s. CorrelationId:%s. %s", what, source, rule, outcome, ids.NewGUID(), moreInfo))
}

// errTrustedAccess: the registry's network rules keep the artifact cache out (trusted services
// not allowed). UNCONFIRMED: Azure's code and text for this case are not documented.
func errTrustedAccess(rule string) error {
	return httpx.NewRegistryError(http.StatusForbidden, "DENIED",
		fmt.Sprintf("cache rule '%s' cannot populate the cache: the registry's network rules deny the artifact cache, "+
			"which reaches a network-restricted registry only as a trusted service. Allow trusted Microsoft services "+
			"(networkRuleBypassOptions AzureServices) or pull an image that is already cached. %s", rule, moreInfo))
}
