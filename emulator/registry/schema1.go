package registry

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/internal/httpx"
	"github.com/acr-emulator/acr-emulator/emulator/registry/schema1"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/acr-emulator/acr-emulator/emulator/store/blobstore"
	"github.com/opencontainers/go-digest"
)

// errManifestUnverified is distribution's answer to a schema 1 manifest whose signature fails.
var errManifestUnverified = httpx.NewRegistryError(http.StatusBadRequest, "MANIFEST_UNVERIFIED", "manifest failed signature verification")

// schema1Rewrite serves a Docker schema 2 image manifest as signed schema 1 (negotiate.go): the
// history comes from the image config, the digest is that of the unsigned payload. When a
// history entry made no layer, the well-known empty layer is linked into the repository, so the
// client can pull every blobSum the manifest names (distribution writes it on the same path).
func (g *Registry) schema1Rewrite(ctx context.Context, rt route, m *store.Manifest) (digest.Digest, []byte, error) {
	stored, ok := g.st.ManifestBytes(m.Digest)
	if !ok {
		return "", nil, errManifestUnknownDigest(m.Digest)
	}
	p, err := parseManifest(stored, m.MediaType)
	if err != nil {
		return "", nil, err
	}
	config, err := g.repoBlob(rt.name, p.Config.Digest, g.maxManifest)
	if err != nil {
		return "", nil, err
	}
	img := schema1.Image{Name: rt.name, Tag: rt.ref, Config: config}
	for _, l := range p.Layers {
		img.Layers = append(img.Layers, l.Digest)
	}
	payload, usesEmpty, err := schema1.Convert(img)
	var ce *schema1.ConversionError
	if errors.As(err, &ce) {
		return "", nil, errManifestInvalid.WithDetail(ce.Reason)
	}
	if err != nil {
		return "", nil, err
	}
	if usesEmpty {
		g.linkEmptyLayer(ctx, rt.name)
	}
	key, err := g.schema1Key()
	if err != nil {
		return "", nil, err
	}
	body, err := key.Sign(payload, time.Now())
	if err != nil {
		return "", nil, err
	}
	return digest.FromBytes(payload), body, nil
}

// signStoredSchema1 signs the canonical payload of a pushed schema 1 manifest for serving.
func (g *Registry) signStoredSchema1(m *store.Manifest) ([]byte, error) {
	payload, ok := g.st.ManifestBytes(m.Digest)
	if !ok {
		return nil, errManifestUnknownDigest(m.Digest)
	}
	key, err := g.schema1Key()
	if err != nil {
		return nil, err
	}
	return key.Sign(payload, time.Now())
}

// repoBlob returns the bytes of a config the repository holds, at most limit of them (a
// schema 1 manifest carries the config whole, and no larger than a manifest may be); a missing
// one makes the manifest that needs it invalid, as distribution reports a missing config on
// rewrite.
func (g *Registry) repoBlob(repo string, d digest.Digest, limit int64) ([]byte, error) {
	link, err := g.st.GetBlobLink(g.name, repo, d)
	if err != nil {
		return nil, err
	}
	info, held := g.st.Blobs().Stat(d)
	if link == nil || !held {
		return nil, errManifestInvalid.WithDetail("blob unknown to registry: " + d.String())
	}
	if info.Size > min(limit, blobstore.MaxGet) {
		return nil, errManifestInvalid.WithDetail("the image config is too large to rewrite as schema 1")
	}
	data, held := g.st.Blobs().Get(d)
	if !held {
		return nil, errManifestInvalid.WithDetail("blob unknown to registry: " + d.String())
	}
	return data, nil
}

func (g *Registry) linkEmptyLayer(ctx context.Context, repo string) {
	if l, err := g.st.GetBlobLink(g.name, repo, schema1.EmptyLayerDigest); err == nil && l != nil {
		return
	}
	if err := g.st.PutBlob(g.name, repo, schema1.EmptyLayerDigest, schema1.EmptyLayer()); err != nil {
		// A write-locked repository cannot take the blob; the manifest is still served.
		httpx.LoggerOr(ctx, g.log).Debug("empty layer not linked", "repository", repo, "error", err)
	}
}

// schema1Signed reads a pushed schema 1 body into what the store keeps: its canonical payload
// and layers. The signatures must verify; they are not kept.
func schema1Signed(body []byte) (*parsedManifest, error) {
	s, err := schema1.Parse(body)
	var ie *schema1.InvalidError
	switch {
	case errors.Is(err, schema1.ErrUnverified):
		return nil, errManifestUnverified
	case errors.As(err, &ie):
		return nil, errManifestInvalid.WithMessage("manifest invalid: " + ie.Reason)
	case err != nil:
		return nil, err
	}
	if !validName(s.Manifest.Name) {
		return nil, errNameInvalid.WithDetail(map[string]string{"Name": s.Manifest.Name})
	}
	p := &parsedManifest{MediaType: schema1.MediaTypeSigned, Canonical: s.Canonical}
	for _, l := range s.Manifest.FSLayers {
		p.Layers = append(p.Layers, store.Descriptor{Digest: l.BlobSum, Size: -1})
	}
	return p, nil
}
