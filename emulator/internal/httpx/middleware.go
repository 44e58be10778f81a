package httpx

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/internal/ids"
)

// NewCorrelationID returns a random GUID, the form of ACR's X-Ms-Correlation-Request-Id.
func NewCorrelationID() string { return ids.NewGUID() }

// Status is the written status (200 when the handler wrote a body without a header).
func (s *StatusRecorder) Status() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}

// StatusRecorder remembers the status and size a handler wrote.
type StatusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *StatusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *StatusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// ReadFrom keeps the underlying writer's ReadFrom reachable: net/http's response hands an
// *os.File to the TCP connection's sendfile(2) that way, which a plain wrapper would hide.
func (s *StatusRecorder) ReadFrom(r io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(r)
	} else {
		n, err = io.Copy(struct{ io.Writer }{s.ResponseWriter}, r)
	}
	s.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (s *StatusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Observe gives each request a correlation id and a request-scoped logger, logs one line per
// request at debug level (the access decisions are logged at info elsewhere), and turns a panic
// into a 500 written by onPanic so one bad request never takes the process down.
func Observe(base *slog.Logger, onPanic func(w http.ResponseWriter, r *http.Request)) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := NewCorrelationID()
			log := base.With("request_id", id)
			ctx := context.WithValue(r.Context(), loggerKey{}, log)
			ctx = context.WithValue(ctx, correlationKey{}, id)
			r = r.WithContext(ctx)
			rec := &StatusRecorder{ResponseWriter: w}
			start := time.Now()
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					log.Error("panic serving request", "panic", p, "method", r.Method, "path", r.URL.Path, "stack", string(debug.Stack()))
					if rec.status == 0 {
						onPanic(rec, r)
					}
				}
				log.Debug("request", "method", r.Method, "host", r.Host, "path", RedactedURI(r.URL),
					"status", rec.status, "bytes", rec.bytes, "duration", time.Since(start), "remote", r.RemoteAddr)
			}()
			next.ServeHTTP(rec, r)
		})
	}
}

// capabilityParams are query parameters that grant access by themselves (a storage SAS's
// signature sig, a data endpoint link's s): whoever reads a log with them could use the link.
var capabilityParams = []string{"sig", "s", "code", "access_token", "refresh_token", "client_secret"}

// RedactedURI is the request URI with capability parameters' values replaced, for logs.
func RedactedURI(u *url.URL) string {
	if u.RawQuery == "" {
		return u.RequestURI()
	}
	q := u.Query()
	redacted := false
	for _, p := range capabilityParams {
		if _, ok := q[p]; ok {
			q.Set(p, "REDACTED")
			redacted = true
		}
	}
	if !redacted {
		return u.RequestURI()
	}
	c := *u
	c.RawQuery = q.Encode()
	return c.RequestURI()
}

type correlationKey struct{}

// CorrelationID returns the request's correlation id ("" outside Observe).
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}

// ACRHeaders sets the headers every ACR data-plane response carries (spec section 1.5).
func ACRHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if h.Get("Docker-Distribution-Api-Version") != "" {
			next.ServeHTTP(w, r) // already set by an outer layer (the token gate)
			return
		}
		h.Set("Docker-Distribution-Api-Version", "registry/2.0")
		id := CorrelationID(r.Context())
		if id == "" {
			id = NewCorrelationID()
		}
		h.Set("X-Ms-Correlation-Request-Id", id)
		for _, v := range []string{"Docker-Content-Digest", "WWW-Authenticate", "Link", "X-Ms-Correlation-Request-Id"} {
			h.Add("Access-Control-Expose-Headers", v)
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		h.Set("Server", "openresty")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			// ACR tags write operations with a request id and echoes an (empty) client id.
			h.Set("X-Ms-Request-Id", NewCorrelationID())
			h["X-Ms-Client-Request-Id"] = []string{""}
		}
		next.ServeHTTP(w, r)
	})
}
