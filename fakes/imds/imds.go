// Package imds serves managed-identity tokens the two ways Azure compute does, so
// azidentity.ManagedIdentityCredential works against the emulator:
//
//   - the App Service protocol: GET $IDENTITY_ENDPOINT?api-version=2019-08-01&resource=... with
//     header X-IDENTITY-HEADER: $IDENTITY_HEADER; the header tells which compute resource asks;
//   - the IMDS protocol: GET /metadata/identity/oauth2/token?api-version=2018-02-01&resource=...
//     with header Metadata: true, reached through HTTP_PROXY (Go's azidentity has the IMDS
//     address compiled in), for the one resource the world marks as the IMDS machine.
//
// client_id / object_id / mi_res_id (msi_res_id on IMDS) select a user-assigned identity attached
// to the resource; none selects its system-assigned one. An unknown identity is 400, never 404:
// azidentity retries 404 for about 70 seconds (spec acr-dataplane-auth.md section 5.2).
package imds

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/acr-emulator/acr-emulator/fakes/entra"
)

// Paths the handler serves; the emulator routes them here.
const (
	AppServicePath = "/msi/token"
	IMDSPath       = "/metadata/identity/oauth2/token"
)

// IsIdentityPath reports whether a request path belongs to the managed-identity endpoints.
func IsIdentityPath(p string) bool { return p == AppServicePath || p == IMDSPath }

// Compute is a resource that owns managed identities.
type Compute struct {
	ID     string
	System *entra.Principal   // nil without a system-assigned identity
	User   []*entra.Principal // attached user-assigned identities
}

// Directory finds the compute resource behind a request.
type Directory interface {
	ComputeByHeader(header string) (*Compute, error) // nil, nil when no resource has the header
	IMDSCompute() (*Compute, error)                  // nil, nil when the world has no IMDS machine
}

type handler struct {
	dir Directory
	iss *entra.Issuer
}

// NewHandler serves both protocols.
func NewHandler(dir Directory, iss *entra.Issuer) http.Handler {
	return &handler{dir: dir, iss: iss}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func fail(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		fail(w, http.StatusMethodNotAllowed, "invalid_request", "Only GET is supported.")
		return
	}
	q := r.URL.Query()
	var c *Compute
	var err error
	appService := r.URL.Path == AppServicePath
	if appService {
		header := r.Header.Get("X-IDENTITY-HEADER")
		if header == "" {
			fail(w, http.StatusBadRequest, "invalid_request", "The X-IDENTITY-HEADER header is required.")
			return
		}
		if c, err = h.dir.ComputeByHeader(header); err == nil && c == nil {
			fail(w, http.StatusUnauthorized, "unknown_source", "The X-IDENTITY-HEADER value does not belong to any compute resource of the emulator.")
			return
		}
	} else {
		// The probe DefaultAzureCredential sends has no Metadata header; real IMDS answers 400.
		if !strings.EqualFold(r.Header.Get("Metadata"), "true") {
			fail(w, http.StatusBadRequest, "bad_request_102", "Required metadata header not specified")
			return
		}
		if c, err = h.dir.IMDSCompute(); err == nil && c == nil {
			fail(w, http.StatusBadRequest, "invalid_request", "No compute resource of the emulator answers IMDS (mark one with imds: true in the world file).")
			return
		}
	}
	if err != nil {
		fail(w, http.StatusInternalServerError, "unknown", err.Error())
		return
	}
	resource := q.Get("resource")
	aud, ok := entra.Audience(resource)
	if !ok {
		fail(w, http.StatusBadRequest, "invalid_resource", "AADSTS500011: The resource principal named "+resource+" was not found in the tenant.")
		return
	}
	resIDParam := "mi_res_id"
	if !appService {
		resIDParam = "msi_res_id"
	}
	p, msg := pick(c, q.Get("client_id"), q.Get("object_id"), q.Get(resIDParam))
	if p == nil {
		fail(w, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	tok, exp, err := h.iss.Mint(p, aud, entra.AuthCertificate)
	if err != nil {
		fail(w, http.StatusInternalServerError, "unknown", err.Error())
		return
	}
	// Numbers are strings in both protocols.
	out := map[string]string{
		"access_token": tok, "expires_on": strconv.FormatInt(exp.Unix(), 10), "resource": resource,
		"token_type": "Bearer", "client_id": p.AppID,
	}
	if !appService {
		out["expires_in"] = strconv.Itoa(int(h.iss.Lifetime().Seconds()))
		out["refresh_token"] = ""
		out["not_before"] = strconv.FormatInt(exp.Add(-h.iss.Lifetime()).Unix(), 10)
	}
	writeJSON(w, http.StatusOK, out)
}

// pick selects the identity a request names, or explains why none matches.
func pick(c *Compute, clientID, objectID, resID string) (*entra.Principal, string) {
	if clientID == "" && objectID == "" && resID == "" {
		if c.System == nil {
			return nil, "Identity not found: " + c.ID + " has no system-assigned identity."
		}
		return c.System, ""
	}
	for _, u := range c.User {
		if (clientID != "" && strings.EqualFold(u.AppID, clientID)) || (objectID != "" && strings.EqualFold(u.ObjectID, objectID)) ||
			(resID != "" && strings.EqualFold(u.ResourceID, resID)) {
			return u, ""
		}
	}
	return nil, "Identity not found: the requested identity isn't assigned to " + c.ID + "."
}
