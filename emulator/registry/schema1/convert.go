// Package schema1 speaks Docker's image manifest v2, schema 1, which ACR still serves to clients
// that do not accept schema 2: a schema 2 image manifest fetched by tag with an Accept header that
// does not list application/vnd.docker.distribution.manifest.v2+json is rewritten into a signed
// schema 1 manifest, and signed schema 1 manifests pushed by old clients are stored.
//
// ACR is a derivative of the distribution registry (v2.x), and its schema 1 bodies have that
// registry's shape: the canonical payload is indented with three spaces, history entries are
// derived from the image config as distribution's ConfigBuilder derives them, and the signature
// is a libtrust "pretty" JWS whose protected header records formatLength, formatTail and time.
// The digest of a schema 1 manifest is the digest of its canonical payload, signatures removed.
// [src: azure-rest-api-specs containerregistry/data-plane/Microsoft.ContainerRegistry/preview/
// 2018-08-10/examples/GetManifest.json (a GET without Accept answered with a signed schema 1
// body); distribution v2.8 registry/handlers/manifests.go, manifest/schema1; docker/libtrust]
//
// Everything here is pure (no I/O, no state): Convert builds the payload, Key.Sign signs it,
// Parse reads and verifies a signed body.
package schema1

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
)

// Media types of schema 1 manifests.
const (
	MediaTypeSigned   = "application/vnd.docker.distribution.manifest.v1+prettyjws"
	MediaTypeUnsigned = "application/vnd.docker.distribution.manifest.v1+json"
)

// EmptyLayerDigest is the digest of EmptyLayer, the layer schema 1 lists for history entries
// that made no filesystem change (empty_layer in the image config).
const EmptyLayerDigest = digest.Digest("sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4")

// EmptyLayer returns the gzip-compressed empty tar (1024 zero bytes) every Docker tool knows by
// EmptyLayerDigest; the registry must serve it when a converted manifest refers to it.
func EmptyLayer() []byte {
	return []byte{
		0x1f, 0x8b, 0x08, 0x00, 0x00, 0x09, 0x6e, 0x88, 0x00, 0xff, 0x62, 0x18, 0x05, 0xa3, 0x60, 0x14,
		0x8c, 0x58, 0x00, 0x08, 0x00, 0x00, 0xff, 0xff, 0x2e, 0xaf, 0xb5, 0xef, 0x00, 0x04, 0x00, 0x00,
	}
}

// Image is what a conversion needs: the repository name and tag the client asked for, the image
// config blob, and the layer digests of the schema 2 manifest in order.
type Image struct {
	Name   string
	Tag    string
	Config []byte
	Layers []digest.Digest
}

// Manifest is a schema 1 manifest as distribution marshals it; the field order is the wire order.
type Manifest struct {
	SchemaVersion int       `json:"schemaVersion"`
	Name          string    `json:"name"`
	Tag           string    `json:"tag"`
	Architecture  string    `json:"architecture"`
	FSLayers      []FSLayer `json:"fsLayers"`
	History       []History `json:"history"`
}

// FSLayer names one layer blob, newest first.
type FSLayer struct {
	BlobSum digest.Digest `json:"blobSum"`
}

// History carries the v1 image JSON of one layer, newest first.
type History struct {
	V1Compatibility string `json:"v1Compatibility"`
}

// ConversionError says why an image cannot be expressed in schema 1; the registry answers it as
// MANIFEST_INVALID, as distribution does.
type ConversionError struct{ Reason string }

func (e *ConversionError) Error() string { return "cannot convert to schema 1: " + e.Reason }

func conversionError(format string, a ...any) error {
	return &ConversionError{Reason: fmt.Sprintf(format, a...)}
}

// configView is the part of an image config a conversion reads.
type configView struct {
	Architecture string `json:"architecture"`
	RootFS       *struct {
		DiffIDs   []digest.Digest `json:"diff_ids"`
		BaseLayer string          `json:"base_layer"`
	} `json:"rootfs"`
	History []struct {
		Created    time.Time `json:"created"`
		Author     string    `json:"author"`
		CreatedBy  string    `json:"created_by"`
		Comment    string    `json:"comment"`
		EmptyLayer bool      `json:"empty_layer"`
	} `json:"history"`
}

// v1Layer is the v1 image JSON of every layer but the newest, in distribution's field order.
type v1Layer struct {
	ID              string    `json:"id"`
	Parent          string    `json:"parent,omitempty"`
	Comment         string    `json:"comment,omitempty"`
	Created         time.Time `json:"created"`
	ContainerConfig struct {
		Cmd []string
	} `json:"container_config,omitempty"`
	Author    string `json:"author,omitempty"`
	ThrowAway bool   `json:"throwaway,omitempty"`
}

// Convert builds the canonical (unsigned) schema 1 payload of a schema 2 image and reports
// whether it refers to EmptyLayer. Each config history entry becomes one fsLayer/history pair,
// newest first: entries marked empty_layer point at EmptyLayer and are "throwaway"; the others
// take the image's layers in order. Layer v1 ids chain: sha256(blobsum-hex + " " + parent id), the
// newest adding " " + the config. The newest history entry is the config itself without rootfs
// and history, plus id, parent and throwaway.
func Convert(img Image) (payload []byte, usesEmptyLayer bool, err error) {
	var cfg configView
	if err := json.Unmarshal(img.Config, &cfg); err != nil {
		return nil, false, conversionError("the image config is not valid JSON: %v", err)
	}
	if len(cfg.History) == 0 {
		return nil, false, conversionError("empty history when trying to create schema1 manifest")
	}
	if cfg.RootFS == nil {
		return nil, false, conversionError("the image config has no rootfs")
	}
	if len(cfg.RootFS.DiffIDs) != len(img.Layers) {
		return nil, false, conversionError("number of descriptors and number of layers in rootfs must match: %d != %d",
			len(cfg.RootFS.DiffIDs), len(img.Layers))
	}
	n := len(cfg.History)
	m := Manifest{SchemaVersion: 1, Name: img.Name, Tag: img.Tag, Architecture: cfg.Architecture,
		FSLayers: make([]FSLayer, n), History: make([]History, n)}
	next := 0 // the next image layer a non-empty history entry takes
	blobSum := func(empty bool) (digest.Digest, error) {
		if empty {
			usesEmptyLayer = true
			return EmptyLayerDigest, nil
		}
		if next >= len(img.Layers) {
			return "", conversionError("too many non-empty layers in History section")
		}
		next++
		return img.Layers[next-1], nil
	}
	parent := ""
	for i, h := range cfg.History[:n-1] {
		sum, err := blobSum(h.EmptyLayer)
		if err != nil {
			return nil, false, err
		}
		id := sha256Hex(sum.Encoded() + " " + parent)
		if i == 0 && cfg.RootFS.BaseLayer != "" {
			// Windows images: the bottom layer's parent stands for the OS base layer.
			base := sha512.Sum384([]byte(cfg.RootFS.BaseLayer))
			parent = fmt.Sprintf("%x", base[:32])
		}
		v := v1Layer{ID: id, Parent: parent, Comment: h.Comment, Created: h.Created, Author: h.Author, ThrowAway: h.EmptyLayer}
		v.ContainerConfig.Cmd = []string{h.CreatedBy}
		b, err := json.Marshal(&v)
		if err != nil {
			return nil, false, conversionError("%v", err)
		}
		m.History[n-1-i] = History{V1Compatibility: string(b)}
		m.FSLayers[n-1-i] = FSLayer{BlobSum: sum}
		parent = id
	}
	newest := cfg.History[n-1]
	sum, err := blobSum(newest.EmptyLayer)
	if err != nil {
		return nil, false, err
	}
	m.FSLayers[0] = FSLayer{BlobSum: sum}
	top, err := topV1Config(img.Config, sha256Hex(sum.Encoded()+" "+parent+" "+string(img.Config)), parent, newest.EmptyLayer)
	if err != nil {
		return nil, false, err
	}
	m.History[0] = History{V1Compatibility: string(top)}
	payload, err = json.MarshalIndent(&m, "", "   ")
	if err != nil {
		return nil, false, conversionError("%v", err)
	}
	return payload, usesEmptyLayer, nil
}

// topV1Config is the newest layer's v1 JSON: the image config without the fields schema 1 never
// had, with the v1 id chain added. Keys come out sorted, as a marshalled map's do.
func topV1Config(config []byte, id, parent string, throwaway bool) ([]byte, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(config, &fields); err != nil {
		return nil, conversionError("the image config is not a JSON object: %v", err)
	}
	delete(fields, "rootfs")
	delete(fields, "history")
	fields["id"] = quoted(id)
	if parent != "" {
		fields["parent"] = quoted(parent)
	}
	if throwaway {
		fields["throwaway"] = json.RawMessage("true")
	}
	b, err := json.Marshal(fields)
	if err != nil {
		return nil, conversionError("%v", err)
	}
	return b, nil
}

func quoted(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return fmt.Sprintf("%x", sum)
}
