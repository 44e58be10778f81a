package entra

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// OpenID scopes MSAL appends to every request ("openid offline_access profile"); a
// client-credentials request ignores them.
var oidcScopes = []string{"openid", "offline_access", "profile", "email"}

// token serves the v2.0 (scope=) and v1 (resource=) token endpoints for the client-credentials
// grant. https://learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow
// The checks run in the order Entra reports problems: tenant, request shape, client, credential,
// then the resource.
func (h *handler) token(w http.ResponseWriter, r *http.Request, tenant string, v2 bool) *oauthError {
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		return errMissingParam("grant_type")
	}
	f := r.PostForm
	if isWellKnownTenant(tenant) {
		return errNoTenantInfo()
	}
	tenant = normalizeID(tenant)
	if !h.dir.HasTenant(tenant) {
		return errTenantNotFound("invalid_request", tenant)
	}
	switch gt := f.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		return errMissingParam("grant_type")
	default:
		return errUnsupportedGrant(gt)
	}
	clientID, secret := f.Get("client_id"), f.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		// client_secret_basic: RFC 6749 section 2.3.1 form-encodes both before base64; a
		// client that did not is taken literally.
		clientID, secret = formDecode(u), formDecode(p)
	}
	if clientID == "" {
		return errMissingParam("client_id")
	}
	requested, oerr := requestedResource(f, v2)
	if oerr != nil {
		return oerr
	}
	p, err := h.dir.ClientByAppID(tenant, normalizeID(clientID))
	if err != nil {
		return errInternal(err)
	}
	if p == nil || p.Kind == KindUser {
		return errAppNotFound(clientID, tenant)
	}
	acr, oerr := h.authenticate(p, clientID, secret, f)
	if oerr != nil {
		return oerr
	}
	aud, ok := h.audience(r, requested)
	if !ok {
		return errResourceNotFound(strings.TrimSuffix(requested, "/.default"), tenant)
	}
	tok, nbf, exp, err := h.iss.mint(p, aud, acr)
	if err != nil {
		return errInternal(err)
	}
	secs := int(exp.Sub(h.iss.now()) / time.Second)
	if v2 {
		// v2.0 reports numbers.
		writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
		return nil
	}
	// v1 reports numbers as strings and echoes the resource.
	writeJSON(w, http.StatusOK, map[string]string{
		"token_type": "Bearer", "expires_in": strconv.Itoa(secs), "ext_expires_in": strconv.Itoa(secs),
		"expires_on": strconv.FormatInt(exp.Unix(), 10), "not_before": strconv.FormatInt(nbf.Unix(), 10),
		"resource": requested, "access_token": tok,
	})
	return nil
}

// requestedResource returns the v1 resource, or the one "<resource>/.default" scope of a v2
// request, after setting MSAL's OpenID extras aside.
func requestedResource(f url.Values, v2 bool) (string, *oauthError) {
	if !v2 {
		// guess: v1 reports a missing resource as a missing parameter.
		if f.Get("resource") == "" {
			return "", errMissingParam("resource")
		}
		return f.Get("resource"), nil
	}
	raw := f.Get("scope")
	if strings.TrimSpace(raw) == "" {
		return "", errMissingParam("scope")
	}
	var res string
	for _, sc := range strings.Fields(raw) {
		switch {
		case slices.Contains(oidcScopes, strings.ToLower(sc)):
		case !strings.HasSuffix(sc, "/.default"):
			return "", errScopeNotDefault(sc)
		case res != "" && res != sc:
			return "", errScopeInvalid(raw, true)
		default:
			res = sc
		}
	}
	if res == "" {
		return "", errScopeInvalid(raw, false)
	}
	return res, nil
}

// authenticate checks the client's credential and returns the token's appidacr.
func (h *handler) authenticate(p *Principal, clientID, secret string, f url.Values) (string, *oauthError) {
	if assertion := f.Get("client_assertion"); assertion != "" && f.Get("client_assertion_type") == assertionType {
		if err := h.federated(p, clientID, assertion); err != nil {
			return "", err
		}
		return AuthCertificate, nil
	}
	if secret == "" {
		return "", errNoCredential()
	}
	for _, s := range p.Secrets {
		if s != "" && subtle.ConstantTimeCompare([]byte(s), []byte(secret)) == 1 {
			return AuthSecret, nil
		}
	}
	return "", errInvalidSecret(p.AppID)
}

// federated accepts a workload-identity assertion whose iss, sub and one aud match a federated
// credential of the application, inside its validity window.
//
// The assertion's signature is NOT verified: its issuer (an AKS OIDC issuer, GitHub Actions,
// a Kubernetes API server...) publishes keys on the real internet, which the emulator does not
// reach. Anyone who can reach the emulator can therefore mint an accepted assertion; that is fine
// for a local emulator and would be a hole anywhere else. Unsigned ("alg":"none") assertions
// are still refused, as Entra refuses them.
func (h *handler) federated(p *Principal, clientID, assertion string) *oauthError {
	msg, err := jws.Parse([]byte(assertion))
	if err != nil || strings.Count(assertion, ".") != 2 || len(msg.Signatures()) != 1 ||
		msg.Signatures()[0].ProtectedHeaders().Algorithm() == jwa.NoSignature {
		return errAssertionMalformed()
	}
	tok, err := jwt.Parse([]byte(assertion), jwt.WithVerify(false), jwt.WithValidate(false))
	if err != nil {
		return errAssertionMalformed()
	}
	iss, sub, auds := tok.Issuer(), tok.Subject(), tok.Audience()
	if iss == clientID && sub == clientID {
		// A self-signed assertion: a certificate credential, not a federated one.
		return errCertificateAssertion(clientID)
	}
	now := h.iss.now()
	exp, nbf := tok.Expiration(), tok.NotBefore()
	if exp.IsZero() || now.After(exp.Add(maxSkew)) || (!nbf.IsZero() && now.Add(maxSkew).Before(nbf)) {
		return errAssertionTime(now, nbf, exp)
	}
	var match bool
	for _, fc := range p.Federated {
		want := fc.Audiences
		if len(want) == 0 {
			want = []string{DefaultFederatedAudience}
		}
		if iss == fc.Issuer && sub == fc.Subject && slices.ContainsFunc(auds, func(a string) bool { return slices.Contains(want, a) }) {
			match = true
			break
		}
	}
	if !match {
		return errNoFederatedMatch(iss, sub, strings.Join(auds, ","))
	}
	return nil
}

func formDecode(s string) string {
	if d, err := url.QueryUnescape(s); err == nil {
		return d
	}
	return s
}
