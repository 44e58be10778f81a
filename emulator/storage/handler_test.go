package storage

import (
	"crypto/md5"
	"encoding/base64"

	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)

// fixture is an account with a block blob cnt1/hello.txt and an append blob cnt1/logs/ca1/rawtext.log
// (a run log: two blocks and its Complete outcome).
func fixture(t *testing.T, opts ...Option) *Store {
	t.Helper()
	s := New(append([]Option{WithClock(func() time.Time { return testNow })}, opts...)...)
	for _, err := range []error{
		s.AddAccount("acct"),
		s.EnsureContainer("acct", "cnt1"),
		s.PutBlockBlob(Ref{"acct", "cnt1", "hello.txt"}, []byte("hello world"), Props{ContentType: "text/plain"}),
		s.CreateAppendBlob(Ref{"acct", "cnt1", "logs/ca1/rawtext.log"}, Props{}),
		s.AppendBlock(Ref{"acct", "cnt1", "logs/ca1/rawtext.log"}, []byte("step 1\r\n")),
		s.AppendBlock(Ref{"acct", "cnt1", "logs/ca1/rawtext.log"}, []byte("step 2\r\n")),
		s.SetMetadata(Ref{"acct", "cnt1", "logs/ca1/rawtext.log"}, map[string]string{"Complete": "successful"}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// link is a signed path-style URL, as the emulator hands them out.
func link(t *testing.T, s *Store, blob, perms string) string {
	t.Helper()
	u, err := s.SignedURL("https://localhost:8443/acct.blob.core.windows.net", Ref{"acct", "cnt1", blob}, perms, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func md5b64(s string) string {
	sum := md5.Sum([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

func TestCalls(t *testing.T) {
	for _, tc := range []struct {
		Description string
		Opts        []Option
		Method      string
		URL         func(t *testing.T, s *Store) string // default: a read link to hello.txt
		Header      map[string]string
		Body        string
		Code        int
		ErrorCode   string            // x-ms-error-code and the envelope's Code
		Want        string            // the body (errors: a substring of it)
		WantHeader  map[string]string // "" means: absent
		Then        func(t *testing.T, s *Store)
	}{
		{Description: "read a blob", Method: "GET", Code: 200, Want: "hello world",
			WantHeader: map[string]string{"x-ms-blob-type": "BlockBlob", "Content-MD5": md5b64("hello world"), "Content-Type": "text/plain",
				"x-ms-version": "2023-01-03", "Server": "Windows-Azure-Blob/1.0 Microsoft-HTTPAPI/2.0", "Accept-Ranges": "bytes",
				"Content-Length": "11", "Last-Modified": "Mon, 06 May 2024 07:08:09 GMT"}},
		{Description: "the request's x-ms-version is the one served", Method: "GET", Header: map[string]string{"x-ms-version": "2018-11-09", "x-ms-client-request-id": "abc"},
			Code: 200, WantHeader: map[string]string{"x-ms-version": "2018-11-09", "x-ms-client-request-id": "abc"}},
		{Description: "x-ms-range", Method: "GET", Header: map[string]string{"x-ms-range": "bytes=6-100"}, Code: 206, Want: "world",
			WantHeader: map[string]string{"Content-Range": "bytes 6-10/11", "Content-Length": "5", "Content-MD5": "", "x-ms-blob-content-md5": md5b64("hello world")}},
		{Description: "x-ms-range wins over Range", Method: "GET", Header: map[string]string{"x-ms-range": "bytes=0-4", "Range": "bytes=6-"}, Code: 206, Want: "hello"},
		{Description: "open Range", Method: "GET", Header: map[string]string{"Range": "bytes=6-"}, Code: 206, Want: "world"},
		{Description: "range at the end", Method: "GET", Header: map[string]string{"x-ms-range": "bytes=11-20"}, Code: 416, ErrorCode: "InvalidRange",
			Want: "The range specified is invalid for the current size of the resource.", WantHeader: map[string]string{"Content-Range": "bytes */11"}},
		{Description: "malformed x-ms-range", Method: "GET", Header: map[string]string{"x-ms-range": "bytes=a-"}, Code: 400, ErrorCode: "InvalidHeaderValue",
			Want: "<HeaderName>x-ms-range</HeaderName><HeaderValue>bytes=a-</HeaderValue>"},
		{Description: "malformed Range is ignored", Method: "GET", Header: map[string]string{"Range": "lines=1-2"}, Code: 200, Want: "hello world"},
		{Description: "properties", Method: "HEAD", Header: map[string]string{"Range": "bytes=0-1"}, Code: 200, Want: "",
			WantHeader: map[string]string{"Content-Length": "11", "Content-Range": "", "x-ms-access-tier": "Hot", "x-ms-lease-state": "available"}},
		{Description: "a run log's properties: append blob, its Complete metadata as set", Method: "HEAD",
			URL: func(t *testing.T, s *Store) string { return link(t, s, "logs/ca1/rawtext.log", "r") }, Code: 200,
			WantHeader: map[string]string{"x-ms-blob-type": "AppendBlob", "x-ms-blob-committed-block-count": "2", "Content-Length": "16", "x-ms-meta-Complete": "successful"}},
		{Description: "Azurite's path style", Method: "GET", URL: func(t *testing.T, s *Store) string {
			return strings.Replace(link(t, s, "hello.txt", "r"), "/acct.blob.core.windows.net/", "/acct/", 1)
		}, Code: 200, Want: "hello world"},
		{Description: "the account's real name", Method: "GET", URL: func(t *testing.T, s *Store) string {
			return strings.Replace(link(t, s, "hello.txt", "r"), "localhost:8443/acct.blob.core.windows.net", "acct.blob.core.windows.net", 1)
		}, Code: 200, Want: "hello world"},
		{Description: "anonymous: nothing is there", Method: "GET", URL: func(*testing.T, *Store) string {
			return "https://localhost:8443/acct/c1/hello.txt"
		}, Code: 404, ErrorCode: "ResourceNotFound", Want: "The specified resource does not exist."},
		{Description: "a forwarded registry token beside the SAS", Method: "GET", Header: map[string]string{"Authorization": "Bearer eyJhbGciOi"}, Code: 400,
			ErrorCode: "InvalidAuthenticationInfo", Want: "Authentication information is not given in the correct format. Check the value of Authorization header."},
		{Description: "a tampered link", Method: "GET", URL: func(t *testing.T, s *Store) string {
			return strings.Replace(link(t, s, "hello.txt", "r"), "hello.txt", "logs/ca1/rawtext.log", 1)
		}, Code: 403, ErrorCode: "AuthenticationFailed",
			Want: "<Message>Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.\nRequestId:"},
		{Description: "an expired link", Method: "GET", URL: func(t *testing.T, s *Store) string {
			return strings.Replace(link(t, s, "hello.txt", "r"), "se=2024-05-06T08%3A08%3A09Z", "se=2024-05-06T07%3A08%3A09Z", 1)
		}, Code: 403, ErrorCode: "AuthenticationFailed",
			Want: "<AuthenticationErrorDetail>Signed expiry time [Mon, 06 May 2024 07:08:09 GMT] must be after signed start time [Mon, 06 May 2024 07:08:09 GMT]</AuthenticationErrorDetail></Error>"},
		{Description: "an upload link does not read", Method: "GET", URL: func(t *testing.T, s *Store) string { return link(t, s, "hello.txt", "cw") },
			Code: 403, ErrorCode: "AuthorizationPermissionMismatch", Want: "This request is not authorized to perform this operation using this permission."},
		{Description: "a read link does not write", Method: "PUT", Header: map[string]string{"x-ms-blob-type": "BlockBlob"}, Body: "x",
			Code: 403, ErrorCode: "AuthorizationPermissionMismatch"},
		{Description: "no such blob", Method: "GET", URL: func(t *testing.T, s *Store) string { return link(t, s, "nope", "r") }, Code: 404, ErrorCode: "BlobNotFound",
			Want: "The specified blob does not exist."},
		{Description: "no such blob, HEAD", Method: "HEAD", URL: func(t *testing.T, s *Store) string { return link(t, s, "nope", "r") }, Code: 404, ErrorCode: "BlobNotFound", Want: ""},
		{Description: "no such container", Method: "GET", URL: func(t *testing.T, s *Store) string {
			u, _ := s.SignedURL("https://localhost:8443/acct", Ref{"acct", "cnt2", "x"}, "r", time.Hour)
			return u
		}, Code: 404, ErrorCode: "ContainerNotFound"},
		{Description: "plain HTTP", Method: "GET", URL: func(t *testing.T, s *Store) string {
			return strings.Replace(link(t, s, "hello.txt", "r"), "https:", "http:", 1)
		},
			Code: 400, ErrorCode: "AccountRequiresHttps", Want: "<AccountName>acct</AccountName>"},
		{Description: "no blob name", Method: "GET", URL: func(*testing.T, *Store) string { return "https://localhost:8443/acct/c1" }, Code: 400, ErrorCode: "InvalidUri"},
		{Description: "container operations", Method: "GET", URL: func(t *testing.T, s *Store) string {
			return link(t, s, "hello.txt", "r") + "&restype=container&comp=list"
		},
			Code: 400, ErrorCode: "InvalidQueryParameterValue", Want: "<QueryParameterName>restype</QueryParameterName>"},
		{Description: "blob tags", Method: "GET", URL: func(t *testing.T, s *Store) string { return link(t, s, "hello.txt", "r") + "&comp=tags" },
			Code: 400, ErrorCode: "InvalidQueryParameterValue", Want: "<QueryParameterName>comp</QueryParameterName>"},
		{Description: "POST", Method: "POST", Code: 405, ErrorCode: "UnsupportedHttpVerb"},

		{Description: "upload a build context (Put Blob)", Method: "PUT", URL: func(t *testing.T, s *Store) string { return link(t, s, "source/ctx.tar.gz", "cw") },
			Header: map[string]string{"x-ms-blob-type": "BlockBlob", "Content-Type": "application/gzip", "x-ms-meta-Origin": "az"}, Body: "tarball", Code: 201,
			WantHeader: map[string]string{"Content-MD5": md5b64("tarball"), "x-ms-request-server-encrypted": "true",
				// the time in .NET ticks, kept past the fixture's five writes
				"ETag": `"0x8DC6D9B48E39285"`},
			Then: func(t *testing.T, s *Store) {
				b, err := s.Get(Ref{"acct", "cnt1", "source/ctx.tar.gz"})
				if err != nil || string(b.Data) != "tarball" || b.ContentType != "application/gzip" || b.Metadata["Origin"] != "az" {
					t.Fatalf("stored %+v %v", b, err)
				}
			}},
		{Description: "Put Blob without its type", Method: "PUT", URL: func(t *testing.T, s *Store) string { return link(t, s, "x", "cw") }, Body: "x",
			Code: 400, ErrorCode: "MissingRequiredHeader", Want: "<HeaderName>x-ms-blob-type</HeaderName>"},
		{Description: "page blobs", Method: "PUT", URL: func(t *testing.T, s *Store) string { return link(t, s, "x", "cw") }, Header: map[string]string{"x-ms-blob-type": "PageBlob"},
			Code: 400, ErrorCode: "InvalidHeaderValue"},
		{Description: "create does not overwrite", Method: "PUT", URL: func(t *testing.T, s *Store) string { return link(t, s, "hello.txt", "c") },
			Header: map[string]string{"x-ms-blob-type": "BlockBlob"}, Body: "x", Code: 403, ErrorCode: "AuthorizationPermissionMismatch"},
		{Description: "If-None-Match: * keeps a blob", Method: "PUT", URL: func(t *testing.T, s *Store) string { return link(t, s, "hello.txt", "cw") },
			Header: map[string]string{"x-ms-blob-type": "BlockBlob", "If-None-Match": "*"}, Body: "x", Code: 409, ErrorCode: "BlobAlreadyExists",
			Then: func(t *testing.T, s *Store) { wantData(t, s, "hello.txt", "hello world") }},
		{Description: "Content-MD5 mismatch", Method: "PUT", URL: func(t *testing.T, s *Store) string { return link(t, s, "x", "cw") },
			Header: map[string]string{"x-ms-blob-type": "BlockBlob", "Content-MD5": md5b64("other")}, Body: "x", Code: 400, ErrorCode: "Md5Mismatch",
			Then: func(t *testing.T, s *Store) { wantAbsent(t, s, "x") }},
		{Description: "a blob over the bound", Opts: []Option{WithMaxBlobBytes(16)}, Method: "PUT", URL: func(t *testing.T, s *Store) string { return link(t, s, "x", "cw") },
			Header: map[string]string{"x-ms-blob-type": "BlockBlob"}, Body: strings.Repeat("x", 17), Code: 413, ErrorCode: "RequestBodyTooLarge", Want: "<MaxLimit>16</MaxLimit>"},
		{Description: "the store over its bound", Opts: []Option{WithMaxBytes(64)}, Method: "PUT", URL: func(t *testing.T, s *Store) string { return link(t, s, "x", "cw") },
			Header: map[string]string{"x-ms-blob-type": "BlockBlob"}, Body: strings.Repeat("x", 40), Code: 503, ErrorCode: "ServerBusy",
			Then: func(t *testing.T, s *Store) { wantAbsent(t, s, "x") }},

		{Description: "create an append blob", Method: "PUT", URL: func(t *testing.T, s *Store) string { return link(t, s, "logs/ca2/rawtext.log", "cw") },
			Header: map[string]string{"x-ms-blob-type": "AppendBlob"}, Code: 201, Then: func(t *testing.T, s *Store) { wantData(t, s, "logs/ca2/rawtext.log", "") }},
		{Description: "an append blob is created empty", Method: "PUT", URL: func(t *testing.T, s *Store) string { return link(t, s, "y", "cw") },
			Header: map[string]string{"x-ms-blob-type": "AppendBlob"}, Body: "x", Code: 400, ErrorCode: "InvalidHeaderValue"},
		{Description: "append a block", Method: "PUT", URL: func(t *testing.T, s *Store) string {
			return link(t, s, "logs/ca1/rawtext.log", "a") + "&comp=appendblock"
		},
			Header: map[string]string{"x-ms-blob-condition-appendpos": "16"}, Body: "step 3\r\n", Code: 201,
			WantHeader: map[string]string{"x-ms-blob-append-offset": "16", "x-ms-blob-committed-block-count": "3", "Content-MD5": md5b64("step 3\r\n")},
			Then:       func(t *testing.T, s *Store) { wantData(t, s, "logs/ca1/rawtext.log", "step 1\r\nstep 2\r\nstep 3\r\n") }},
		{Description: "append at a stale position", Method: "PUT", URL: func(t *testing.T, s *Store) string {
			return link(t, s, "logs/ca1/rawtext.log", "a") + "&comp=appendblock"
		},
			Header: map[string]string{"x-ms-blob-condition-appendpos": "8"}, Body: "x", Code: 412, ErrorCode: "AppendPositionConditionNotMet"},
		{Description: "append to a block blob", Method: "PUT", URL: func(t *testing.T, s *Store) string { return link(t, s, "hello.txt", "a") + "&comp=appendblock" },
			Body: "x", Code: 409, ErrorCode: "InvalidBlobType"},
		{Description: "append over a block's limit (4 MiB before version 2022-11-02)", Method: "PUT", URL: func(t *testing.T, s *Store) string {
			return link(t, s, "logs/ca1/rawtext.log", "a") + "&comp=appendblock"
		},
			Header: map[string]string{"x-ms-version": "2021-12-02"}, Body: strings.Repeat("x", 4<<20+1), Code: 413, ErrorCode: "RequestBodyTooLarge", Want: "<MaxLimit>4194304</MaxLimit>"},

		{Description: "blocks, then a block list", Method: "PUT", URL: func(t *testing.T, s *Store) string {
			for id, data := range map[string]string{"QQ==": "one ", "Qg==": "two"} {
				stageBlockHTTP(t, s, "big.tar.gz", id, data)
			}
			return link(t, s, "big.tar.gz", "cw") + "&comp=blocklist"
		}, Header: map[string]string{"x-ms-blob-content-type": "application/gzip"},
			Body: `<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>QQ==</Latest><Uncommitted>Qg==</Uncommitted></BlockList>`, Code: 201,
			Then: func(t *testing.T, s *Store) { wantData(t, s, "big.tar.gz", "one two") }},
		{Description: "a block list naming a block never staged", Method: "PUT", URL: func(t *testing.T, s *Store) string {
			return link(t, s, "big.tar.gz", "cw") + "&comp=blocklist"
		}, Body: `<BlockList><Latest>QQ==</Latest></BlockList>`, Code: 400, ErrorCode: "InvalidBlockList",
			Then: func(t *testing.T, s *Store) { wantAbsent(t, s, "big.tar.gz") }},
		{Description: "a block list that is not XML", Method: "PUT", URL: func(t *testing.T, s *Store) string {
			return link(t, s, "big.tar.gz", "cw") + "&comp=blocklist"
		}, Body: `QQ==`, Code: 400, ErrorCode: "InvalidXmlDocument"},
		{Description: "a bad block id", Method: "PUT", URL: func(t *testing.T, s *Store) string {
			return link(t, s, "big.tar.gz", "cw") + "&comp=block&blockid=not-base64"
		}, Body: "x", Code: 400, ErrorCode: "InvalidQueryParameterValue"},

		{Description: "set metadata", Method: "PUT", URL: func(t *testing.T, s *Store) string { return link(t, s, "hello.txt", "w") + "&comp=metadata" },
			Header: map[string]string{"x-ms-meta-Complete": "failed"}, Code: 200,
			Then: func(t *testing.T, s *Store) {
				if b, _ := s.Get(Ref{"acct", "cnt1", "hello.txt"}); b.Metadata["Complete"] != "failed" || string(b.Data) != "hello world" {
					t.Fatalf("after Set Blob Metadata: %+v", b)
				}
			}},
		{Description: "read metadata", Method: "GET", URL: func(t *testing.T, s *Store) string { return link(t, s, "logs/ca1/rawtext.log", "r") + "&comp=metadata" },
			Code: 200, Want: "", WantHeader: map[string]string{"x-ms-meta-Complete": "successful"}},
		{Description: "delete", Method: "DELETE", URL: func(t *testing.T, s *Store) string { return link(t, s, "hello.txt", "d") }, Code: 202,
			Then: func(t *testing.T, s *Store) { wantAbsent(t, s, "hello.txt") }},
		{Description: "delete needs d", Method: "DELETE", URL: func(t *testing.T, s *Store) string { return link(t, s, "hello.txt", "rw") }, Code: 403,
			ErrorCode: "AuthorizationPermissionMismatch"},
	} {
		t.Run(tc.Description, func(t *testing.T) {
			s := fixture(t, tc.Opts...)
			u := link(t, s, "hello.txt", "r")
			if tc.URL != nil {
				u = tc.URL(t, s)
			}
			r := httptest.NewRequest(tc.Method, u, strings.NewReader(tc.Body))
			for k, v := range tc.Header {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			s.ServeHTTP(w, r)
			body := w.Body.String()
			if w.Code != tc.Code {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.Code, body)
			}
			if w.Header().Get("x-ms-request-id") == "" {
				t.Error("no x-ms-request-id")
			}
			if got := w.Header().Get("x-ms-error-code"); got != tc.ErrorCode {
				t.Errorf("x-ms-error-code %q, want %q", got, tc.ErrorCode)
			}
			switch {
			case tc.ErrorCode != "" && tc.Method != "HEAD":
				prefix := "\ufeff<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>" + tc.ErrorCode + "</Code><Message>"
				if !strings.HasPrefix(body, prefix) || !strings.Contains(body, tc.Want) || w.Header().Get("Content-Type") != "application/xml" {
					t.Errorf("error body %q, want it to start %q and hold %q", body, prefix, tc.Want)
				}
			case tc.ErrorCode != "" || tc.Want != "" || tc.Method == "HEAD":
				if body != tc.Want {
					t.Errorf("body %q, want %q", body, tc.Want)
				}
			}
			for k, v := range tc.WantHeader {
				if got := headerExact(w.Header(), k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if tc.Then != nil {
				tc.Then(t, s)
			}
		})
	}
}

// headerExact reads a header by its exact name first (metadata keeps the case it was set
// with), then canonically.
func headerExact(h http.Header, k string) string {
	if v, ok := h[k]; ok {
		return strings.Join(v, ",")
	}
	return h.Get(k)
}

func stageBlockHTTP(t *testing.T, s *Store, blob, id, data string) {
	t.Helper()
	r := httptest.NewRequest("PUT", link(t, s, blob, "cw")+"&comp=block&blockid="+id, strings.NewReader(data))
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code != 201 {
		t.Fatalf("Put Block: %d %s", w.Code, w.Body)
	}
}

func wantData(t *testing.T, s *Store, blob, want string) {
	t.Helper()
	b, err := s.Get(Ref{"acct", "cnt1", blob})
	if err != nil || string(b.Data) != want {
		t.Fatalf("%s: %v %v, want %q", blob, b, err, want)
	}
}

func wantAbsent(t *testing.T, s *Store, blob string) {
	t.Helper()
	if _, err := s.Get(Ref{"acct", "cnt1", blob}); !IsNotFound(err) {
		t.Fatalf("%s is there: %v", blob, err)
	}
}
