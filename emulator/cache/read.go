package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
)

// errNotFound: the upstream does not have the manifest; the client gets the registry's own
// not-found answer.
var errNotFound = errors.New("cache: not in the upstream")

// read reads ref of source (host/path) and everything it refers to into memory.
func (c *Cache) read(ctx context.Context, rule *store.CacheRule, source, ref string, auth authn.Authenticator) (*registry.Artifact, error) {
	sep := ":"
	if strings.Contains(ref, ":") {
		sep = "@"
	}
	r, err := name.ParseReference(source + sep + ref)
	if err != nil {
		return nil, errUpstream("manifest", source, rule.Name, "failed: "+err.Error())
	}
	b := &budget{left: c.cfg.MaxBytes, max: c.cfg.MaxBytes}
	tr := c.cfg.Transport(r.Context().RegistryStr())
	if tr == nil {
		tr = c.direct
	}
	opts := []remote.Option{remote.WithContext(ctx), remote.WithAuth(auth), remote.WithTransport(&limited{tr, b})}
	// One puller for the fill: one ping and token for all its requests.
	p, err := remote.NewPuller(opts...)
	if err != nil {
		return nil, errUpstream("manifest", source, rule.Name, "failed: "+err.Error())
	}
	rd := &reader{ctx: ctx, repo: r.Context(), rule: rule.Name, source: source, budget: b,
		opts: append(opts, remote.Reuse(p)), a: &registry.Artifact{Blobs: map[digest.Digest][]byte{}}}
	if err := rd.manifest(r, 0); err != nil {
		if errors.Is(err, errNotFound) {
			return nil, nil
		}
		return nil, err
	}
	return rd.a, nil
}

type reader struct {
	ctx    context.Context
	repo   name.Repository
	rule   string
	source string
	budget *budget
	opts   []remote.Option
	a      *registry.Artifact
}

// descriptors of a manifest that the reader follows.
type manifestRefs struct {
	Config    *refDescriptor  `json:"config"`
	Layers    []refDescriptor `json:"layers"`
	Manifests []refDescriptor `json:"manifests"`
	FSLayers  []struct {
		BlobSum string `json:"blobSum"`
	} `json:"fsLayers"` // schema 1
}

type refDescriptor struct {
	MediaType string        `json:"mediaType"`
	Digest    digest.Digest `json:"digest"`
	URLs      []string      `json:"urls"`
}

// foreign layers (urls, non-distributable media types) stay where they are, as registries
// leave them.
func (d refDescriptor) foreign() bool {
	return len(d.URLs) > 0 || strings.Contains(d.MediaType, "foreign") || strings.Contains(d.MediaType, "nondistributable")
}

// manifest reads the manifest r names and what it refers to; depth counts index levels.
func (rd *reader) manifest(r name.Reference, depth int) error {
	desc, err := remote.Get(r, rd.opts...)
	if err != nil {
		return rd.failure("manifest", err, true)
	}
	var refs manifestRefs
	if err := json.Unmarshal(desc.Manifest, &refs); err != nil {
		return errUpstream("manifest", rd.source, rd.rule, "returned a manifest that is not JSON")
	}
	if len(refs.Manifests) > 0 {
		if depth > 0 || len(refs.Manifests) > maxChildren {
			return errUpstream("manifest", rd.source, rd.rule, "returned an index too large or too deep to cache")
		}
		for _, child := range refs.Manifests {
			if child.foreign() || rd.has(child.Digest) {
				continue
			}
			if err := rd.manifest(rd.repo.Digest(child.Digest.String()), depth+1); err != nil {
				if errors.Is(err, errNotFound) {
					return errUpstream("manifest", rd.source, rd.rule, "does not have the index's manifest "+child.Digest.String())
				}
				return err
			}
		}
	}
	blobs := refs.Layers
	if refs.Config != nil {
		blobs = append([]refDescriptor{*refs.Config}, blobs...)
	}
	for _, l := range refs.FSLayers {
		blobs = append(blobs, refDescriptor{Digest: digest.Digest(l.BlobSum)})
	}
	for _, bd := range blobs {
		if _, ok := rd.a.Blobs[bd.Digest]; ok || bd.foreign() {
			continue
		}
		if err := rd.blob(bd.Digest); err != nil {
			return err
		}
	}
	rd.a.Manifests = append(rd.a.Manifests, registry.UpstreamManifest{
		Digest: digest.Digest(desc.Digest.String()), MediaType: string(desc.MediaType), Body: desc.Manifest})
	return nil
}

func (rd *reader) has(d digest.Digest) bool {
	for _, m := range rd.a.Manifests {
		if m.Digest == d {
			return true
		}
	}
	return false
}

// blob reads one blob and checks its digest.
func (rd *reader) blob(d digest.Digest) error {
	if err := d.Validate(); err != nil {
		return errUpstream("blob", rd.source, rd.rule, "returned a manifest naming an invalid digest")
	}
	l, err := remote.Layer(rd.repo.Digest(d.String()), rd.opts...)
	if err != nil {
		return rd.failure("blob", err, false)
	}
	rc, err := l.Compressed()
	if err != nil {
		return rd.failure("blob", err, false)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return rd.failure("blob", err, false)
	}
	if d.Algorithm().FromBytes(data) != d {
		return errUpstream("blob", rd.source, rd.rule, "returned blob content that does not match its digest "+d.String())
	}
	rd.a.Blobs[d] = data
	return nil
}

// failure maps an upstream error to the client's answer.
func (rd *reader) failure(what string, err error, notFoundIsMiss bool) error {
	if rd.budget.exceeded.Load() {
		return errUpstream(what, rd.source, rd.rule, fmt.Sprintf("returned more than the cache reads in one pull (%d bytes)", rd.budget.limit()))
	}
	if rd.ctx.Err() != nil {
		return errUpstream(what, rd.source, rd.rule, "timed out")
	}
	var te *transport.Error
	if errors.As(err, &te) {
		switch {
		case te.StatusCode == http.StatusNotFound && notFoundIsMiss:
			return errNotFound
		case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden:
			return errAuthRequired(rd.rule)
		case te.StatusCode == http.StatusTooManyRequests:
			return errTooManyRequests(rd.rule)
		}
		return errUpstream(what, rd.source, rd.rule, "returned status code "+strconv.Itoa(te.StatusCode))
	}
	return errUpstream(what, rd.source, rd.rule, "failed: "+err.Error())
}

// budget is what one fill may still read from the upstream, over all its responses.
type budget struct {
	left     int64
	max      int64
	exceeded atomic.Bool
}

func (b *budget) limit() int64 { return b.max }

// take accounts n bytes read, and reports false once the budget is spent.
func (b *budget) take(n int) bool {
	if atomic.AddInt64(&b.left, -int64(n)) < 0 {
		b.exceeded.Store(true)
		return false
	}
	return true
}

// limited counts every response body against a budget.
type limited struct {
	next http.RoundTripper
	b    *budget
}

func (t *limited) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	res.Body = &countingBody{ReadCloser: res.Body, b: t.b}
	return res, nil
}

var errBudget = errors.New("cache: the upstream sent more than the fill's limit")

type countingBody struct {
	io.ReadCloser
	b *budget
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if n > 0 && !c.b.take(n) {
		return n, errBudget
	}
	return n, err
}
