package world

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
)

// Image is content a registry starts with, pushed before the emulator serves it. It comes from
// exactly one source: Generate, Layout or Archive.
type Image struct {
	Repository string `json:"repository" yaml:"repository"`
	// Tags point at the image (the index, for several platforms). A generated image is
	// tagged latest by default; a layout's or archive's images keep their own names unless
	// Tags are given (then Ref must select one image).
	Tags []string `json:"tags,omitempty" yaml:"tags,omitempty"`
	// Digest, when set, is what the image's top manifest must hash to: the world's author
	// pins the content, and a world whose content differs does not start.
	Digest string `json:"digest,omitempty" yaml:"digest,omitempty"`

	// Generate makes an image with deterministic content.
	Generate *Generated `json:"generate,omitempty" yaml:"generate,omitempty"`
	// Layout is an OCI image layout directory (crane push's and skopeo's oci: format),
	// relative to the world file.
	Layout string `json:"layout,omitempty" yaml:"layout,omitempty"`
	// Archive is a docker archive (docker save, skopeo docker-archive:), relative to the
	// world file. An archive holding an OCI layout (docker 25 and later) keeps its digests.
	Archive string `json:"archive,omitempty" yaml:"archive,omitempty"`
	// Ref selects one image of a layout (by its org.opencontainers.image.ref.name) or of an
	// archive (by a RepoTags entry such as app:v1, or its tag); empty takes them all.
	Ref string `json:"ref,omitempty" yaml:"ref,omitempty"`
}

// Generated describes a generated image. The same description always gives the same bytes
// and so the same digests: layers are tars of pseudo-random bytes drawn from Seed (gzip in its
// stored form, which no compressor's choices change), and nothing depends on the time or the
// machine.
type Generated struct {
	Layers    int      `json:"layers,omitempty" yaml:"layers,omitempty"`       // default 1
	LayerSize ByteSize `json:"layerSize,omitempty" yaml:"layerSize,omitempty"` // of each layer's file; default 1KiB
	// Platforms, os/architecture[/variant] (default linux/amd64). Several make a multi-arch
	// index over one image per platform.
	Platforms []string `json:"platforms,omitempty" yaml:"platforms,omitempty"`
	// Index makes an index even for one platform.
	Index bool `json:"index,omitempty" yaml:"index,omitempty"`
	// Seed of the content (default: the repository name).
	Seed string `json:"seed,omitempty" yaml:"seed,omitempty"`
}

// Bounds on images, so that a world file cannot exhaust memory or time: everything preloaded
// is held in memory, as pushed content is.
const (
	MaxImagesPerRegistry = 256
	MaxTagsPerImage      = 100
	MaxLayers            = 32
	MaxLayerSize         = 64 << 20
	MaxPlatforms         = 16
	// MaxGeneratedBytes bounds the layers generated for a whole world.
	MaxGeneratedBytes = 256 << 20
	// MaxPreloadBytes bounds what one layout or archive image may bring in.
	MaxPreloadBytes = 1 << 30
)

// ByteSize is a number of bytes, written as a number (1024) or with a unit (64KiB, 1MB, 2MiB).
type ByteSize int64

var byteSizeRE = regexp.MustCompile(`^(?i)(\d{1,12})\s*(b|kb|kib|mb|mib|gb|gib)?$`)

var byteUnits = map[string]int64{"": 1, "b": 1, "kb": 1000, "kib": 1 << 10, "mb": 1000 * 1000, "mib": 1 << 20, "gb": 1000 * 1000 * 1000, "gib": 1 << 30}

// ParseByteSize reads a size such as 1024, 64KiB or 1MB.
func ParseByteSize(s string) (ByteSize, error) {
	m := byteSizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a size such as 1024, 64KiB or 1MB", s)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return ByteSize(n * byteUnits[strings.ToLower(m[2])]), nil
}

// UnmarshalYAML reads a number or a size with a unit. A malformed size becomes -1, which
// validation reports with its line (an error from here would lose the position).
func (b *ByteSize) UnmarshalYAML(raw []byte) error {
	var v any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		*b = -1
		return nil
	}
	s, err := ParseByteSize(fmt.Sprint(v))
	if err != nil {
		s = -1
	}
	*b = s
	return nil
}

func (b ByteSize) String() string {
	switch {
	case b >= 1<<20 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", b>>20)
	case b >= 1<<10 && b%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", b>>10)
	}
	return fmt.Sprintf("%dB", int64(b))
}

// RepositoryRE and TagRE are the OCI distribution spec's grammar for names and tags.
var (
	RepositoryRE = regexp.MustCompile(`^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`)
	TagRE        = regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`)
	digestRE     = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	platformRE   = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?$`)
)

// validateImage checks one image and fills in its defaults; it returns the bytes a generated
// image's layers will hold.
func (w *World) validateImage(p *problems, f string, img *Image, checkFiles bool) int64 {
	if !RepositoryRE.MatchString(img.Repository) || len(img.Repository) > 255 {
		p.add(f+".repository", "%q is not a repository name (lowercase letters, digits, separators . _ - and /)", img.Repository)
	}
	if len(img.Tags) > MaxTagsPerImage {
		p.add(f+".tags", "at most %d tags", MaxTagsPerImage)
	}
	for k, t := range img.Tags {
		if !TagRE.MatchString(t) {
			p.add(fmt.Sprintf("%s.tags[%d]", f, k), "%q is not a tag (letters, digits, . _ -, at most 128)", t)
		}
	}
	if img.Digest != "" && !digestRE.MatchString(img.Digest) {
		p.add(f+".digest", "%q is not a sha256 digest (sha256:<64 hex digits>)", img.Digest)
	}
	sources := 0
	for _, set := range []bool{img.Generate != nil, img.Layout != "", img.Archive != ""} {
		if set {
			sources++
		}
	}
	if sources != 1 {
		p.add(f, "give exactly one of generate, layout and archive")
		return 0
	}
	if img.Generate == nil {
		field, path, want := f+".layout", img.Layout, "an OCI image layout directory (with oci-layout and index.json)"
		if img.Archive != "" {
			field, path, want = f+".archive", img.Archive, "a docker archive (docker save)"
		}
		if checkFiles {
			w.checkSource(p, field, path, img.Layout != "", want)
		}
		return 0
	}
	if img.Ref != "" {
		p.add(f+".ref", "ref selects an image of a layout or an archive, not of a generated image")
	}
	return validateGenerated(p, f+".generate", img)
}

// checkSource looks for a layout directory or an archive file.
func (w *World) checkSource(p *problems, field, path string, layout bool, want string) {
	full := w.Path(path)
	st, err := os.Stat(full)
	switch {
	case err != nil:
		p.add(field, "%s: %s is needed here", firstLine(err), want)
	case layout && !st.IsDir():
		p.add(field, "%s is not a directory: %s is needed here", full, want)
	case layout:
		for _, name := range []string{"oci-layout", "index.json"} {
			if _, err := os.Stat(filepath.Join(full, name)); err != nil {
				p.add(field, "%s has no %s: %s is needed here", full, name, want)
			}
		}
	case !st.Mode().IsRegular():
		p.add(field, "%s is not a file: %s is needed here", full, want)
	}
}

func firstLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}

func validateGenerated(p *problems, f string, img *Image) int64 {
	g := img.Generate
	if g.Layers == 0 {
		g.Layers = 1
	}
	if g.LayerSize == 0 {
		g.LayerSize = 1 << 10
	}
	if len(g.Platforms) == 0 {
		g.Platforms = []string{"linux/amd64"}
	}
	if g.Seed == "" {
		g.Seed = img.Repository
	}
	if len(img.Tags) == 0 {
		img.Tags = []string{"latest"}
	}
	ok := true
	if g.Layers < 1 || g.Layers > MaxLayers {
		p.add(f+".layers", "%d must be 1 to %d", g.Layers, MaxLayers)
		ok = false
	}
	if g.LayerSize < 1 || g.LayerSize > MaxLayerSize {
		p.add(f+".layerSize", "must be a size from 1 byte to %s (a number, or with a unit: 64KiB, 1MB)", ByteSize(MaxLayerSize))
		ok = false
	}
	if len(g.Platforms) > MaxPlatforms {
		p.add(f+".platforms", "at most %d platforms", MaxPlatforms)
		ok = false
	}
	seen := map[string]bool{}
	for k, pl := range g.Platforms {
		if !platformRE.MatchString(pl) {
			p.add(fmt.Sprintf("%s.platforms[%d]", f, k), "%q is not a platform such as linux/amd64 or linux/arm/v7", pl)
		}
		if seen[pl] {
			p.add(fmt.Sprintf("%s.platforms[%d]", f, k), "%q is listed twice", pl)
		}
		seen[pl] = true
	}
	if len(g.Seed) > 1024 {
		p.add(f+".seed", "at most 1024 characters")
	}
	if !ok {
		return 0
	}
	return int64(g.Layers) * int64(g.LayerSize) * int64(len(g.Platforms))
}

// CheckImage validates one image outside of a world file and fills in its defaults, for
// images preloaded at run time (a test fixture's). Paths are relative to the working
// directory.
func CheckImage(img *Image) error {
	w := &World{src: &source{file: "image", dir: "."}}
	var p problems
	if n := w.validateImage(&p, "image", img, true); n > MaxGeneratedBytes {
		p.add("image.generate", "the image would hold %s; at most %s", ByteSize(n), ByteSize(MaxGeneratedBytes))
	}
	errs := make([]error, len(p))
	for i, e := range p {
		errs[i] = w.src.locate(e)
	}
	return errors.Join(errs...)
}
