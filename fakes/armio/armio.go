// Package armio writes and reads the JSON of the simulated services' ARM resource providers,
// with ARM's error envelope ({"error":{"code","message"}}).
package armio

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/arm/armid"
)

// maxBody bounds a request body: resource definitions are small.
const maxBody = 1 << 20

// WriteJSON answers v with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Error answers an ARM error.
func Error(w http.ResponseWriter, status int, code, msg string) {
	WriteJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

// Read reads a JSON body into v (bounded); its error is ARM's InvalidRequestContent text.
func Read(r *http.Request, v any) error {
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(v); err != nil {
		return errors.New("The request content was invalid and could not be deserialized: " + err.Error())
	}
	return nil
}

// Decode reads a JSON body into v, or answers ARM's 400 InvalidRequestContent and returns false.
func Decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := Read(r, v); err != nil {
		Error(w, http.StatusBadRequest, "InvalidRequestContent", err.Error())
		return false
	}
	return true
}

// Identity is the identity block of an ARM resource body.
type Identity struct {
	Type                   string         `json:"type"`
	UserAssignedIdentities map[string]any `json:"userAssignedIdentities"`
}

// Assigned tells whether the block asks for a system-assigned identity ("SystemAssigned" or
// "SystemAssigned, UserAssigned") and which user-assigned identities it names, by resource id.
func (i *Identity) Assigned() (system bool, user []string) {
	user = []string{}
	if i == nil {
		return false, user
	}
	for uid := range i.UserAssignedIdentities {
		user = append(user, uid)
	}
	slices.Sort(user)
	return strings.Contains(strings.ToLower(i.Type), "systemassigned"), user
}

// SystemData is an ARM resource's systemData as a provider writes it.
type SystemData struct {
	CreatedBy          string `json:"createdBy,omitempty"`
	CreatedByType      string `json:"createdByType,omitempty"`
	CreatedAt          string `json:"createdAt,omitempty"`
	LastModifiedBy     string `json:"lastModifiedBy"`
	LastModifiedByType string `json:"lastModifiedByType"`
	LastModifiedAt     string `json:"lastModifiedAt"`
}

// Touch records a change by the request's caller (ARM's caller headers, armid) and the
// creation, when created, at now, as the management plane's own resources do: by the
// caller's app id, else its object id, of type Application.
func Touch(s SystemData, r *http.Request, created bool, now time.Time) SystemData {
	by := r.Header.Get(armid.HeaderClientAppID)
	if by == "" {
		by = r.Header.Get(armid.HeaderClientObjectID)
	}
	at := now.UTC().Format("2006-01-02T15:04:05.0000000+00:00") // as ARM writes times
	if created {
		s.CreatedBy, s.CreatedByType, s.CreatedAt = by, "Application", at
	}
	s.LastModifiedBy, s.LastModifiedByType, s.LastModifiedAt = by, "Application", at
	return s
}
