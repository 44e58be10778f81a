package registry

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/opencontainers/go-digest"
)

// ACR's metadata API (/acr/v1), as the Azure SDK for Go (azcontainerregistry v0.2.3, Client)
// and az acr use it. Spec: shared/spec/acr-dataplane-auth.md section 4.1 (routes, JSON shapes),
// section 4 (paging through the Link header) and section 7 (error texts).
//
// Metadata reads ignore readEnabled (that lock is about pulling content; the attributes must stay
// readable so they can be unlocked); listEnabled=false hides items from the lists.
// Every /acr/v1 request carries ?api-version=2021-07-01, which is ignored, as the next-page
// URLs of the Link header do not carry it.

type acrKind int

const (
	acrCatalog           acrKind = iota + 1 // /acr/v1/_catalog
	acrRepository                           // /acr/v1/{name}
	acrTags                                 // /acr/v1/{name}/_tags
	acrTag                                  // /acr/v1/{name}/_tags/{tag}
	acrManifests                            // /acr/v1/{name}/_manifests
	acrManifest                             // /acr/v1/{name}/_manifests/{digest}
	acrStreaming                            // /acr/v1/{name}/_streaming (streaming.go)
	acrStreamingArtifact                    // /acr/v1/{name}/_streaming/{digest}
	acrOperation                            // /acr/v1/{name}/_operations/{id}
	acrOperationCancel                      // /acr/v1/{name}/_operations/{id}:cancel
)

type acrRoute struct {
	kind acrKind
	name string // repository, decoded
	ref  string // tag or digest, decoded
}

// parseACR splits an escaped /acr/v1/... path. The name ends at the first "_tags",
// "_manifests", "_streaming" or "_operations" segment: a repository name component must start
// with [a-z0-9], so such a segment can never belong to the name, while a tag may well be called
// "_tags". ok=false means no route.
func parseACR(escaped string) (acrRoute, bool) {
	rest, ok := strings.CutPrefix(escaped, "/acr/v1/")
	if !ok || rest == "" {
		return acrRoute{}, false
	}
	if rest == "_catalog" {
		return acrRoute{kind: acrCatalog}, true
	}
	segs := strings.Split(rest, "/")
	split := -1
	for i, s := range segs {
		if acrLists[s] != [2]acrKind{} {
			split = i
			break
		}
	}
	rt := acrRoute{kind: acrRepository}
	nameSegs := segs
	if split >= 0 {
		if split == 0 {
			return acrRoute{}, false
		}
		nameSegs = segs[:split]
		tail := segs[split+1:]
		list, item := acrLists[segs[split]][0], acrLists[segs[split]][1]
		switch {
		case len(tail) == 0 && list != 0:
			rt.kind = list
		case len(tail) == 1 && tail[0] != "":
			rt.kind = item
			ref, err := url.PathUnescape(tail[0])
			if err != nil {
				ref = "\x00" // undecodable: matches no tag or digest
			}
			if id, ok := strings.CutSuffix(ref, ":cancel"); ok && item == acrOperation {
				rt.kind, ref = acrOperationCancel, id
			}
			rt.ref = ref
		default:
			return acrRoute{}, false
		}
	}
	name, err := url.PathUnescape(strings.Join(nameSegs, "/"))
	if err != nil {
		name = "\x00" // undecodable: fails validation
	}
	rt.name = name
	return rt, true
}

// acrLists are the segments that end a repository name: the list and item routes under them
// (_operations has no list).
var acrLists = map[string][2]acrKind{
	"_tags": {acrTags, acrTag}, "_manifests": {acrManifests, acrManifest},
	"_streaming": {acrStreaming, acrStreamingArtifact}, "_operations": {0, acrOperation},
}

type acrHandler func(http.ResponseWriter, *http.Request, acrRoute) error

// acrHandlerFor returns the handler for a route and method; nil when the method is not served.
func (g *Registry) acrHandlerFor(kind acrKind, method string) acrHandler {
	type key struct {
		kind   acrKind
		method string
	}
	switch (key{kind, method}) {
	case key{acrCatalog, http.MethodGet}:
		return g.acrCatalog
	case key{acrRepository, http.MethodGet}:
		return g.acrGetRepository
	case key{acrRepository, http.MethodPatch}:
		return g.acrPatchRepository
	case key{acrRepository, http.MethodDelete}:
		return g.acrDeleteRepository
	case key{acrTags, http.MethodGet}:
		return g.acrListTags
	case key{acrTag, http.MethodGet}:
		return g.acrGetTag
	case key{acrTag, http.MethodPatch}:
		return g.acrPatchTag
	case key{acrTag, http.MethodDelete}:
		return g.acrDeleteTag
	case key{acrManifests, http.MethodGet}:
		return g.acrListManifests
	case key{acrManifest, http.MethodGet}:
		return g.acrGetManifest
	case key{acrManifest, http.MethodPatch}:
		return g.acrPatchManifest
	case key{acrManifest, http.MethodDelete}:
		return g.acrDeleteManifest
	case key{acrStreaming, http.MethodGet}:
		return g.getStreamingConfig
	case key{acrStreaming, http.MethodPost}:
		return g.setStreamingConfig
	case key{acrStreamingArtifact, http.MethodGet}:
		return g.getConversion
	case key{acrStreamingArtifact, http.MethodPost}:
		return g.startConversion
	case key{acrOperation, http.MethodGet}:
		return g.getOperation
	case key{acrOperationCancel, http.MethodPost}:
		return g.cancelOperation
	}
	return nil
}

// serveACR serves ACR's metadata API under /acr/v1/.
func (g *Registry) serveACR(w http.ResponseWriter, r *http.Request, escaped string) error {
	rt, ok := parseACR(escaped)
	if !ok {
		http.NotFound(w, r)
		return nil
	}
	if rt.kind != acrCatalog && !validName(rt.name) {
		return errNameInvalid.WithDetail(map[string]string{"Name": rt.name})
	}
	if rt.kind == acrManifest || rt.kind == acrStreamingArtifact {
		// ACR routes _manifests/{digest} on the digest grammar: anything else is a route
		// mismatch, answered by the plain-text 404 (spec section 7).
		if _, err := digest.Parse(rt.ref); err != nil {
			http.NotFound(w, r)
			return nil
		}
	}
	h := g.acrHandlerFor(rt.kind, r.Method)
	if h == nil {
		return errUnsupported
	}
	return h(w, r, rt)
}

// Errors of the metadata API.
var (
	errTagUnknown = httpx.NewRegistryError(http.StatusNotFound, "TAG_UNKNOWN", "the specified tag does not exist")
	// errInvalidRequest answers a PATCH body that is not a changeableAttributes object.
	// UNCONFIRMED: the status and code ACR uses for a malformed metadata body were not recorded.
	errInvalidRequest = httpx.NewRegistryError(http.StatusBadRequest, "INVALID_REQUEST", "invalid request body")
)

// maxACRPatchBytes bounds PATCH bodies, which hold at most four booleans.
const maxACRPatchBytes = 64 << 10

// acrTimeLayout is ACR's time format: RFC 3339 in UTC with 7 fractional digits.
const acrTimeLayout = "2006-01-02T15:04:05.0000000Z"

func acrTime(t time.Time) string { return t.UTC().Format(acrTimeLayout) }

// loginServer is the "registry" field of every metadata response: the registry's login server,
// or the host the client used when the registry has no record (bare handlers in tests).
func (g *Registry) loginServer(r *http.Request) (string, error) {
	reg, err := g.st.GetRegistry(g.name)
	if err != nil {
		return "", err
	}
	if reg != nil && reg.LoginServer != "" {
		return reg.LoginServer, nil
	}
	return r.Host, nil
}

// acrRepo loads a repository for the metadata API: absent is NAME_UNKNOWN; locks are not applied.
func (g *Registry) acrRepo(name string) (*store.Repository, error) {
	repo, err := g.st.GetRepository(g.name, name)
	if err != nil {
		return nil, err
	}
	if repo == nil {
		return nil, errNameUnknown(name)
	}
	return repo, nil
}

// decodeAttributesPatch reads a PATCH body: the four *Enabled booleans, omitted ones unchanged.
// An empty body changes nothing.
func decodeAttributesPatch(r *http.Request) (store.AttributesPatch, error) {
	var p store.AttributesPatch
	body, err := io.ReadAll(io.LimitReader(r.Body, maxACRPatchBytes+1))
	if err != nil {
		return p, errInvalidRequest.WithMessage("failed to read the request body: " + err.Error())
	}
	if len(body) > maxACRPatchBytes {
		return p, errSizeInvalid.WithMessage("request body exceeds the size limit of " + strconv.Itoa(maxACRPatchBytes) + " bytes")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return p, nil
	}
	if err := json.Unmarshal(body, &p); err != nil {
		return p, errInvalidRequest.WithMessage("invalid request body: expected a JSON object of changeableAttributes " +
			"(deleteEnabled, writeEnabled, readEnabled, listEnabled as booleans): " + err.Error())
	}
	return p, nil
}

// Ordering of the metadata lists (?orderby=); the SDK's "none" is never sent.
const (
	orderTimeDesc = "timedesc"
	orderTimeAsc  = "timeasc"
)

// defaultACRPageSize is the page size when ?n is absent. UNCONFIRMED: third-party fixtures show
// ACR answering an n-less /_tags request with a Link carrying n=100.
const defaultACRPageSize = 100

// listQuery is the paging part of a metadata list request.
type listQuery struct {
	n       int
	last    string
	orderby string // "", timedesc or timeasc; other values are ignored
}

func parseListQuery(r *http.Request) (listQuery, error) {
	q := r.URL.Query()
	lq := listQuery{n: defaultACRPageSize, last: q.Get("last")}
	if s := q.Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			return lq, errPaginationInvalid.WithDetail(map[string]string{"n": s})
		}
		lq.n = v
	}
	switch o := q.Get("orderby"); o {
	case orderTimeDesc, orderTimeAsc:
		lq.orderby = o
	}
	return lq, nil
}

// sortItems orders items by the query's orderby: by key (lexical) by default, else by time
// with the key breaking ties.
func sortItems[T any](items []T, q listQuery, key func(T) string, at func(T) time.Time) {
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if q.orderby != "" {
			ta, tb := at(a), at(b)
			if !ta.Equal(tb) {
				if q.orderby == orderTimeDesc {
					return ta.After(tb)
				}
				return ta.Before(tb)
			}
		}
		return key(a) < key(b)
	})
}

// acrPage cuts one page out of sorted items: those after the item keyed last, at most q.n of
// them. When more remain it sets the Link header in ACR's form
// (`</acr/v1/_catalog?last=x&n=1&orderby=>; rel="next"`), extra being further parameters the
// next page needs. With a time order, a last that is no longer listed ends the listing.
func acrPage[T any](w http.ResponseWriter, path string, extra url.Values, items []T, q listQuery, key func(T) string) []T {
	if q.last != "" {
		start := len(items)
		if q.orderby == "" {
			start = sort.Search(len(items), func(i int) bool { return key(items[i]) > q.last })
		} else {
			for i, it := range items {
				if key(it) == q.last {
					start = i + 1
					break
				}
			}
		}
		items = items[start:]
	}
	if len(items) > q.n {
		items = items[:q.n]
		if q.n > 0 {
			v := url.Values{"last": {key(items[q.n-1])}, "n": {strconv.Itoa(q.n)}}
			link := path + "?" + v.Encode() + "&orderby=" + url.QueryEscape(q.orderby)
			if len(extra) > 0 {
				link += "&" + extra.Encode()
			}
			w.Header().Set("Link", "<"+link+">; rel=\"next\"")
		}
	}
	return items
}
