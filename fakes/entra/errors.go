package entra

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// oauthError is Entra's OAuth error: handlers return one and writeError writes it.
// https://learn.microsoft.com/entra/identity-platform/reference-error-codes
type oauthError struct {
	status int
	code   string // the OAuth "error" value
	aadsts int    // 0 for the emulator's own 404 and 405, which carry no AADSTS code
	msg    string // the description without the "AADSTSnnnnn: " prefix and trace suffix
	allow  string // Allow header of a 405
}

func (e *oauthError) Error() string { return fmt.Sprintf("AADSTS%d: %s", e.aadsts, e.msg) }

// errorBody is the JSON of an Entra error. MSAL and azidentity put error_description in their
// error text, which is how "AADSTS7000215" reaches a user's terminal.
type errorBody struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes,omitempty"`
	Timestamp        string `json:"timestamp"`
	TraceID          string `json:"trace_id"`
	CorrelationID    string `json:"correlation_id"`
}

// writeError writes e in Entra's shape. The correlation id is the caller's client-request-id
// when it sent one, as Entra does, so a client log and the response can be matched.
func writeError(w http.ResponseWriter, r *http.Request, now time.Time, e *oauthError) {
	trace, corr := newGUID(), r.Header.Get("client-request-id")
	if !guidRE.MatchString(corr) {
		corr = newGUID()
	}
	ts := now.UTC().Format("2006-01-02 15:04:05Z")
	body := errorBody{Error: e.code, Timestamp: ts, TraceID: trace, CorrelationID: corr}
	body.ErrorDescription = e.msg
	if e.aadsts != 0 {
		body.ErrorCodes = []int{e.aadsts}
		body.ErrorDescription = "AADSTS" + strconv.Itoa(e.aadsts) + ": " + e.msg
	}
	body.ErrorDescription += " Trace ID: " + trace + " Correlation ID: " + corr + " Timestamp: " + ts
	if e.allow != "" {
		w.Header().Set("Allow", e.allow)
	}
	w.Header().Set("x-ms-request-id", trace)
	writeJSON(w, e.status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	// Entra marks token responses uncacheable; harmless on the rest.
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// The errors. Texts are Entra's as seen in client logs and Microsoft's docs; the ones marked
// "guess" were not seen verbatim for this case.

func errTenantNotFound(code, tenant string) *oauthError {
	// The token endpoint says invalid_request, discovery says invalid_tenant.
	return &oauthError{status: http.StatusBadRequest, code: code, aadsts: 90002, msg: fmt.Sprintf(
		"Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. "+
			"Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.", tenant)}
}

// errNoTenantInfo answers a client-credentials request to common/organizations/consumers,
// which cannot tell the tenant (guess: code and text of AADSTS50059 for this case).
func errNoTenantInfo() *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", aadsts: 50059,
		msg: "No tenant-identifying information found in either the request or implied by any provided credentials."}
}

func errMissingParam(name string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", aadsts: 900144,
		msg: fmt.Sprintf("The request body must contain the following parameter: '%s'.", name)}
}

func errUnsupportedGrant(grant string) *oauthError {
	// guess: wording of the AADSTS70003 description.
	return &oauthError{status: http.StatusBadRequest, code: "unsupported_grant_type", aadsts: 70003,
		msg: fmt.Sprintf("The app requested an unsupported grant type '%s'.", grant)}
}

func errAppNotFound(appID, tenant string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "unauthorized_client", aadsts: 700016, msg: fmt.Sprintf(
		"Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been "+
			"installed by the administrator of the tenant or consented to by any user in the tenant. "+
			"You may have sent your authentication request to the wrong tenant.", appID, tenant)}
}

func errInvalidSecret(appID string) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", aadsts: 7000215, msg: fmt.Sprintf(
		"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, "+
			"not the client secret ID, for a secret added to app '%s'.", appID)}
}

func errNoCredential() *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", aadsts: 7000218,
		msg: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
}

func errResourceNotFound(resource, tenant string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_resource", aadsts: 500011, msg: fmt.Sprintf(
		"The resource principal named %s was not found in the tenant named %s. This can happen if the application has not been "+
			"installed by the administrator of the tenant or consented to by any user in the tenant. "+
			"You might have sent your authentication request to the wrong tenant.", resource, tenant)}
}

// errScopeNotDefault is what current Entra says when a client-credentials scope lacks /.default
// (older Entra said AADSTS70011 "The scope ... is not valid.").
func errScopeNotDefault(scope string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_scope", aadsts: 1002012, msg: fmt.Sprintf(
		"The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default "+
			"suffixed to the resource identifier (application ID URI).", scope)}
}

// errScopeInvalid covers the other malformed scopes: several resources in one request, or only
// OpenID scopes (guess: the second sentence for the latter).
func errScopeInvalid(scope string, several bool) *oauthError {
	why := fmt.Sprintf("The scope '%s' is not valid.", scope)
	if several {
		why = fmt.Sprintf("One or more scopes in '%s' are not compatible with each other.", scope)
	}
	return &oauthError{status: http.StatusBadRequest, code: "invalid_scope", aadsts: 70011,
		msg: "The provided value for the input parameter 'scope' is not valid. " + why}
}

func errNoFederatedMatch(iss, sub, aud string) *oauthError {
	// guess: the OAuth error value (the description is as GitHub Actions and AKS logs show it).
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", aadsts: 70021, msg: fmt.Sprintf(
		"No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. "+
			"Assertion Subject: '%s'. Assertion Audience: '%s'.", iss, sub, aud)}
}

func errAssertionTime(now, nbf, exp time.Time) *oauthError {
	// guess: status and OAuth error value.
	f := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.0000000Z") }
	return &oauthError{status: http.StatusBadRequest, code: "invalid_client", aadsts: 700024, msg: fmt.Sprintf(
		"Client assertion is not within its valid time range. Current time: %s, assertion valid from %s, expiry time of assertion %s.",
		f(now), f(nbf), f(exp))}
}

func errAssertionMalformed() *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_request", aadsts: 50027,
		msg: "JWT token is invalid or malformed."}
}

// errCertificateAssertion answers a self-signed (certificate) client assertion, which the
// emulator does not support: no principal has a certificate (guess: text for this case).
func errCertificateAssertion(appID string) *oauthError {
	return &oauthError{status: http.StatusUnauthorized, code: "invalid_client", aadsts: 700027, msg: fmt.Sprintf(
		"The certificate with identifier used to sign the client assertion is not registered on application. [AppId: %s]", appID)}
}

func errInvalidInstance() *oauthError {
	return &oauthError{status: http.StatusBadRequest, code: "invalid_instance", aadsts: 50049,
		msg: "Unknown or invalid instance."}
}

// errMethod is a known endpoint called with the wrong method. Entra answers AADSTS900561 (with
// 400, guess); the emulator uses 405 and an Allow header so the mistake is plain.
func errMethod(allow, got string) *oauthError {
	return &oauthError{status: http.StatusMethodNotAllowed, code: "invalid_request", aadsts: 900561, allow: allow,
		msg: fmt.Sprintf("The endpoint only accepts %s requests. Received a %s request.", allow, got)}
}

func errNotFound(path string) *oauthError {
	return &oauthError{status: http.StatusNotFound, code: "not_found",
		msg: fmt.Sprintf("The emulated Entra ID has no endpoint at %s.", path)}
}

func errInternal(err error) *oauthError {
	return &oauthError{status: http.StatusInternalServerError, code: "server_error", aadsts: 90033,
		msg: "A transient error has occurred. Please try again. (" + err.Error() + ")"}
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
