package registry

import (
	"encoding/json"
	"fmt"
	"mime"
	"strings"

	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/opencontainers/go-digest"
)

// Manifest media types the registry stores. Docker schema 1 is accepted, signed, for old
// clients (schema1.go); its layers are its fsLayers.
const (
	mtOCIManifest     = "application/vnd.oci.image.manifest.v1+json"
	mtOCIIndex        = "application/vnd.oci.image.index.v1+json"
	mtDockerManifest  = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList      = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtDockerV1        = "application/vnd.docker.distribution.manifest.v1+json"
	mtDockerV1Signed  = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	mtOCIImageConfig  = "application/vnd.oci.image.config.v1+json"
	mtDockerConfig    = "application/vnd.docker.container.image.v1+json"
	mtDockerForeign   = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
	nondistributable  = "nondistributable"
	mtGenericJSON     = "application/json"
	mtOctetStream     = "application/octet-stream"
	manifestSchemaVer = 2
)

func isIndexType(mt string) bool { return mt == mtOCIIndex || mt == mtDockerList }

func knownManifestType(mt string) bool {
	switch mt {
	case mtOCIManifest, mtOCIIndex, mtDockerManifest, mtDockerList, mtDockerV1, mtDockerV1Signed:
		return true
	}
	return false
}

type rawDescriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         *int64            `json:"size"`
	URLs         []string          `json:"urls,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Platform     *store.Platform   `json:"platform,omitempty"`
}

type rawManifest struct {
	SchemaVersion *int              `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *rawDescriptor    `json:"config"`
	Layers        []rawDescriptor   `json:"layers"`
	Manifests     []rawDescriptor   `json:"manifests"`
	Subject       *rawDescriptor    `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

// parsedManifest is what the registry learns from a manifest body.
type parsedManifest struct {
	MediaType    string
	ArtifactType string
	Subject      *store.Descriptor
	Config       *store.Descriptor
	Layers       []store.Descriptor
	Manifests    []store.Descriptor
	Annotations  map[string]string
	// Canonical is what the store keeps instead of the body: a schema 1 manifest's signed
	// payload without its signatures (its digest is computed over it). nil: the body itself.
	Canonical []byte
}

// parseManifest validates a manifest body against its Content-Type. Errors are wire errors
// (MANIFEST_INVALID) with a message saying what is wrong.
func parseManifest(body []byte, contentType string) (*parsedManifest, error) {
	invalid := func(format string, a ...any) error {
		return errManifestInvalid.WithMessage("manifest invalid: " + fmt.Sprintf(format, a...))
	}
	ct, _, _ := mime.ParseMediaType(contentType)
	var raw rawManifest
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, invalid("the body is not valid JSON: %v", err)
	}
	mt := ""
	switch {
	case knownManifestType(ct):
		if raw.MediaType != "" && raw.MediaType != ct {
			return nil, invalid("mediaType %q does not match Content-Type %q", raw.MediaType, ct)
		}
		mt = ct
	case ct == "" || ct == mtGenericJSON || ct == mtOctetStream:
		mt = raw.MediaType
		if mt == "" && raw.SchemaVersion != nil && *raw.SchemaVersion == manifestSchemaVer {
			// OCI allows mediaType to be omitted; infer it from the shape.
			if raw.Manifests != nil {
				mt = mtOCIIndex
			} else if raw.Config != nil {
				mt = mtOCIManifest
			}
		}
		if mt == "" && raw.SchemaVersion != nil && *raw.SchemaVersion == 1 {
			// distribution reads a body of no known type as signed schema 1.
			mt = mtDockerV1Signed
		}
	default:
		return nil, invalid("unsupported manifest media type %q", ct)
	}
	if !knownManifestType(mt) {
		return nil, invalid("unsupported manifest media type %q", mt)
	}
	if mt == mtDockerV1 || mt == mtDockerV1Signed {
		// Both types must carry valid signatures: distribution reads either as signed schema 1.
		return schema1Signed(body)
	}
	p := &parsedManifest{MediaType: mt, ArtifactType: raw.ArtifactType, Annotations: raw.Annotations}
	if raw.SchemaVersion == nil || *raw.SchemaVersion != manifestSchemaVer {
		return nil, invalid("schemaVersion must be 2")
	}
	var err error
	if raw.Subject != nil {
		var s store.Descriptor
		if s, err = descriptor(*raw.Subject, "subject"); err != nil {
			return nil, invalid("%v", err)
		}
		p.Subject = &s
	}
	if isIndexType(mt) {
		if raw.Config != nil || raw.Layers != nil {
			return nil, invalid("an index has no config or layers")
		}
		for i, m := range raw.Manifests {
			d, err := descriptor(m, fmt.Sprintf("manifests[%d]", i))
			if err != nil {
				return nil, invalid("%v", err)
			}
			p.Manifests = append(p.Manifests, d)
		}
		return p, nil
	}
	if raw.Manifests != nil {
		return nil, invalid("an image manifest has no manifests list")
	}
	if raw.Config == nil {
		return nil, invalid("config is required")
	}
	c, err := descriptor(*raw.Config, "config")
	if err != nil {
		return nil, invalid("%v", err)
	}
	p.Config = &c
	for i, l := range raw.Layers {
		d, err := descriptor(l, fmt.Sprintf("layers[%d]", i))
		if err != nil {
			return nil, invalid("%v", err)
		}
		p.Layers = append(p.Layers, d)
	}
	return p, nil
}

func descriptor(r rawDescriptor, where string) (store.Descriptor, error) {
	d, err := digest.Parse(r.Digest)
	if err != nil {
		return store.Descriptor{}, fmt.Errorf("%s.digest %q: %v", where, r.Digest, err)
	}
	if r.Size == nil || *r.Size < 0 {
		return store.Descriptor{}, fmt.Errorf("%s.size must be a non-negative number", where)
	}
	if r.MediaType == "" {
		return store.Descriptor{}, fmt.Errorf("%s.mediaType is required", where)
	}
	return store.Descriptor{
		MediaType: r.MediaType, Digest: d, Size: *r.Size, ArtifactType: r.ArtifactType,
		Annotations: r.Annotations, Platform: r.Platform, Foreign: len(r.URLs) > 0 ||
			r.MediaType == mtDockerForeign || strings.Contains(r.MediaType, nondistributable),
	}, nil
}

// artifactType is what the referrers API reports for a manifest: its artifactType, else the
// config media type of an image manifest.
func (p *parsedManifest) artifactType() string {
	if p.ArtifactType != "" || p.Config == nil {
		return p.ArtifactType
	}
	return p.Config.MediaType
}

// imageConfig is the part of an image config that ACR reports (architecture, os).
type imageConfig struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant"`
}

func platformOf(config []byte) *store.Platform {
	var c imageConfig
	if json.Unmarshal(config, &c) != nil || (c.Architecture == "" && c.OS == "") {
		return nil
	}
	return &store.Platform{Architecture: c.Architecture, OS: c.OS, Variant: c.Variant}
}
