package images

import (
	"archive/tar"
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/opencontainers/go-digest"
)

// maxArchiveEntries bounds the files of an archive that are indexed.
const maxArchiveEntries = 100000

// tarFiles are the regular files of a tar archive. Each open scans the archive to the file
// again, so nothing but the names and sizes stays in memory.
type tarFiles struct {
	path  string
	sizes map[string]int64
}

func cleanName(n string) string { return strings.TrimPrefix(path.Clean("/"+n), "/") }

func openTar(p string) (*tarFiles, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	t := &tarFiles{path: p, sizes: map[string]int64{}}
	tr := tar.NewReader(bufio.NewReader(f))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: not a tar archive: %v", p, err)
		}
		if len(t.sizes) >= maxArchiveEntries {
			return nil, fmt.Errorf("%s: more than %d files", p, maxArchiveEntries)
		}
		if h.Typeflag == tar.TypeReg {
			t.sizes[cleanName(h.Name)] = h.Size
		}
	}
	return t, nil
}

func (t *tarFiles) open(name string) (io.ReadCloser, int64, error) {
	size, ok := t.sizes[name]
	if !ok {
		return nil, 0, fmt.Errorf("%s: %w", t.where(name), fs.ErrNotExist)
	}
	f, err := os.Open(t.path)
	if err != nil {
		return nil, 0, err
	}
	tr := tar.NewReader(bufio.NewReader(f))
	for {
		h, err := tr.Next()
		if err != nil {
			f.Close()
			return nil, 0, fmt.Errorf("%s: %v", t.where(name), err)
		}
		if h.Typeflag == tar.TypeReg && cleanName(h.Name) == name {
			return struct {
				io.Reader
				io.Closer
			}{io.LimitReader(tr, size), f}, size, nil
		}
	}
}

func (t *tarFiles) where(name string) string { return t.path + "!" + name }

// FromArchive reads the images of a docker archive (docker save): every image, or the one ref
// names (a RepoTags entry such as hello:v1, or its tag). An archive holding an OCI image
// layout (docker 25 and later write one) is read as that layout, so digests are kept; an
// older one is made into OCI images from its config and layer files, whose digests are
// deterministic (layers are pushed as the archive holds them).
func FromArchive(p, ref string) (*Set, error) {
	t, err := openTar(p)
	if err != nil {
		return nil, err
	}
	if _, ok := t.sizes["oci-layout"]; ok {
		if _, ok := t.sizes["index.json"]; ok {
			return readLayout(t, ref)
		}
	}
	b, err := readSmall(t, "manifest.json", maxManifestBytes)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: not a docker archive (no manifest.json, no OCI layout)", p)
	}
	if err != nil {
		return nil, err
	}
	var entries []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("%s: %v", t.where("manifest.json"), err)
	}
	s := &Set{}
	budget := int64(world.MaxPreloadBytes)
	var names []string
	for _, e := range entries {
		names = append(names, e.RepoTags...)
		var tags []string
		selected := ref == ""
		for _, rt := range e.RepoTags {
			tag := tagOf("", rt)
			if tag != "" {
				tags = append(tags, tag)
			}
			if ref != "" && refMatches(ref, rt) {
				selected = true
			}
		}
		if !selected {
			continue
		}
		m, err := legacyImage(t, s, e.Config, e.Layers, &budget)
		if err != nil {
			return nil, err
		}
		m.Tags, m.Top = tags, true
		s.addManifest(m)
	}
	if len(s.Manifests) == 0 {
		return nil, fmt.Errorf("%s has no image named %q (it has: %s)", p, ref, strings.Join(names, ", "))
	}
	return s, nil
}

// legacyImage makes an OCI image manifest of a docker archive's config and layer files.
func legacyImage(t *tarFiles, s *Set, config string, layers []string, budget *int64) (Manifest, error) {
	cfg, err := readSmall(t, cleanName(config), maxManifestBytes)
	if err != nil {
		return Manifest{}, err
	}
	var c struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Variant      string `json:"variant"`
	}
	if err := json.Unmarshal(cfg, &c); err != nil {
		return Manifest{}, fmt.Errorf("%s: %v", t.where(config), err)
	}
	cd := digest.FromBytes(cfg)
	s.add(Blob{Digest: cd, Size: int64(len(cfg)), MediaType: OCIConfig, Open: bytesOpener(cfg), From: t.where(config)})
	m := manifest{SchemaVersion: 2, MediaType: OCIManifest, Config: descriptor{MediaType: OCIConfig, Digest: cd, Size: int64(len(cfg))}}
	*budget -= int64(len(cfg))
	for _, l := range layers {
		name := cleanName(l)
		open := func() (io.ReadCloser, error) {
			rc, _, err := t.open(name)
			return rc, err
		}
		if size := t.sizes[name]; size > *budget {
			return Manifest{}, fmt.Errorf("%s: the image is larger than the %s a preloaded image may be", t.path, world.ByteSize(world.MaxPreloadBytes))
		}
		d, n, err := digestOf(open)
		if err != nil {
			return Manifest{}, err
		}
		*budget -= n
		mt, err := layerMediaType(open)
		if err != nil {
			return Manifest{}, err
		}
		s.add(Blob{Digest: d, Size: n, MediaType: mt, Open: open, From: t.where(name)})
		m.Layers = append(m.Layers, descriptor{MediaType: mt, Digest: d, Size: n})
	}
	body, err := json.Marshal(m)
	if err != nil {
		return Manifest{}, err
	}
	out := Manifest{Digest: digest.FromBytes(body), MediaType: OCIManifest, Body: body}
	if c.OS != "" {
		out.Platforms = []string{platformString(platform{OS: c.OS, Architecture: c.Architecture, Variant: c.Variant})}
	}
	return out, nil
}

// layerMediaType tells a gzip-compressed layer file from a plain tar.
func layerMediaType(open func() (io.ReadCloser, error)) (string, error) {
	r, err := open()
	if err != nil {
		return "", err
	}
	defer r.Close()
	var magic [2]byte
	if _, err := io.ReadFull(r, magic[:]); err == nil && magic == [2]byte{0x1f, 0x8b} {
		return OCILayerGzip, nil
	}
	return OCILayer, nil
}
