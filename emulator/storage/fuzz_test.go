package storage

import (
	"bytes"
	"encoding/xml"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzServeHTTP sends whatever a client may send (method, path, query, range and condition
// headers, body) with a valid SAS or none: the store answers without panicking, with an
// Azure error envelope that parses whenever it refuses, and never holds more than its bound.
func FuzzServeHTTP(f *testing.F) {
	f.Add("GET", "/acct/cnt1/hello.txt", "", "bytes=0-4", "", "", true)
	f.Add("PUT", "/acct.blob.core.windows.net/cnt1/new", "comp=block&blockid=QQ==", "", "x-ms-blob-type", "BlockBlob", true)
	f.Add("PUT", "/acct/cnt1/logs/ca1/rawtext.log", "comp=appendblock", "bytes=", "x-ms-blob-condition-appendpos", "-1", true)
	f.Add("PUT", "/acct/cnt1/b", "comp=blocklist", "", "If-None-Match", "*", true)
	f.Add("HEAD", "/acct/cnt1/", "restype=container", "bytes=99999999999999999999-", "", "", false)
	f.Add("DELETE", "/acct/cnt1/hello.txt", "sv=2023-01-03&sr=b&sp=d&se=x&sig=%%%", "", "Authorization", "Bearer x", false)
	f.Fuzz(func(t *testing.T, method, path, query, rng, hk, hv string, signed bool) {
		s := fixture(t, WithMaxBytes(1<<20), WithMaxBlobBytes(64<<10))
		r := httptest.NewRequest("GET", "https://localhost:8443/", strings.NewReader(hv))
		r.Method, r.URL.Path = method, path
		if ref, err := route(r); signed && err == nil && s.accountKey(ref.Account) != nil {
			query = newSAS(s.accountKey(ref.Account), ref, "racwd", testNow, time.Hour).Encode() + "&" + query
		}
		r.URL.RawQuery = query
		r.Header.Set("x-ms-range", rng)
		if hk != "" && !strings.ContainsAny(hk, "\r\n:") {
			r.Header.Set(hk, hv)
		}
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		if code := w.Header().Get("x-ms-error-code"); code != "" && method != "HEAD" {
			body := bytes.TrimPrefix(w.Body.Bytes(), []byte("\ufeff"))
			var env struct {
				Code string `xml:"Code"`
			}
			if err := xml.Unmarshal(body, &env); err != nil || env.Code != code {
				t.Fatalf("error envelope %q does not parse (%v) or names another code than %s", w.Body, err, code)
			}
		}
		s.mu.Lock()
		held, reserved := s.held, s.reserved
		s.mu.Unlock()
		if held > 1<<20 || reserved != 0 {
			t.Fatalf("held %d bytes, %d reserved after the request", held, reserved)
		}
	})
}
