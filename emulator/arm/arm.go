// Package arm is the Azure Resource Manager surface of the emulator: subscriptions, tenants and
// resource provider registrations, resource groups, Microsoft.ContainerRegistry registries and
// their replications, role assignments, user-assigned identities and private endpoints,
// authenticated with Entra tokens for an ARM audience and authorized by RBAC, never
// network-restricted (as in Azure). ACR Tasks and the simulated services' resource providers
// are served by handlers given in Config, behind the same routing, authentication and RBAC.
//
// Every family is declared once (Kind, Delegate or Endpoint, listed in routes.go) and one
// router serves them all (router.go): paths match whatever the case of their provider and type
// segments, ids keep the caller's names, long-running operations are written and kept in one
// place (lro.go). Every api-version of the form YYYY-MM-DD[-preview] is accepted.
package arm

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/store"
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
	// Location is the world's: where a resource without its own location is.
	Location string
	Logger   *slog.Logger
	// Create serves a registry PUT created (the emulator gives it a handler and login server).
	Create func(rec *store.Registry) error
	// Delete stops serving a deleted registry and drops its content.
	Delete func(name string) error
	// Providers serve other resource providers (the simulated services), keyed by namespace
	// ("Microsoft.ContainerInstance"); their types are declared in routes.go, where a new
	// provider adds its line. Their requests are routed, authenticated and authorized here
	// (<namespace>/<type>/read, write, delete or <action>/action on the resource), then handed
	// over with the path spelled as declared.
	Providers map[string]http.Handler
	// Import copies an image into a registry (registries/importImage).
	Import importFunc
	// Tasks serves ACR Tasks under a registry (tasks, runs, scheduleRun, listBuildSourceUploadUrl)
	// after the same checks.
	Tasks http.Handler
	// Webhooks delivers webhook pings and keeps webhooks' deliveries; nil: a ping is sent
	// nowhere and listEvents lists none.
	Webhooks Webhooks
}

// Error is an ARM error, written as {"error":{"code","message"}}.
type Error struct {
	Status  int
	Code    string
	Message string
	// EnvelopeStatus, when set, is written beside the error ({"error":{...},"status":"Failed"}),
	// as ACR's scope maps and tokens answer a missing one (recording test_acr_connectedregistry).
	EnvelopeStatus string
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
	body := map[string]any{"error": map[string]string{"code": ae.Code, "message": ae.Message}}
	if ae.EnvelopeStatus != "" {
		body["status"] = ae.EnvelopeStatus
	}
	writeJSON(w, ae.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("x-ms-request-id", httpx.NewCorrelationID())
	w.Header().Set("x-ms-correlation-request-id", httpx.NewCorrelationID())
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

type api struct {
	cfg    Config
	ops    *operations
	routes *table
	rps    registrations
	// deleting are the agent pools whose DELETE was answered (agentpools.go).
	deleting deletingPools
}

var apiVersionRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(-preview)?$`)

// IsARMPath reports whether a path belongs to the management plane. Paths may begin with
// several slashes (//subscriptions/...: Azure SDKs join a scope that begins with "/").
func IsARMPath(p string) bool {
	p = "/" + strings.TrimLeft(p, "/")
	return strings.HasPrefix(p, "/subscriptions") || strings.HasPrefix(p, "/tenants") || strings.HasPrefix(p, "/providers/") ||
		p == "/metadata/endpoints"
}

// New returns the management plane handler.
func New(cfg Config) http.Handler { return handlerFunc(build(cfg).serve) }

func build(cfg Config) *api {
	a := &api{cfg: cfg, ops: newOperations(), rps: registrations{unregistered: map[string]bool{}}}
	a.routes = newTable(a.declarations()...)
	return a
}

// apiVersion requires an api-version of the right form and accepts every such value (the
// most reported complaint about other emulators is a rejected api-version).
func apiVersion(r *http.Request) (string, error) {
	v := r.URL.Query().Get("api-version")
	if v == "" {
		return "", armError(http.StatusBadRequest, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.")
	}
	if !apiVersionRE.MatchString(v) {
		return "", armError(http.StatusBadRequest, "InvalidApiVersionParameter", "The api-version '"+v+"' is invalid. The supported versions are of the form 'yyyy-mm-dd' or 'yyyy-mm-dd-preview'.")
	}
	return v, nil
}

// authenticate requires an Entra token for an ARM audience.
func (a *api) authenticate(w http.ResponseWriter, r *http.Request) (*Identity, error) {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || tok == "" {
		w.Header().Set("WWW-Authenticate", `Bearer authorization_uri="https://`+r.Host+`/`+a.cfg.TenantID+`", error="invalid_token", error_description="The authentication failed because of missing 'Authorization' header."`)
		return nil, armError(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
	}
	id, err := a.cfg.Entra.VerifyEntraToken(strings.TrimSpace(tok))
	if err != nil {
		return nil, armError(http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
	}
	// Besides ARM's own audiences, the emulator's URL: a custom cloud (the azurerm provider's
	// metadata_host) asks Entra for a token whose audience is the metadata's resourceManager.
	switch aud := strings.TrimSuffix(strings.ToLower(id.Audience), "/"); aud {
	case "https://management.azure.com", "https://management.core.windows.net", "https://" + strings.ToLower(r.Host):
	default:
		return nil, armError(http.StatusUnauthorized, "InvalidAuthenticationTokenAudience",
			"The access token has been obtained for wrong audience or resource '"+id.Audience+"'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'.")
	}
	// A token of another tenant is refused whatever roles its object id holds here (ARM's
	// text, as widely reported: https://learn.microsoft.com/troubleshoot/azure/azure-kubernetes/error-codes/invalidauthenticationtokentenant).
	if !strings.EqualFold(id.TenantID, a.cfg.TenantID) {
		return nil, armError(http.StatusUnauthorized, "InvalidAuthenticationTokenTenant",
			"The access token is from the wrong issuer 'https://sts.windows.net/"+id.TenantID+"/'. It must match the tenant 'https://sts.windows.net/"+a.cfg.TenantID+
				"/' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/"+a.cfg.TenantID+
				"' to get the token. Note, if the subscription is transferred to another tenant there is no impact to the services, but information about new tenant could take time to propagate (up to an hour). If you just transferred your subscription and see this error message, please try back later.")
	}
	return id, nil
}

// authorize checks an ARM action on a scope for the caller.
func (a *api) authorize(caller *Identity, scope, action string) error {
	ok, err := allowed(a.cfg.Store, caller, scope, action)
	if err != nil || ok {
		return err
	}
	return armError(http.StatusForbidden, "AuthorizationFailed", "The client '"+caller.ObjectID+"' with object id '"+caller.ObjectID+
		"' does not have authorization to perform action '"+action+"' over scope '"+scope+"' or the scope is invalid. If access was recently granted, please refresh your credentials.")
}
