// Package arm is the Azure Resource Manager surface of the emulator: subscriptions and tenants
// (what az login reads), Microsoft.ContainerRegistry/registries, role assignments, identities
// and private endpoints, authenticated with Entra tokens for an ARM audience and authorized by
// RBAC, never network-restricted (as in Azure). ACR Tasks and the simulated services' resource
// providers are served by handlers given in Config, behind the same authentication and RBAC.
// Every api-version of the form YYYY-MM-DD[-preview] is accepted.
package arm

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/rbac"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/go-chi/chi/v5"
)

// Identity is what Entra says about the caller's token.
type Identity struct {
	TenantID, ObjectID, AppID, Audience string
}

// Verifier checks Entra access tokens.
type Verifier interface {
	VerifyEntraToken(raw string) (*Identity, error)
}

// Config wires the management plane.
type Config struct {
	Store          *store.Store
	Entra          Verifier
	TenantID       string
	SubscriptionID string
	ResourceGroup  string
	Location       string
	Logger         *slog.Logger
	// Create serves a registry PUT created (the emulator gives it a handler and login server).
	Create func(rec *store.Registry) error
	// Delete stops serving a deleted registry and drops its content.
	Delete func(name string) error
	// Providers serve other resource providers (the simulated services), keyed by namespace
	// ("Microsoft.ContainerInstance"): their requests are authenticated and authorized here
	// (<namespace>/<type>/read, write or delete on the resource), then handed over.
	Providers map[string]http.Handler
	// Import copies an image into a registry (registries/importImage).
	Import importFunc
	// Tasks serves ACR Tasks under a registry (tasks, scheduleRun, runs), after the RBAC check
	// of the registry-scoped action.
	Tasks http.Handler
}

// Error is an ARM error, written as {"error":{"code","message"}}.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func armError(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// writes errors once, in ARM's envelope.
func (h handlerFunc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	err := h(w, r)
	if err == nil {
		return
	}
	var ae *Error
	if !errors.As(err, &ae) {
		httpx.Logger(r.Context()).Error("management plane error", "err", err)
		ae = armError(http.StatusInternalServerError, "InternalServerError", "An internal error occurred.")
	}
	writeJSON(w, ae.Status, map[string]any{"error": map[string]string{"code": ae.Code, "message": ae.Message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-request-id", httpx.NewCorrelationID())
	w.Header().Set("x-ms-correlation-request-id", httpx.NewCorrelationID())
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

type api struct {
	cfg Config
	ops operations
}

var apiVersionRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview)?$`)

// IsARMPath reports whether a path belongs to the management plane.
func IsARMPath(p string) bool {
	return strings.HasPrefix(p, "/subscriptions") || strings.HasPrefix(p, "/tenants") || strings.HasPrefix(p, "/providers/") ||
		p == "/metadata/endpoints"
}

// New returns the management plane handler.
func New(cfg Config) http.Handler {
	a := &api{cfg: cfg, ops: operations{results: map[string]*Error{}}}
	r := chi.NewRouter()
	r.Use(a.apiVersion)
	r.Method(http.MethodGet, "/subscriptions", a.authed(a.listSubscriptions))
	r.Method(http.MethodGet, "/subscriptions/{sub}", a.authed(a.getSubscription))
	r.Method(http.MethodGet, "/tenants", a.authed(a.listTenants))
	r.Method(http.MethodGet, "/metadata/endpoints", handlerFunc(a.metadataEndpoints))
	r.Method(http.MethodGet, "/subscriptions/{sub}/resources", a.authed(a.listResources))
	r.Method(http.MethodGet, "/subscriptions/{sub}/providers/Microsoft.ContainerRegistry/registries", a.authed(a.listRegistries))
	r.Method(http.MethodPost, "/subscriptions/{sub}/providers/Microsoft.ContainerRegistry/checkNameAvailability", a.authed(a.checkName))
	r.Method(http.MethodGet, "/providers/Microsoft.ContainerRegistry/operations", handlerFunc(a.operations))
	r.Method(http.MethodGet, "/subscriptions/{sub}/providers/Microsoft.ContainerRegistry/locations/{loc}/operationResults/{op}", a.authed(a.operationResult))
	// ARM paths are case-insensitive; clients use both spellings of resourceGroups.
	for _, rgs := range []string{"resourceGroups", "resourcegroups"} {
		r.Method(http.MethodGet, "/subscriptions/{sub}/"+rgs, a.authed(a.listResourceGroups))
		r.Method(http.MethodGet, "/subscriptions/{sub}/"+rgs+"/{rg}", a.authed(a.getResourceGroup))
		reg := "/subscriptions/{sub}/" + rgs + "/{rg}/providers/Microsoft.ContainerRegistry/registries"
		r.Method(http.MethodGet, reg, a.authed(a.listRegistries))
		r.Method(http.MethodGet, reg+"/{name}", a.authed(a.getRegistry))
		r.Method(http.MethodPut, reg+"/{name}", a.authed(a.putRegistry))
		r.Method(http.MethodPatch, reg+"/{name}", a.authed(a.patchRegistry))
		r.Method(http.MethodPost, reg+"/{name}/listCredentials", a.authed(a.listCredentials))
		r.Method(http.MethodPost, reg+"/{name}/regenerateCredential", a.authed(a.regenerateCredential))
		r.Method(http.MethodGet, reg+"/{name}/listUsages", a.authed(a.listUsages))
		r.Method(http.MethodGet, reg+"/{name}/operationStatuses/{op}", a.authed(a.operationStatus))
		r.Method(http.MethodPost, reg+"/{name}/importImage", a.authed(a.importImage))
		r.Method(http.MethodDelete, reg+"/{name}", a.authed(a.deleteRegistry))
		r.Method(http.MethodGet, reg+"/{name}/privateEndpointConnections", a.authed(a.listConnections))
		r.Method(http.MethodGet, reg+"/{name}/privateEndpointConnections/{conn}", a.authed(a.getConnection))
		r.Method(http.MethodPut, reg+"/{name}/privateEndpointConnections/{conn}", a.authed(a.putConnection))
		r.Method(http.MethodDelete, reg+"/{name}/privateEndpointConnections/{conn}", a.authed(a.deleteConnection))
		nw := "/subscriptions/{sub}/" + rgs + "/{rg}/providers/Microsoft.Network"
		r.Method(http.MethodPut, nw+"/virtualNetworks/{name}", a.authed(a.putVirtualNetwork))
		r.Method(http.MethodPut, nw+"/privateEndpoints/{name}", a.authed(a.putPrivateEndpoint))
		r.Method(http.MethodGet, nw+"/privateEndpoints/{name}", a.authed(a.getPrivateEndpoint))
		r.Method(http.MethodDelete, nw+"/privateEndpoints/{name}", a.authed(a.deletePrivateEndpoint))
		uami := "/subscriptions/{sub}/" + rgs + "/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
		r.Method(http.MethodGet, uami, a.authed(a.listIdentities))
		r.Method(http.MethodGet, uami+"/{name}", a.authed(a.getIdentity))
		r.Method(http.MethodPut, uami+"/{name}", a.authed(a.putIdentity))
		r.Method(http.MethodDelete, uami+"/{name}", a.authed(a.deleteIdentity))
	}
	r.NotFound(handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		return armError(http.StatusNotFound, "NotFound", "The requested resource does not exist or is not supported by the emulator: "+r.Method+" "+r.URL.Path)
	}).ServeHTTP)
	authz := a.apiVersion(a.authed(a.authorization))
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if _, _, ok := splitAuthz(req.URL.Path); ok {
			authz.ServeHTTP(w, req)
			return
		}
		if scope, action, ok := tasksAction(req); ok && a.cfg.Tasks != nil {
			a.apiVersion(a.authed(func(w http.ResponseWriter, r *http.Request, caller *Identity) error {
				if err := a.authorize(caller, scope, action); err != nil {
					return err
				}
				a.cfg.Tasks.ServeHTTP(w, r)
				return nil
			})).ServeHTTP(w, req)
			return
		}
		if h, scope, action, ok := a.provider(req); ok {
			a.apiVersion(a.authed(func(w http.ResponseWriter, r *http.Request, caller *Identity) error {
				if err := a.authorize(caller, scope, action); err != nil {
					return err
				}
				h.ServeHTTP(w, r)
				return nil
			})).ServeHTTP(w, req)
			return
		}
		r.ServeHTTP(w, req)
	})
}

// tasksAction recognizes the ACR Tasks paths under a registry and the action each needs.
func tasksAction(r *http.Request) (scope, action string, ok bool) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r/<kind>...
	if len(segs) < 9 || !strings.EqualFold(segs[5], "Microsoft.ContainerRegistry") || !strings.EqualFold(segs[6], "registries") {
		return "", "", false
	}
	scope = "/" + strings.Join(segs[:8], "/")
	cr := "Microsoft.ContainerRegistry/registries/"
	switch kind, last := segs[8], segs[len(segs)-1]; {
	case kind == "scheduleRun" && len(segs) == 9 && r.Method == http.MethodPost:
		return scope, cr + "scheduleRun/action", true
	case kind == "listBuildSourceUploadUrl" && len(segs) == 9 && r.Method == http.MethodPost:
		return scope, cr + "listBuildSourceUploadUrl/action", true
	case kind == "tasks" && last == "listDetails":
		return scope, cr + "tasks/listDetails/action", true
	case kind == "tasks":
		return scope, cr + "tasks/" + verb(r.Method), true
	case kind == "runs" && last == "listLogSasUrl":
		return scope, cr + "runs/listLogSasUrl/action", true
	case kind == "runs" && last == "cancel" && len(segs) == 11:
		return scope, cr + "runs/cancel/action", true
	case kind == "runs":
		return scope, cr + "runs/" + verb(r.Method), true
	}
	return "", "", false
}

func verb(method string) string {
	switch method {
	case http.MethodPut, http.MethodPatch, http.MethodPost:
		return "write"
	case http.MethodDelete:
		return "delete"
	}
	return "read"
}

// provider finds the handler of a registered provider namespace and the RBAC check it needs.
// The namespace is the one after the last "providers" segment, so subscription-level
// resources (/subscriptions/s/providers/<ns>/<type>/<name>) and extension resources on other
// resources (<registry id>/providers/<ns>/<type>/<name>) route like resource-group ones.
func (a *api) provider(r *http.Request) (http.Handler, string, string, bool) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segs) < 5 || !strings.EqualFold(segs[0], "subscriptions") {
		return nil, "", "", false
	}
	i := -1
	for j := len(segs) - 3; j >= 2; j-- {
		if strings.EqualFold(segs[j], "providers") {
			i = j
			break
		}
	}
	if i < 0 {
		return nil, "", "", false
	}
	for ns, h := range a.cfg.Providers {
		if !strings.EqualFold(segs[i+1], ns) {
			continue
		}
		scope := "/" + strings.Join(segs[:min(len(segs), i+4)], "/")
		return h, scope, ns + "/" + segs[i+2] + "/" + verb(r.Method), true
	}
	return nil, "", "", false
}

// apiVersion requires an api-version of the right form and accepts every such value (the
// most reported complaint about other emulators is a rejected api-version).
func (a *api) apiVersion(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query().Get("api-version")
		if v == "" {
			handlerFunc(func(http.ResponseWriter, *http.Request) error {
				return armError(http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
			}).ServeHTTP(w, r)
			return
		}
		if !apiVersionRE.MatchString(v) {
			handlerFunc(func(http.ResponseWriter, *http.Request) error {
				return armError(http.StatusBadRequest, "InvalidApiVersionParameter", "The api-version '"+v+"' is invalid. The supported versions are of the form 'yyyy-mm-dd' or 'yyyy-mm-dd-preview'.")
			}).ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

type authedFunc func(w http.ResponseWriter, r *http.Request, caller *Identity) error

// authed requires an Entra token for an ARM audience.
func (a *api) authed(f authedFunc) http.Handler {
	return handlerFunc(func(w http.ResponseWriter, r *http.Request) error {
		scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || tok == "" {
			w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://`+r.Host+`/`+a.cfg.TenantID+`", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`)
			return armError(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
		}
		id, err := a.cfg.Entra.VerifyEntraToken(strings.TrimSpace(tok))
		if err != nil {
			return armError(http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
		}
		switch strings.TrimSuffix(strings.ToLower(id.Audience), "/") {
		case "https://management.azure.com", "https://management.core.windows.net":
		default:
			return armError(http.StatusUnauthorized, "InvalidAuthenticationTokenAudience",
				"The access token has been obtained for wrong audience or resource '"+id.Audience+"'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.")
		}
		return f(w, r, id)
	})
}

// authorize checks an ARM action on a scope for the caller.
func (a *api) authorize(caller *Identity, scope, action string) error {
	stored, err := a.cfg.Store.RoleAssignmentsOf(caller.ObjectID)
	if err != nil {
		return err
	}
	as := make([]rbac.Assignment, len(stored))
	for i, s := range stored {
		as[i] = rbac.Assignment{ID: s.ID, PrincipalID: s.PrincipalID, RoleDefinitionID: s.RoleDefinitionID, Scope: s.Scope, Condition: s.Condition}
	}
	if rbac.ControlAllowed(as, caller.ObjectID, scope, action) {
		return nil
	}
	return armError(http.StatusForbidden, "AuthorizationFailed", "The client '"+caller.ObjectID+"' with object id '"+caller.ObjectID+
		"' does not have authorization to perform action '"+action+"' over scope '"+scope+"' or the scope is invalid. If access was recently granted, please refresh your credentials.")
}

// subscription checks the path's subscription is the emulated one.
func (a *api) subscription(r *http.Request) error {
	if sub := chi.URLParam(r, "sub"); !strings.EqualFold(sub, a.cfg.SubscriptionID) {
		return armError(http.StatusNotFound, "SubscriptionNotFound", "The subscription '"+sub+"' could not be found.")
	}
	return nil
}

func (a *api) listSubscriptions(w http.ResponseWriter, r *http.Request, _ *Identity) error {
	return writeJSON(w, http.StatusOK, map[string]any{"value": []any{a.subscriptionJSON()}})
}

func (a *api) getSubscription(w http.ResponseWriter, r *http.Request, _ *Identity) error {
	if err := a.subscription(r); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, a.subscriptionJSON())
}

func (a *api) subscriptionJSON() map[string]any {
	return map[string]any{
		"id": "/subscriptions/" + a.cfg.SubscriptionID, "subscriptionId": a.cfg.SubscriptionID, "tenantId": a.cfg.TenantID,
		"displayName": "acr-emulator", "state": "Enabled",
		"subscriptionPolicies": map[string]string{"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"},
		"authorizationSource":  "RoleBased",
	}
}

func (a *api) resourceGroupJSON() map[string]any {
	return map[string]any{"id": "/subscriptions/" + a.cfg.SubscriptionID + "/resourceGroups/" + a.cfg.ResourceGroup,
		"name": a.cfg.ResourceGroup, "type": "Microsoft.Resources/resourceGroups", "location": a.cfg.Location,
		"properties": map[string]string{"provisioningState": "Succeeded"}}
}

func (a *api) listResourceGroups(w http.ResponseWriter, r *http.Request, _ *Identity) error {
	if err := a.subscription(r); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"value": []any{a.resourceGroupJSON()}})
}

func (a *api) getResourceGroup(w http.ResponseWriter, r *http.Request, _ *Identity) error {
	if err := a.subscription(r); err != nil {
		return err
	}
	if rg := chi.URLParam(r, "rg"); !strings.EqualFold(rg, a.cfg.ResourceGroup) {
		return armError(http.StatusNotFound, "ResourceGroupNotFound", "Resource group '"+rg+"' could not be found.")
	}
	return writeJSON(w, http.StatusOK, a.resourceGroupJSON())
}

// listResources is the generic resource list az uses to find a registry's resource group
// ($filter=resourceType eq 'Microsoft.ContainerRegistry/registries').
func (a *api) listResources(w http.ResponseWriter, r *http.Request, caller *Identity) error {
	if err := a.subscription(r); err != nil {
		return err
	}
	filter := r.URL.Query().Get("$filter")
	typ, typed := quotedAfter(filter, "resourceType eq ")
	out := []any{}
	if !typed || strings.EqualFold(typ, "Microsoft.ContainerRegistry/registries") {
		regs, err := a.cfg.Store.ListRegistries()
		if err != nil {
			return err
		}
		for _, reg := range regs {
			if a.authorize(caller, reg.ID, "Microsoft.ContainerRegistry/registries/read") == nil {
				out = append(out, map[string]any{"id": reg.ID, "name": reg.Name, "type": "Microsoft.ContainerRegistry/registries",
					"location": a.location(reg), "sku": map[string]string{"name": reg.SKU, "tier": reg.SKU}, "tags": tagsJSON(reg.Tags)})
			}
		}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"value": out})
}

// metadataEndpoints describes this cloud, for az cloud register's endpoint discovery.
func (a *api) metadataEndpoints(w http.ResponseWriter, r *http.Request) error {
	base := "https://" + r.Host + "/"
	return writeJSON(w, http.StatusOK, map[string]any{
		"name": "AzureContainerRegistryEmulator", "galleryEndpoint": base, "graphEndpoint": "https://graph.windows.net/",
		"portalEndpoint": base, "resourceManager": base, "microsoftGraphResourceId": "https://graph.microsoft.com/",
		"authentication": map[string]any{"loginEndpoint": base, "audiences": []string{"https://management.core.windows.net/", "https://management.azure.com/"},
			"tenant": "common", "identityProvider": "AAD"},
		"suffixes": map[string]string{"acrLoginServer": "azurecr.io", "storage": "core.windows.net", "keyVaultDns": "vault.azure.net"},
	})
}

func (a *api) listTenants(w http.ResponseWriter, r *http.Request, _ *Identity) error {
	return writeJSON(w, http.StatusOK, map[string]any{"value": []any{map[string]string{
		"id": "/tenants/" + a.cfg.TenantID, "tenantId": a.cfg.TenantID, "tenantCategory": "Home", "displayName": "acr-emulator"}}})
}
