package images

import (
	"fmt"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/world"
)

// Load makes the set a world's image declares. resolve turns a path written in the world
// into one to open (world.World.Path). img must be valid (world validates it): the tags it
// gives replace the names of a layout's or archive's image, and so need one image; its digest,
// when given, must be the image's.
func Load(img world.Image, resolve func(string) string) (*Set, error) {
	var s *Set
	var err error
	switch {
	case img.Generate != nil:
		s, err = Generate(img.Repository, *img.Generate, img.Tags)
	case img.Layout != "":
		s, err = FromLayout(resolve(img.Layout), img.Ref)
	case img.Archive != "":
		s, err = FromArchive(resolve(img.Archive), img.Ref)
	default:
		err = fmt.Errorf("no source: give generate, layout or archive")
	}
	if err != nil {
		return nil, err
	}
	tops := s.Tops()
	if (len(img.Tags) > 0 || img.Digest != "") && len(tops) != 1 {
		var names []string
		for _, m := range tops {
			names = append(names, strings.Join(m.Tags, ","))
		}
		return nil, fmt.Errorf("%d images (%s): select one with ref to give it tags or a digest", len(tops), strings.Join(names, "; "))
	}
	if len(img.Tags) > 0 && img.Generate == nil {
		for i := range s.Manifests {
			if s.Manifests[i].Top {
				s.Manifests[i].Tags = img.Tags
			}
		}
	}
	if img.Digest != "" && tops[0].Digest.String() != img.Digest {
		return nil, fmt.Errorf("the image's digest is %s, not the %s declared", tops[0].Digest, img.Digest)
	}
	return s, nil
}
