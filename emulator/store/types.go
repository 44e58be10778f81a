package store

import (
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/store/blobstore"
	"github.com/opencontainers/go-digest"
)

// Stored values are immutable once inserted: to change one, Copy it, modify the copy and insert
// the copy in a write transaction.

// Registry is the data-plane view of a registry: enough to route and store content.
type Registry struct {
	Name        string
	LoginServer string
	CreatedAt   time.Time
}

// Attributes are ACR's changeableAttributes, enforced on repositories, manifests and tags.
type Attributes struct {
	DeleteEnabled bool `json:"deleteEnabled"`
	WriteEnabled  bool `json:"writeEnabled"`
	ReadEnabled   bool `json:"readEnabled"`
	ListEnabled   bool `json:"listEnabled"`
}

// DefaultAttributes is what ACR gives every new repository, manifest and tag.
func DefaultAttributes() Attributes {
	return Attributes{DeleteEnabled: true, WriteEnabled: true, ReadEnabled: true, ListEnabled: true}
}

// AttributesPatch is a PATCH of changeableAttributes: nil fields stay unchanged.
type AttributesPatch struct {
	DeleteEnabled *bool `json:"deleteEnabled,omitempty"`
	WriteEnabled  *bool `json:"writeEnabled,omitempty"`
	ReadEnabled   *bool `json:"readEnabled,omitempty"`
	ListEnabled   *bool `json:"listEnabled,omitempty"`
}

// Apply returns a with the patch's set fields.
func (p AttributesPatch) Apply(a Attributes) Attributes {
	set := func(dst *bool, v *bool) {
		if v != nil {
			*dst = *v
		}
	}
	set(&a.DeleteEnabled, p.DeleteEnabled)
	set(&a.WriteEnabled, p.WriteEnabled)
	set(&a.ReadEnabled, p.ReadEnabled)
	set(&a.ListEnabled, p.ListEnabled)
	return a
}

// patchable records carry changeableAttributes and a last-update time.
type patchable interface {
	applyPatch(p AttributesPatch, now time.Time)
}

func (r *Repository) applyPatch(p AttributesPatch, now time.Time) {
	r.Attrs, r.UpdatedAt = p.Apply(r.Attrs), now
}
func (m *Manifest) applyPatch(p AttributesPatch, now time.Time) {
	m.Attrs, m.UpdatedAt = p.Apply(m.Attrs), now
}
func (t *Tag) applyPatch(p AttributesPatch, now time.Time) {
	t.Attrs, t.UpdatedAt = p.Apply(t.Attrs), now
}

// Repository is a named collection of manifests, tags and blob links in one registry.
type Repository struct {
	Registry  string
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
	Attrs     Attributes
}

// Copy returns a shallow copy (Repository has no reference fields).
func (r *Repository) Copy() *Repository { c := *r; return &c }

// Descriptor is the part of an OCI descriptor the store needs to reason about references.
type Descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       digest.Digest     `json:"digest"`
	Size         int64             `json:"size"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Platform     *Platform         `json:"platform,omitempty"`
	// Foreign marks non-distributable layers (urls, foreign media types): a manifest may refer
	// to them without the repository holding them.
	Foreign bool `json:"-"`
}

// Platform of an index entry or an image config.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// Manifest is a stored manifest's metadata; its bytes live in the blobstore under Digest.
type Manifest struct {
	Registry        string
	Repo            string
	Digest          digest.Digest
	MediaType       string
	Size            int64
	ArtifactType    string
	Subject         digest.Digest // "" when the manifest has no subject
	Annotations     map[string]string
	ConfigMediaType string
	Platform        *Platform // from the image config, when it has one
	ImageSize       int64     // manifest + config + layers, as ACR reports imageSize
	Blobs           []Descriptor
	Manifests       []Descriptor // children of an index / manifest list
	CreatedAt       time.Time
	UpdatedAt       time.Time
	Attrs           Attributes
}

// Copy returns a copy safe to modify.
func (m *Manifest) Copy() *Manifest {
	c := *m
	return &c
}

// Tag points a name at a manifest digest.
type Tag struct {
	Registry  string
	Repo      string
	Name      string
	Digest    digest.Digest
	CreatedAt time.Time
	UpdatedAt time.Time
	Attrs     Attributes
}

// Copy returns a shallow copy (Tag has no reference fields).
func (t *Tag) Copy() *Tag { c := *t; return &c }

// BlobLink makes a blob servable from a repository; it owns one blobstore reference.
type BlobLink struct {
	Registry  string
	Repo      string
	Digest    digest.Digest
	Size      int64
	CreatedAt time.Time
}

// Upload is an open blob upload session.
type Upload struct {
	ID        string
	Registry  string
	Repo      string
	StartedAt time.Time
	Data      *blobstore.Upload
}
