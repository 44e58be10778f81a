// Package armio writes and reads the JSON of the simulated services' ARM resource providers,
// with ARM's error envelope ({"error":{"code","message"}}).
package armio

import (
	"encoding/json"
	"io"
	"net/http"
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

// Decode reads a JSON body into v, or answers ARM's 400 InvalidRequestContent and returns false.
func Decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(v); err != nil {
		Error(w, http.StatusBadRequest, "InvalidRequestContent", "The request content was invalid and could not be deserialized: "+err.Error())
		return false
	}
	return true
}
