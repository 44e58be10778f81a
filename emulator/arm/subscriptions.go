package arm

import (
	"net/http"
	"slices"
	"strings"
	"sync"
)

// Microsoft.Resources' own paths besides resource groups: the subscription and tenant lists
// az login reads, the resource provider registrations the azurerm provider checks at start,
// and the operations list of Microsoft.ContainerRegistry.

type subscription struct{}

func (a *api) subscriptions() *Kind[subscription] {
	one := &subscription{}
	return &Kind[subscription]{Type: "Microsoft.Resources/subscriptions",
		// The router has already refused another subscription (SubscriptionNotFound).
		Get:  func(*Call) (*subscription, error) { return one, nil },
		List: func(*Call) ([]*subscription, error) { return []*subscription{one}, nil },
		JSON: func(*Call, *subscription) any { return a.subscriptionJSON() }}
}

func (a *api) subscriptionJSON() map[string]any {
	return map[string]any{
		"id": "/subscriptions/" + a.cfg.SubscriptionID, "subscriptionId": a.cfg.SubscriptionID, "tenantId": a.cfg.TenantID,
		"displayName": "acr-emulator", "state": "Enabled",
		"subscriptionPolicies": map[string]string{"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
		"authorizationSource":  "RoleBased",
	}
}

func (a *api) tenants() *Kind[subscription] {
	return &Kind[subscription]{Type: "Microsoft.Resources/tenants",
		List: func(*Call) ([]*subscription, error) { return []*subscription{{}}, nil },
		JSON: func(*Call, *subscription) any {
			return map[string]string{"id": "/tenants/" + a.cfg.TenantID, "tenantId": a.cfg.TenantID, "tenantCategory": "Home", "displayName": "acr-emulator"}
		}}
}

// registrations are the subscription's resource provider registrations: every namespace the
// emulator serves starts Registered, so the azurerm provider registers nothing; unregister
// and register change only what is shown.
type registrations struct {
	mu           sync.Mutex
	unregistered map[string]bool // by lowercase namespace
}

type provider struct{ Namespace string }

// namespaces lists the provider namespaces of the router's table, with their types.
func (a *api) namespaces() map[string][]string {
	out := map[string][]string{}
	for _, r := range a.routes.all {
		ns, typ, ok := strings.Cut(r.typeName(), "/")
		if ok && !slices.Contains(out[ns], typ) {
			out[ns] = append(out[ns], typ)
		}
	}
	return out
}

func (a *api) providers() *Kind[provider] {
	get := func(c *Call) (*provider, error) {
		for ns := range a.namespaces() {
			if strings.EqualFold(ns, c.ID.Name()) {
				return &provider{Namespace: ns}, nil
			}
		}
		return nil, nil
	}
	register := func(state bool) func(c *Call, p *provider) error {
		return func(c *Call, p *provider) error {
			a.rps.mu.Lock()
			a.rps.unregistered[strings.ToLower(p.Namespace)] = !state
			a.rps.mu.Unlock()
			return c.Reply(http.StatusOK, a.providerJSON(p))
		}
	}
	return &Kind[provider]{Type: "Microsoft.Resources/providers",
		// Registering needs <namespace>/register/action; roles grant it by wildcards only.
		Actions: Actions{Do: map[string]string{"register": "*/register/action", "unregister": "*/unregister/action"}},
		Get:     get,
		List: func(*Call) ([]*provider, error) {
			var out []*provider
			for ns := range a.namespaces() {
				out = append(out, &provider{Namespace: ns})
			}
			slices.SortFunc(out, func(x, y *provider) int { return strings.Compare(x.Namespace, y.Namespace) })
			return out, nil
		},
		NotFound: func(c *Call) error {
			return armError(http.StatusNotFound, "InvalidResourceNamespace", "The resource namespace '"+c.ID.Name()+"' is invalid.")
		},
		JSON: func(_ *Call, p *provider) any { return a.providerJSON(p) },
		Do:   map[string]func(*Call, *provider) error{"register": register(true), "unregister": register(false)}}
}

func (a *api) providerJSON(p *provider) map[string]any {
	a.rps.mu.Lock()
	state := "Registered"
	if a.rps.unregistered[strings.ToLower(p.Namespace)] {
		state = "NotRegistered"
	}
	a.rps.mu.Unlock()
	types := []any{}
	for _, t := range a.namespaces()[p.Namespace] {
		types = append(types, map[string]any{"resourceType": t, "locations": locationDisplayNames(a.cfg.Location),
			"apiVersions": []string{"2025-11-01", "2025-04-01", "2023-07-01"}, "capabilities": "None"})
	}
	return map[string]any{"id": "/subscriptions/" + a.cfg.SubscriptionID + "/providers/" + p.Namespace, "namespace": p.Namespace,
		"registrationState": state, "registrationPolicy": "RegistrationRequired", "resourceTypes": types}
}

// operationsList serves GET /providers/Microsoft.ContainerRegistry/operations: the action
// names the routes declare (and the data actions import checks), without a token, as ARM.
func (a *api) operationsList() *Endpoint {
	return &Endpoint{Type: "Microsoft.ContainerRegistry/operations", Method: http.MethodGet, Anonymous: true,
		Serve: func(c *Call) error {
			ops := []any{}
			names := append(allActions(a.routes.all), registryDataActions...)
			slices.Sort(names)
			for _, n := range names {
				op, ok := strings.CutPrefix(n, "Microsoft.ContainerRegistry/")
				if !ok {
					continue
				}
				resource, _, _ := strings.Cut(op, "/")
				ops = append(ops, map[string]any{"name": n, "isDataAction": false, "origin": "user,system",
					"display": map[string]string{"provider": "Microsoft Container Registry", "resource": resource, "operation": op, "description": op}})
			}
			return c.Reply(http.StatusOK, map[string]any{"value": ops})
		}}
}

// metadataEndpoints describes this cloud, in the shape of the api-version asked for: az cloud
// register reads 2015-01-01's (galleryEndpoint, portalEndpoint...); 2019-05-01 and 2020-06-01
// list the clouds in an array; 2022-09-01 (what go-azure-sdk and the azurerm provider's
// metadata_host read) names the current cloud alone, loginEndpoint without a trailing slash and
// resourceManager with one. Its resourceManager is the emulator itself, and the token audience
// clients derive from it is one ARM accepts (see authenticate).
func (a *api) metadataEndpoints(w http.ResponseWriter, r *http.Request) error {
	base := "https://" + r.Host + "/"
	audiences := []string{"https://management.core.windows.net/", "https://management.azure.com/", base}
	suffixes := map[string]string{"acrLoginServer": "azurecr.io", "storage": "core.windows.net", "keyVaultDns": "vault.azure.net"}
	v := r.URL.Query().Get("api-version")
	if v < "2019-05-01" {
		return writeJSON(w, http.StatusOK, map[string]any{
			"name": "AzureContainerRegistryEmulator", "galleryEndpoint": base, "graphEndpoint": "https://graph.windows.net/",
			"portalEndpoint": base, "resourceManager": base, "microsoftGraphResourceId": "https://graph.microsoft.com/",
			"authentication": map[string]any{"loginEndpoint": base, "audiences": audiences, "tenant": "common", "identityProvider": "AAD"},
			"suffixes":       suffixes,
		})
	}
	cloud := map[string]any{
		"name": "AzureContainerRegistryEmulator", "portal": strings.TrimSuffix(base, "/"), "resourceManager": base,
		"authentication": map[string]any{"loginEndpoint": strings.TrimSuffix(base, "/"), "audiences": audiences, "tenant": "common", "identityProvider": "AAD"},
		"graph":          "https://graph.windows.net/", "graphAudience": "https://graph.windows.net/", "microsoftGraphResourceId": "https://graph.microsoft.com/",
		"media": "https://rest.media.azure.net", "batch": "https://batch.core.windows.net/", "sqlManagement": "https://management.core.windows.net:8443/",
		"vmImageAliasDoc":         "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/master/arm-compute/quickstart-templates/aliases.json",
		"activeDirectoryDataLake": "https://datalake.azure.net/", "appInsightsResourceId": "https://api.applicationinsights.io",
		"logAnalyticsResourceId": "https://api.loganalytics.io", "suffixes": suffixes,
	}
	if v < "2022-09-01" {
		return writeJSON(w, http.StatusOK, []any{cloud})
	}
	return writeJSON(w, http.StatusOK, cloud)
}
