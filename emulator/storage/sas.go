package storage

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// SignedVersion is the service version of the links the emulator signs: the one ACR's own run
// log links carry (sv=2023-01-03).
const SignedVersion = "2023-01-03"

// Blob SAS permissions, in the order Azure requires them in sp
// (https://learn.microsoft.com/rest/api/storageservices/create-service-sas#permissions-for-a-directory-container-or-blob).
const (
	PermRead   = "r"
	PermAdd    = "a"
	PermCreate = "c"
	PermWrite  = "w"
	PermDelete = "d"

	permissionOrder = "racwdxyltmeopi"
)

// SAS is a service shared access signature as its query parameters carry it. Times stay as
// sent: the string to sign uses them verbatim.
type SAS struct {
	Version     string // sv
	Resource    string // sr: b (a blob) or c (a container)
	Permissions string // sp
	Start       string // st (optional: the request time)
	Expiry      string // se
	IP          string // sip: signed, not enforced
	Protocol    string // spr: "https" or "https,http"
	Identifier  string // si: stored access policies are not emulated, so none is found
	Snapshot    string // snapshot (sr=bs)
	Scope       string // ses (encryption scope)
	Signature   string // sig
	// Response header overrides (rscc, rscd, rsce, rscl, rsct): signed, not applied.
	CacheControl, ContentDisposition, ContentEncoding, ContentLanguage, ContentType string
}

// parseSAS reads a SAS from a request's query; ok is false when there is no signature (an
// anonymous request).
func parseSAS(q url.Values) (p SAS, ok bool) {
	if !q.Has("sig") {
		return SAS{}, false
	}
	return SAS{Version: q.Get("sv"), Resource: q.Get("sr"), Permissions: q.Get("sp"), Start: q.Get("st"), Expiry: q.Get("se"),
		IP: q.Get("sip"), Protocol: q.Get("spr"), Identifier: q.Get("si"), Snapshot: q.Get("snapshot"), Scope: q.Get("ses"),
		CacheControl: q.Get("rscc"), ContentDisposition: q.Get("rscd"), ContentEncoding: q.Get("rsce"), ContentLanguage: q.Get("rscl"),
		ContentType: q.Get("rsct"), Signature: q.Get("sig")}, true
}

// Encode writes the SAS as a query string, in the order ACR's links use (sv, se, sr, sp, sig).
func (p SAS) Encode() string {
	var b strings.Builder
	add := func(k, v string) {
		if v == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + url.QueryEscape(v))
	}
	add("sv", p.Version)
	add("st", p.Start)
	add("se", p.Expiry)
	add("sr", p.Resource)
	add("sp", p.Permissions)
	add("sip", p.IP)
	add("spr", p.Protocol)
	add("sig", p.Signature)
	return b.String()
}

// canonicalResource is the resource a SAS grants: a blob, or a whole container for sr=c.
func canonicalResource(ref Ref, resource string) string {
	if resource == "c" {
		return "/blob/" + ref.Account + "/" + ref.Container
	}
	return "/blob/" + ref.Account + "/" + ref.Container + "/" + ref.Blob
}

// StringToSign is what the signature covers, field by field as the service version defines it
// (https://learn.microsoft.com/rest/api/storageservices/create-service-sas#version-2020-12-06-and-later).
// Versions before 2015-04-05 are not emulated ("" means: cannot be verified).
func (p SAS) StringToSign(ref Ref) string {
	fields := []string{p.Permissions, p.Start, p.Expiry, canonicalResource(ref, p.Resource), p.Identifier, p.IP, p.Protocol, p.Version}
	switch {
	case p.Version >= "2020-12-06":
		fields = append(fields, p.Resource, p.Snapshot, p.Scope)
	case p.Version >= "2018-11-09":
		fields = append(fields, p.Resource, p.Snapshot)
	case p.Version >= "2015-04-05":
	default:
		return ""
	}
	fields = append(fields, p.CacheControl, p.ContentDisposition, p.ContentEncoding, p.ContentLanguage, p.ContentType)
	return strings.Join(fields, "\n")
}

// sign is the SAS signature: base64 of HMAC-SHA256 of the string to sign with the account key.
func sign(key []byte, stringToSign string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// newSAS signs a blob SAS valid from now for ttl with the given permissions.
func newSAS(key []byte, ref Ref, permissions string, now time.Time, ttl time.Duration) SAS {
	p := SAS{Version: SignedVersion, Resource: "b", Permissions: permissions, Expiry: now.Add(ttl).UTC().Format("2006-01-02T15:04:05Z")}
	p.Signature = sign(key, p.StringToSign(ref))
	return p
}

// authenticate checks a SAS as Azure Storage does, in its order: mandatory fields and their
// form, the time frame, the signature, then the protocol. What the permissions allow is
// decided per operation (permits). The texts are the service's AuthenticationErrorDetail.
func (p SAS) authenticate(key []byte, ref Ref, now time.Time, https bool) *Error {
	for _, f := range []struct{ name, value string }{{"sv", p.Version}, {"sr", p.Resource}, {"sp", p.Permissions}, {"se", p.Expiry}} {
		if strings.TrimSpace(f.value) == "" {
			return errAuthenticationFailed(f.name + " is mandatory. Cannot be empty")
		}
	}
	if p.Identifier != "" {
		return errAuthenticationFailed("SAS identifier cannot be found for specified signed identifier")
	}
	notWellFormed := errAuthenticationFailed("Signature fields not well formed.")
	if p.Resource != "b" && p.Resource != "c" && p.Resource != "bs" && p.Resource != "bv" {
		return notWellFormed
	}
	for _, c := range p.Permissions {
		if !strings.ContainsRune(permissionOrder, c) {
			return notWellFormed
		}
	}
	if p.Protocol != "" && p.Protocol != "https" && p.Protocol != "https,http" {
		return notWellFormed
	}
	expiry, ok := parseSASTime(p.Expiry)
	if !ok {
		return notWellFormed
	}
	start := now
	if p.Start != "" {
		if start, ok = parseSASTime(p.Start); !ok {
			return notWellFormed
		}
	}
	if !start.Before(expiry) {
		return errAuthenticationFailed("Signed expiry time [" + expiry.UTC().Format(http.TimeFormat) + "] must be after signed start time [" + start.UTC().Format(http.TimeFormat) + "]")
	}
	if now.Before(start) || !now.Before(expiry) {
		return errAuthenticationFailed("Signature not valid in the specified time frame: Start [" + start.UTC().Format(http.TimeFormat) + "] - Expiry [" +
			expiry.UTC().Format(http.TimeFormat) + "] - Current [" + now.UTC().Format(http.TimeFormat) + "]")
	}
	sig, err := base64.StdEncoding.DecodeString(p.Signature)
	if err != nil {
		return notWellFormed
	}
	if len(sig) != sha256.Size {
		return errAuthenticationFailed("Signature size is invalid")
	}
	sts := p.StringToSign(ref)
	if sts == "" {
		return notWellFormed
	}
	want, _ := base64.StdEncoding.DecodeString(sign(key, sts))
	if !hmac.Equal(sig, want) {
		return errAuthenticationFailed("Signature did not match. String to sign used was " + sts)
	}
	if p.Protocol == "https" && !https {
		return errProtocolMismatch()
	}
	return nil
}

// parseSASTime reads st and se: ISO 8601 in UTC, to the day, minute, second or a fraction.
func parseSASTime(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// operation is what a request does to a blob, for the permission check.
type operation int

const (
	opRead     operation = iota // Get Blob, Get Blob Properties, Get Blob Metadata
	opWrite                     // Put Blob, Put Block, Put Block List
	opAppend                    // Append Block
	opMetadata                  // Set Blob Metadata
	opDelete                    // Delete Blob
)

// permits says whether a SAS's permissions allow an operation, which for writes depends on
// whether the blob exists: create (c) writes only new blobs, write (w) any, add (a) appends.
func permits(permissions string, op operation, exists bool) bool {
	has := func(p string) bool { return strings.Contains(permissions, p) }
	switch op {
	case opRead:
		return has(PermRead)
	case opWrite:
		return has(PermWrite) || !exists && has(PermCreate)
	case opAppend:
		return has(PermAdd) || has(PermWrite)
	case opMetadata:
		return has(PermWrite)
	case opDelete:
		return has(PermDelete)
	}
	return false
}
