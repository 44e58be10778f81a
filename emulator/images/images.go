// Package images makes the content of container images to preload into registries: generated
// images (deterministic, from a seed), OCI image layouts and docker archives, each turned
// into a Set of blobs and manifests; and Push sends a Set to a registry through the OCI
// distribution API with go-containerregistry's remote package, as any client would.
//
// Everything read from a layout or an archive is bounded (world.MaxPreloadBytes per image,
// 4 MiB per manifest, a depth and a count of manifests), since world files and the files
// they name are untrusted input.
package images

import (
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
)

// Media types the package writes and reads.
const (
	OCIIndex       = "application/vnd.oci.image.index.v1+json"
	OCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	OCIConfig      = "application/vnd.oci.image.config.v1+json"
	OCILayer       = "application/vnd.oci.image.layer.v1.tar"
	OCILayerGzip   = "application/vnd.oci.image.layer.v1.tar+gzip"
	DockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	DockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
)

// maxManifestBytes is ACR's manifest size limit.
const maxManifestBytes = 4 << 20

// Set is the content of one or more images in push order: blobs, then manifests with every
// child before the index that lists it.
type Set struct {
	Blobs     []Blob
	Manifests []Manifest
}

// Blob is a config or a layer; Open reads its bytes (once per push).
type Blob struct {
	Digest    digest.Digest
	Size      int64
	MediaType string
	Open      func() (io.ReadCloser, error)
	// From says where the bytes come from, for errors (a file of a layout...).
	From string
}

// Manifest is an image manifest or an index.
type Manifest struct {
	Digest    digest.Digest
	MediaType string
	Body      []byte
	// Tags point at it; Top marks the manifests a Set was made for (the index of a
	// multi-platform image, not its children), tagged or not.
	Tags      []string
	Top       bool
	Platforms []string // os/arch[/variant] of an image manifest, or of an index's children
}

// Tops returns the manifests the set was made for.
func (s *Set) Tops() []Manifest {
	var out []Manifest
	for _, m := range s.Manifests {
		if m.Top {
			out = append(out, m)
		}
	}
	return out
}

// Bytes is the size of the set's blobs and manifests.
func (s *Set) Bytes() int64 {
	var n int64
	for _, b := range s.Blobs {
		n += b.Size
	}
	for _, m := range s.Manifests {
		n += int64(len(m.Body))
	}
	return n
}

// add appends a blob once.
func (s *Set) add(b Blob) {
	for _, have := range s.Blobs {
		if have.Digest == b.Digest {
			return
		}
	}
	s.Blobs = append(s.Blobs, b)
}

// addManifest appends a manifest once; a repeated one gains the new tags.
func (s *Set) addManifest(m Manifest) {
	for i := range s.Manifests {
		if s.Manifests[i].Digest == m.Digest {
			s.Manifests[i].Tags = append(s.Manifests[i].Tags, m.Tags...)
			s.Manifests[i].Top = s.Manifests[i].Top || m.Top
			return
		}
	}
	s.Manifests = append(s.Manifests, m)
}

// Push writes the set into repo: each blob (skipped when the repository has it, mounted when
// another repository of the registry does), then each manifest by digest and by its tags.
func Push(ctx context.Context, s *Set, repo name.Repository, opts ...remote.Option) error {
	p, err := remote.NewPusher(append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
	if err != nil {
		return err
	}
	for _, b := range s.Blobs {
		if err := p.Upload(ctx, repo, &layer{b}); err != nil {
			return fmt.Errorf("blob %s%s: %w", b.Digest, from(b.From), err)
		}
	}
	for _, m := range s.Manifests {
		t := rawManifest{m}
		if err := p.Put(ctx, repo.Digest(m.Digest.String()), t); err != nil {
			return fmt.Errorf("manifest %s: %w", m.Digest, err)
		}
		for _, tag := range m.Tags {
			if err := p.Put(ctx, repo.Tag(tag), t); err != nil {
				return fmt.Errorf("tag %s: %w", tag, err)
			}
		}
	}
	return nil
}

func from(s string) string {
	if s == "" {
		return ""
	}
	return " (" + s + ")"
}

// rawManifest is a manifest as remote.Put wants it.
type rawManifest struct{ m Manifest }

func (r rawManifest) RawManifest() ([]byte, error)        { return r.m.Body, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return types.MediaType(r.m.MediaType), nil }

// layer adapts a Blob to v1.Layer for remote's uploads, which read only its digest, size,
// media type and compressed bytes.
type layer struct{ b Blob }

func (l *layer) Digest() (v1.Hash, error)            { return v1.NewHash(l.b.Digest.String()) }
func (l *layer) Size() (int64, error)                { return l.b.Size, nil }
func (l *layer) MediaType() (types.MediaType, error) { return types.MediaType(l.b.MediaType), nil }
func (l *layer) Compressed() (io.ReadCloser, error)  { return l.b.Open() }
func (l *layer) Uncompressed() (io.ReadCloser, error) {
	return nil, fmt.Errorf("images: uncompressed bytes are not needed to push")
}
func (l *layer) DiffID() (v1.Hash, error) {
	return v1.Hash{}, fmt.Errorf("images: diff ids are not needed to push")
}
