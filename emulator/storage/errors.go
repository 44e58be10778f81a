package storage

import (
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is an Azure Storage error as the service answers it: the status, the x-ms-error-code
// header and the XML envelope's Code and Message, with the extra elements some codes carry
// (AuthenticationErrorDetail, HeaderName, MaxLimit...). The Go API returns the same values, so
// in-process callers and HTTP clients see one set of codes.
type Error struct {
	Status  int
	Code    string
	Message string
	Extra   []Element   // after Message, in order
	Header  http.Header // extra response headers (InvalidRange's Content-Range)
}

// Element is one extra element of an error envelope.
type Element struct{ Name, Value string }

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	for _, x := range e.Extra {
		s += " " + x.Name + ": " + x.Value
	}
	return s
}

// The texts are Azure Storage's, as its responses and the Azure SDK test recordings show them
// (https://learn.microsoft.com/rest/api/storageservices/blob-service-error-codes).
func newError(status int, code, msg string, extra ...Element) *Error {
	return &Error{Status: status, Code: code, Message: msg, Extra: extra}
}

func errBlobNotFound() *Error {
	return newError(http.StatusNotFound, "BlobNotFound", "The specified blob does not exist.")
}

func errContainerNotFound() *Error {
	return newError(http.StatusNotFound, "ContainerNotFound", "The specified container does not exist.")
}

// errResourceNotFound is what an anonymous request to a private container gets: Azure does not
// say whether the blob is there.
func errResourceNotFound() *Error {
	return newError(http.StatusNotFound, "ResourceNotFound", "The specified resource does not exist.")
}

// errAuthenticationFailed answers a SAS that is malformed, tampered with or out of its time
// frame; detail says which, in Azure's words.
func errAuthenticationFailed(detail string) *Error {
	return newError(http.StatusForbidden, "AuthenticationFailed",
		"Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.",
		Element{"AuthenticationErrorDetail", detail})
}

func errPermissionMismatch() *Error {
	return newError(http.StatusForbidden, "AuthorizationPermissionMismatch",
		"This request is not authorized to perform this operation using this permission.")
}

func errProtocolMismatch() *Error {
	return newError(http.StatusForbidden, "AuthorizationProtocolMismatch",
		"This request is not authorized to perform this operation using this protocol.")
}

// errInvalidAuthenticationInfo answers a request that carries an Authorization header the
// storage cannot use, such as a registry's Bearer token a client forwarded along a redirect to
// a SAS link (https://github.com/Azure/acr/issues/217; ACR's FAQ "Authentication information is
// not given in the correct format").
func errInvalidAuthenticationInfo() *Error {
	return newError(http.StatusBadRequest, "InvalidAuthenticationInfo",
		"Authentication information is not given in the correct format. Check the value of Authorization header.")
}

func errInvalidRange(size int64) *Error {
	e := newError(http.StatusRequestedRangeNotSatisfiable, "InvalidRange", "The range specified is invalid for the current size of the resource.")
	e.Header = http.Header{"Content-Range": {"bytes */" + strconv.FormatInt(size, 10)}}
	return e
}

func errMissingHeader(name string) *Error {
	return newError(http.StatusBadRequest, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified.",
		Element{"HeaderName", name})
}

func errInvalidHeader(name, value string) *Error {
	return newError(http.StatusBadRequest, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.",
		Element{"HeaderName", name}, Element{"HeaderValue", value})
}

func errInvalidQuery(name, value, reason string) *Error {
	return newError(http.StatusBadRequest, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid.",
		Element{"QueryParameterName", name}, Element{"QueryParameterValue", value}, Element{"Reason", reason})
}

func errInvalidURI() *Error {
	return newError(http.StatusBadRequest, "InvalidUri", "The requested URI does not represent any resource on the server.")
}

func errUnsupportedVerb() *Error {
	return newError(http.StatusMethodNotAllowed, "UnsupportedHttpVerb", "The resource doesn't support specified Http Verb.")
}

func errInvalidBlobType() *Error {
	return newError(http.StatusConflict, "InvalidBlobType", "The blob type is invalid for this operation.")
}

func errBodyTooLarge(limit int64) *Error {
	return newError(http.StatusRequestEntityTooLarge, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible limit.",
		Element{"MaxLimit", strconv.FormatInt(limit, 10)})
}

func errMissingContentLength() *Error {
	return newError(http.StatusLengthRequired, "MissingContentLengthHeader", "Content-Length HTTP header is missing.")
}

// errInvalidInput answers a body that ended before its Content-Length.
func errInvalidInput() *Error {
	return newError(http.StatusBadRequest, "InvalidInput", "One of the request inputs is not valid.")
}

func errMD5Mismatch(sent, computed string) *Error {
	return newError(http.StatusBadRequest, "Md5Mismatch", "The MD5 value specified in the request did not match with the MD5 value calculated by the server.",
		Element{"UserSpecifiedMd5", sent}, Element{"ServerCalculatedMd5", computed})
}

func errBlobExists() *Error {
	return newError(http.StatusConflict, "BlobAlreadyExists", "The specified blob already exists.")
}

func errConditionNotMet() *Error {
	return newError(http.StatusPreconditionFailed, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.")
}

func errAppendPositionNotMet() *Error {
	return newError(http.StatusPreconditionFailed, "AppendPositionConditionNotMet", "The append position condition specified was not met.")
}

func errInvalidBlockList() *Error {
	return newError(http.StatusBadRequest, "InvalidBlockList", "The specified block list is invalid.")
}

func errInvalidXML() *Error {
	return newError(http.StatusBadRequest, "InvalidXmlDocument", "XML specified is not syntactically valid.")
}

func errBlockCountExceeded() *Error {
	return newError(http.StatusConflict, "BlockCountExceedsLimit", "The uncommitted block count cannot exceed the maximum limit of 100,000 blocks.")
}

func errRequiresHTTPS(account string) *Error {
	return newError(http.StatusBadRequest, "AccountRequiresHttps", "The account being accessed does not support http.",
		Element{"AccountName", account})
}

// errOverCapacity bounds the bytes the emulator holds for all accounts: Azure's answer to an
// account over its ingress limit.
func errOverCapacity() *Error {
	return newError(http.StatusServiceUnavailable, "ServerBusy", "Ingress is over the account limit.")
}

// writeError is the one writer of the error envelope. Azure's body starts with a UTF-8 byte
// order mark (the recordings' Content-Length counts it) and its Message ends with the request
// id and time.
func writeError(w http.ResponseWriter, r *http.Request, err *Error) {
	h := w.Header()
	for k, v := range err.Header {
		h[k] = v
	}
	h.Set("x-ms-error-code", err.Code)
	if r.Method == http.MethodHead {
		w.WriteHeader(err.Status)
		return
	}
	var b strings.Builder
	b.WriteString("\ufeff<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>")
	b.WriteString(err.Code)
	b.WriteString("</Code><Message>")
	xmlText(&b, err.Message+"\nRequestId:"+h.Get("x-ms-request-id")+"\nTime:"+time.Now().UTC().Format("2006-01-02T15:04:05.0000000Z"))
	b.WriteString("</Message>")
	for _, x := range err.Extra {
		b.WriteString("<" + x.Name + ">")
		xmlText(&b, x.Value)
		b.WriteString("</" + x.Name + ">")
	}
	b.WriteString("</Error>")
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(err.Status)
	_, _ = w.Write([]byte(b.String()))
}

// xmlText escapes markup but keeps line breaks raw, as Azure writes them (encoding/xml would
// turn them into &#xA;). Characters XML cannot hold (a client's control bytes echoed back in
// QueryParameterValue) become U+FFFD.
var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func xmlText(b *strings.Builder, s string) {
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' || r >= 0x20 && r != 0xFFFE && r != 0xFFFF && r != utf8.RuneError {
			return r
		}
		return '\uFFFD'
	}, strings.ToValidUTF8(s, "\uFFFD"))
	_, _ = xmlEscaper.WriteString(b, s)
}
