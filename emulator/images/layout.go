package images

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/opencontainers/go-digest"
)

// Bounds on a layout, besides world.MaxPreloadBytes.
const (
	maxDepth     = 8    // indexes within indexes
	maxManifests = 1000 // per image
)

// Annotations naming an image in an index.json: OCI's (a tag, or a full reference), and
// containerd's (a full reference, written by docker save since docker 25).
const (
	refNameAnnotation   = "org.opencontainers.image.ref.name"
	imageNameAnnotation = "io.containerd.image.name"
)

// files is where a layout's files are: a directory, or a tar archive.
type files interface {
	// open returns a file's reader and size; an error wrapping fs.ErrNotExist when absent.
	open(name string) (io.ReadCloser, int64, error)
	// where names a file for errors.
	where(name string) string
}

type dirFiles string

func (d dirFiles) open(name string) (io.ReadCloser, int64, error) {
	f, err := os.Open(filepath.Join(string(d), filepath.FromSlash(name)))
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s is not a regular file", name)
	}
	return f, st.Size(), nil
}

func (d dirFiles) where(name string) string {
	return filepath.Join(string(d), filepath.FromSlash(name))
}

// FromLayout reads the images of an OCI image layout directory: every image its index.json
// lists, or the one ref names. Their tags are the names index.json gives them.
func FromLayout(dir, ref string) (*Set, error) { return readLayout(dirFiles(dir), ref) }

// readSmall reads a whole file of at most limit bytes.
func readSmall(f files, name string, limit int64) ([]byte, error) {
	r, size, err := f.open(name)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if size > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d a manifest may have", f.where(name), size, limit)
	}
	return io.ReadAll(io.LimitReader(r, limit))
}

type layoutReader struct {
	f      files
	set    *Set
	budget int64
	count  int
}

func readLayout(f files, ref string) (*Set, error) {
	b, err := readSmall(f, "oci-layout", 4096)
	if err != nil {
		return nil, fmt.Errorf("not an OCI image layout: %w", err)
	}
	var ol struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(b, &ol); err != nil || !strings.HasPrefix(ol.Version, "1.") {
		return nil, fmt.Errorf("%s: not an OCI image layout version 1 (%q)", f.where("oci-layout"), ol.Version)
	}
	b, err = readSmall(f, "index.json", maxManifestBytes)
	if err != nil {
		return nil, err
	}
	var idx struct {
		Manifests []descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%s: %v", f.where("index.json"), err)
	}
	var tops []descriptor
	var names []string
	for _, d := range idx.Manifests {
		tag, full := d.Annots[refNameAnnotation], d.Annots[imageNameAnnotation]
		names = append(names, strings.Trim(tag+" "+full, " "))
		if ref == "" || refMatches(ref, tag, full) {
			tops = append(tops, d)
		}
	}
	switch {
	case len(idx.Manifests) == 0:
		return nil, fmt.Errorf("%s lists no image", f.where("index.json"))
	case len(tops) == 0:
		return nil, fmt.Errorf("%s has no image named %q (it has: %s)", f.where("index.json"), ref, strings.Join(names, ", "))
	}
	r := &layoutReader{f: f, set: &Set{}, budget: world.MaxPreloadBytes}
	for _, d := range tops {
		m, err := r.walk(d, 0)
		if err != nil {
			return nil, err
		}
		m.Top = true
		if t := tagOf(d.Annots[refNameAnnotation], d.Annots[imageNameAnnotation]); t != "" {
			m.Tags = []string{t}
		}
		r.set.addManifest(m)
	}
	return r.set, nil
}

// refMatches tells whether ref names an image known by names (tags or references): ref is
// one of them, a tag of one, or the end of one after a "/" (hello:v1 names
// docker.io/library/hello:v1).
func refMatches(ref string, names ...string) bool {
	for _, n := range names {
		if n != "" && (ref == n || strings.HasSuffix(n, "/"+ref) || tagOf(n, "") == ref) {
			return true
		}
	}
	return false
}

// tagOf is the tag an image is known by: OCI's ref name when it is a tag, else the tag of a
// full reference; "" for none.
func tagOf(tag, full string) string {
	if world.TagRE.MatchString(tag) {
		return tag
	}
	for _, s := range []string{tag, full} {
		if t, err := name.NewTag(s); err == nil && s != "" && strings.Contains(s, ":") {
			return t.TagStr()
		}
	}
	return ""
}

func blobPath(d digest.Digest) string { return path.Join("blobs", d.Algorithm().String(), d.Encoded()) }

// spend takes n bytes from the budget.
func (r *layoutReader) spend(n int64) error {
	if n < 0 {
		return fmt.Errorf("negative size %d", n)
	}
	r.budget -= n
	if r.budget < 0 {
		return fmt.Errorf("the image is larger than the %s a preloaded image may be", world.ByteSize(world.MaxPreloadBytes))
	}
	return nil
}

// walk reads a manifest or an index and everything it refers to, adding the blobs and child
// manifests to the set; the manifest itself is returned for the caller to add.
func (r *layoutReader) walk(d descriptor, depth int) (Manifest, error) {
	if depth > maxDepth {
		return Manifest{}, fmt.Errorf("indexes nest more than %d deep", maxDepth)
	}
	if r.count++; r.count > maxManifests {
		return Manifest{}, fmt.Errorf("more than %d manifests", maxManifests)
	}
	if err := d.Digest.Validate(); err != nil {
		return Manifest{}, fmt.Errorf("descriptor digest %q: %v", d.Digest, err)
	}
	if d.Size > maxManifestBytes {
		return Manifest{}, fmt.Errorf("manifest %s is %d bytes, more than the %d ACR accepts", d.Digest, d.Size, maxManifestBytes)
	}
	body, err := readSmall(r.f, blobPath(d.Digest), maxManifestBytes)
	if err != nil {
		return Manifest{}, fmt.Errorf("manifest %s: %w", d.Digest, err)
	}
	if int64(len(body)) != d.Size || digest.FromBytes(body) != d.Digest {
		return Manifest{}, fmt.Errorf("%s does not hold %s (%d bytes)", r.f.where(blobPath(d.Digest)), d.Digest, d.Size)
	}
	if err := r.spend(d.Size); err != nil {
		return Manifest{}, err
	}
	var parsed struct {
		MediaType string       `json:"mediaType"`
		Manifests []descriptor `json:"manifests"`
		Config    *descriptor  `json:"config"`
		Layers    []descriptor `json:"layers"`
	}
	if err := json.Unmarshal(body, &parsed); err != nil {
		return Manifest{}, fmt.Errorf("manifest %s: %v", d.Digest, err)
	}
	mt := d.MediaType
	if mt == "" {
		mt = parsed.MediaType
	}
	m := Manifest{Digest: d.Digest, MediaType: mt, Body: body}
	if d.Platform != nil {
		m.Platforms = []string{platformString(*d.Platform)}
	}
	switch mt {
	case OCIIndex, DockerList:
		m.Platforms = nil
		for _, c := range parsed.Manifests {
			child, err := r.walk(c, depth+1)
			if err != nil {
				return Manifest{}, err
			}
			r.set.addManifest(child)
			m.Platforms = append(m.Platforms, child.Platforms...)
		}
	case OCIManifest, DockerManifest:
		if parsed.Config == nil {
			return Manifest{}, fmt.Errorf("manifest %s has no config", d.Digest)
		}
		for _, b := range append([]descriptor{*parsed.Config}, parsed.Layers...) {
			if err := r.blob(b); err != nil {
				return Manifest{}, err
			}
		}
	default:
		return Manifest{}, fmt.Errorf("manifest %s: media type %q is not an OCI or docker schema 2 manifest or index", d.Digest, mt)
	}
	return m, nil
}

// blob adds a config or layer file; a missing non-distributable layer (one with urls) is
// skipped, as registries do not hold them.
func (r *layoutReader) blob(d descriptor) error {
	if err := d.Digest.Validate(); err != nil {
		return fmt.Errorf("descriptor digest %q: %v", d.Digest, err)
	}
	p := blobPath(d.Digest)
	rc, size, err := r.f.open(p)
	if errors.Is(err, fs.ErrNotExist) && len(d.URLs) > 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("blob %s: %w", d.Digest, err)
	}
	rc.Close()
	if size != d.Size {
		return fmt.Errorf("%s has %d bytes; the manifest says %d", r.f.where(p), size, d.Size)
	}
	if err := r.spend(size); err != nil {
		return err
	}
	f := r.f
	r.set.add(Blob{Digest: d.Digest, Size: size, MediaType: d.MediaType, From: f.where(p), Open: func() (io.ReadCloser, error) {
		rc, _, err := f.open(p)
		return rc, err
	}})
	return nil
}

func platformString(p platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
