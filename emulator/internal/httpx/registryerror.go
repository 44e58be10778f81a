// Package httpx holds what every HTTP surface of the emulator shares: the error envelopes (one
// writer per wire surface), request ids, access logging, panic recovery and ACR's response
// headers.
package httpx

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
)

// RegistryError is an error of the registry data plane, written as the distribution/OCI envelope
// {"errors":[{"code","message","detail"}]} that ACR uses (spec acr-dataplane-auth.md section 7).
type RegistryError struct {
	Status  int
	Code    string
	Message string
	Detail  any         // omitted when nil
	Header  http.Header // extra response headers, e.g. WWW-Authenticate
}

func (e *RegistryError) Error() string { return e.Code + ": " + e.Message }

// WithDetail returns a copy with detail set.
func (e *RegistryError) WithDetail(d any) *RegistryError {
	c := *e
	c.Detail = d
	return &c
}

// WithMessage returns a copy with another message.
func (e *RegistryError) WithMessage(msg string) *RegistryError {
	c := *e
	c.Message = msg
	return &c
}

// WithHeader returns a copy that also sets header k: v.
func (e *RegistryError) WithHeader(k, v string) *RegistryError {
	c := *e
	c.Header = e.Header.Clone()
	if c.Header == nil {
		c.Header = http.Header{}
	}
	c.Header.Add(k, v)
	return &c
}

// NewRegistryError builds an error with a status, code and message.
func NewRegistryError(status int, code, message string) *RegistryError {
	return &RegistryError{Status: status, Code: code, Message: message}
}

type registryErrorBody struct {
	Errors []registryErrorItem `json:"errors"`
}

type registryErrorItem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Detail  any    `json:"detail,omitempty"`
}

// WriteRegistryError writes err in the registry envelope. Errors that are not *RegistryError are
// logged and become a 500 UNKNOWN, so internal details never reach a client.
func WriteRegistryError(w http.ResponseWriter, r *http.Request, err error) {
	var re *RegistryError
	if !errors.As(err, &re) {
		Logger(r.Context()).Error("internal error", "err", err, "method", r.Method, "path", r.URL.Path)
		re = NewRegistryError(http.StatusInternalServerError, "UNKNOWN", "unknown error")
	}
	for k, vs := range re.Header {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	body, _ := json.Marshal(registryErrorBody{Errors: []registryErrorItem{{Code: re.Code, Message: re.Message, Detail: re.Detail}}})
	// ACR ends its error bodies with a newline (the recordings' Content-Length counts it).
	body = append(body, '\n')
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(re.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// RegistryHandler adapts a handler that returns an error to http.Handler; the error, if any, is
// written by WriteRegistryError (the one place registry error bodies are written).
type RegistryHandler func(w http.ResponseWriter, r *http.Request) error

func (h RegistryHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h(w, r); err != nil {
		WriteRegistryError(w, r, err)
	}
}

// loggerKey carries the request-scoped logger.
type loggerKey struct{}

// Logger returns the request-scoped logger, or slog.Default when none was attached.
func Logger(ctx interface{ Value(any) any }) *slog.Logger { return LoggerOr(ctx, slog.Default()) }

// LoggerOr returns the request-scoped logger, or fallback when none was attached.
func LoggerOr(ctx interface{ Value(any) any }, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return l
	}
	return fallback
}
