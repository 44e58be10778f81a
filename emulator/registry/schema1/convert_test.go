package schema1

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

const (
	layerA = digest.Digest("sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
	layerB = digest.Digest("sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb")
)

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The golden *.schema1.json files were written by distribution v2.8.3's schema1 ConfigBuilder
// (the converter ACR's registry derives from) from the *.config.json inputs and these layers,
// so each case checks byte-for-byte agreement with the reference implementation.
func TestConvertMatchesDistribution(t *testing.T) {
	tests := []struct {
		desc, file, name, tag string
		layers                []digest.Digest
		wantEmptyLayer        bool
	}{
		{desc: "linux image with an empty layer in the middle, author, comment, HTML in labels",
			file: "linux", name: "library/app", tag: "v1", layers: []digest.Digest{layerA, layerB}, wantEmptyLayer: true},
		{desc: "windows image: the bottom layer's parent stands for rootfs.base_layer",
			file: "windows", name: "nanoserver", tag: "1803", layers: []digest.Digest{layerA, layerB}},
		{desc: "newest history entry is an empty layer: the top entry is throwaway",
			file: "emptytop", name: "arm/app", tag: "latest", layers: []digest.Digest{layerA}, wantEmptyLayer: true},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			got, empty, err := Convert(Image{Name: tc.name, Tag: tc.tag, Config: readTestdata(t, tc.file+".config.json"), Layers: tc.layers})
			if err != nil {
				t.Fatal(err)
			}
			if want := readTestdata(t, tc.file+".schema1.json"); !bytes.Equal(got, want) {
				t.Fatalf("payload differs from distribution's:\n got %s\nwant %s", got, want)
			}
			if empty != tc.wantEmptyLayer {
				t.Fatalf("usesEmptyLayer = %v, want %v", empty, tc.wantEmptyLayer)
			}
		})
	}
}

func TestConvertRefuses(t *testing.T) {
	oneLayer := `"rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]}`
	tests := []struct {
		desc, config string
		layers       []digest.Digest
		want         string
	}{
		{"not JSON", `{`, nil, "not valid JSON"},
		{"a JSON array", `[]`, nil, "not valid JSON"},
		{"no history (what crane and ko images often are)", `{"architecture":"amd64",` + oneLayer + `}`, []digest.Digest{layerA},
			"empty history when trying to create schema1 manifest"},
		{"no rootfs", `{"history":[{"created_by":"x"}]}`, nil, "no rootfs"},
		{"fewer layers than diff_ids", `{"history":[{"created_by":"x"}],` + oneLayer + `}`, nil,
			"number of descriptors and number of layers in rootfs must match: 1 != 0"},
		{"more non-empty history entries than layers", `{"history":[{"created_by":"x"},{"created_by":"y"}],` + oneLayer + `}`,
			[]digest.Digest{layerA}, "too many non-empty layers in History section"},
	}
	for _, tc := range tests {
		t.Run(tc.desc, func(t *testing.T) {
			_, _, err := Convert(Image{Name: "app", Tag: "v1", Config: []byte(tc.config), Layers: tc.layers})
			var ce *ConversionError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a ConversionError containing %q", err, tc.want)
			}
		})
	}
}

func TestEmptyLayerIsTheWellKnownEmptyTar(t *testing.T) {
	b := EmptyLayer()
	if got := digest.FromBytes(b); got != EmptyLayerDigest {
		t.Fatalf("digest %s, want %s", got, EmptyLayerDigest)
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tar, err := io.ReadAll(zr)
	if err != nil || len(tar) != 1024 || !bytes.Equal(tar, make([]byte, 1024)) {
		t.Fatalf("EmptyLayer does not decompress to 1024 zero bytes: %d bytes, %v", len(tar), err)
	}
	b[0] = 0
	if EmptyLayer()[0] != 0x1f {
		t.Fatal("EmptyLayer hands out shared bytes")
	}
}
