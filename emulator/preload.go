package emulator

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/acr-emulator/acr-emulator/emulator/images"
	"github.com/acr-emulator/acr-emulator/emulator/network"
	"github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Preloaded images are pushed through the registry's own content API (the OCI distribution
// API of emulator/registry), in-process, with go-containerregistry's client. A push is the one
// path that keeps every invariant of stored content: blob digests verified on upload,
// manifests parsed and their references checked, content-addressed blobs counted and shared
// between repositories (layers are mounted, not copied), tags set with their manifest.
// Writing store records directly would need a second copy of those rules. The network gate
// and the token service are not on this path: preloading is the registry owner's act, and a
// locked-down registry starts with its images. Nothing is scanned on the way (Defender sees
// pushes by clients).

// PreloadedImage is an image Preload pushed.
type PreloadedImage struct {
	Registry   string   `json:"registry"`
	Repository string   `json:"repository"`
	Digest     string   `json:"digest"`
	MediaType  string   `json:"mediaType"`
	Tags       []string `json:"tags"`
	Platforms  []string `json:"platforms,omitempty"`
}

// Preload pushes images into a registry, as the registry's owner would before anyone pulls:
// network rules and authentication do not apply. Each image is checked as a world file's is;
// relative paths are relative to the working directory. It is what the world's images go
// through at Start, and what a test fixture calls to seed a registry. Images preloaded after
// Start are content like any pushed: a reset removes them.
func (e *Emulator) Preload(ctx context.Context, registryName string, imgs ...world.Image) ([]PreloadedImage, error) {
	var out []PreloadedImage
	for i := range imgs {
		img := imgs[i]
		img.Tags = append([]string(nil), img.Tags...)
		if img.Generate != nil {
			g := *img.Generate
			img.Generate = &g
		}
		if err := world.CheckImage(&img); err != nil {
			return out, err
		}
		pushed, err := e.preload(ctx, registryName, img, func(p string) string { return p })
		if err != nil {
			return out, fmt.Errorf("image %d (%s): %w", i, img.Repository, err)
		}
		out = append(out, pushed...)
	}
	return out, nil
}

func (e *Emulator) preload(ctx context.Context, registryName string, img world.Image, resolve func(string) string) ([]PreloadedImage, error) {
	info, ok := e.registryInfo(registryName)
	if !ok {
		return nil, fmt.Errorf("no registry %q", registryName)
	}
	set, err := images.Load(img, resolve)
	if err != nil {
		return nil, err
	}
	repo, err := name.NewRepository(info.LoginServer+"/"+img.Repository, name.Insecure)
	if err != nil {
		return nil, err
	}
	content := registry.New(e.st, registryName, registry.WithLogger(e.log.With("registry", registryName, "preload", img.Repository)),
		registry.WithMaxManifestBytes(orDefault(e.cfg.MaxManifestBytes, registry.DefaultMaxManifestBytes)),
		registry.WithMaxUploadBytes(e.maxUploadBytes()),
	).Handler()
	owner := network.Origin{Kind: network.Internet, Name: "world", IP: netip.MustParseAddr("127.0.0.1")}
	if err := images.Push(ctx, set, repo, remote.WithTransport(&inProcess{handler: content, origin: owner})); err != nil {
		return nil, err
	}
	var out []PreloadedImage
	for _, m := range set.Tops() {
		out = append(out, PreloadedImage{Registry: registryName, Repository: img.Repository, Digest: m.Digest.String(), MediaType: m.MediaType,
			Tags: append([]string{}, m.Tags...), Platforms: m.Platforms})
	}
	return out, nil
}

// preloadWorld pushes every image the world declares; a mistake names the image's line.
func (e *Emulator) preloadWorld(ctx context.Context) error {
	w := e.world
	n := 0
	for i, r := range w.Registries {
		for j, img := range r.Images {
			pushed, err := e.preload(ctx, r.Name, img, w.Path)
			if err != nil {
				return w.Errorf(fmt.Sprintf("registries[%d].images[%d]", i, j), "%v", err)
			}
			for _, p := range pushed {
				e.log.Debug("preloaded", "registry", p.Registry, "repository", p.Repository, "digest", p.Digest, "tags", p.Tags)
			}
			n += len(pushed)
		}
	}
	if n > 0 {
		e.log.Info("preloaded the world's images", "images", n)
	}
	return nil
}
