// Package bench compares acr-emulator's registry with go-containerregistry's in-memory
// registry (pkg/registry) under the same client, side by side: `make bench`.
//
// Each benchmark has one sub-benchmark per server so `go test -bench` output (or benchstat)
// reads as a comparison. Servers run in-process over loopback HTTP; "acr-emulator-tls" adds the
// emulator's whole stack (TLS listener, dispatch, middleware) as users see it.
package bench

import (
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	acrregistry "github.com/acr-emulator/acr-emulator/emulator/registry"
	"github.com/acr-emulator/acr-emulator/emulator/store"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

type target struct {
	name  string
	host  func(b *testing.B) (string, http.RoundTripper, remote.Option)
	nameO []name.Option
}

func targets() []target {
	plain := func(h http.Handler) func(b *testing.B) (string, http.RoundTripper, remote.Option) {
		return func(b *testing.B) (string, http.RoundTripper, remote.Option) {
			srv := httptest.NewServer(h)
			b.Cleanup(srv.Close)
			return strings.TrimPrefix(srv.URL, "http://"), http.DefaultTransport, remote.WithAuth(authn.Anonymous)
		}
	}
	return []target{
		{name: "acr-emulator", host: func(b *testing.B) (string, http.RoundTripper, remote.Option) {
			return plain(acrregistry.New(store.New(), "bench").Handler())(b)
		}, nameO: []name.Option{name.Insecure}},
		{name: "ggcr-registry", host: func(b *testing.B) (string, http.RoundTripper, remote.Option) {
			return plain(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))(b)
		}, nameO: []name.Option{name.Insecure}},
		// The emulator's plain HTTP listener: the same registry behind the token gate, so the
		// difference to "acr-emulator" is what authentication costs.
		{name: "acr-emulator-auth", host: func(b *testing.B) (string, http.RoundTripper, remote.Option) {
			emu := emulatortest.New(b)
			u, p := emu.Admin()
			return strings.TrimPrefix(emu.HTTPURL(), "http://"), http.DefaultTransport, remote.WithAuth(&authn.Basic{Username: u, Password: p})
		}, nameO: []name.Option{name.Insecure}},
		// The whole emulator as users see it: TLS, the token gate (admin user, token service).
		{name: "acr-emulator-tls-auth", host: func(b *testing.B) (string, http.RoundTripper, remote.Option) {
			emu := emulatortest.New(b)
			u, p := emu.Admin()
			return emu.Registry().Host, emu.Transport(), remote.WithAuth(&authn.Basic{Username: u, Password: p})
		}},
	}
}

func image(b *testing.B, layerSize int64, layers int64) v1.Image {
	img, err := random.Image(layerSize, layers)
	if err != nil {
		b.Fatal(err)
	}
	return img
}

// BenchmarkPush pushes a fresh 3 x 256 KiB image per iteration (no layer is ever reused).
func BenchmarkPush(b *testing.B) {
	for _, tg := range targets() {
		b.Run(tg.name, func(b *testing.B) {
			host, rt, auth := tg.host(b)
			imgs := make([]v1.Image, b.N)
			for i := range imgs {
				imgs[i] = image(b, 256<<10, 3)
			}
			ref, _ := name.ParseReference(host+"/bench/push:v1", tg.nameO...)
			b.SetBytes(3 * 256 << 10)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := remote.Write(ref, imgs[i], remote.WithTransport(rt), auth); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPull pulls one 3 x 256 KiB image (manifest, config and every layer, read fully).
func BenchmarkPull(b *testing.B) {
	for _, tg := range targets() {
		b.Run(tg.name, func(b *testing.B) {
			host, rt, auth := tg.host(b)
			ref, _ := name.ParseReference(host+"/bench/pull:v1", tg.nameO...)
			if err := remote.Write(ref, image(b, 256<<10, 3), remote.WithTransport(rt), auth); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(3 * 256 << 10)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				img, err := remote.Image(ref, remote.WithTransport(rt), auth)
				if err != nil {
					b.Fatal(err)
				}
				layers, err := img.Layers()
				if err != nil {
					b.Fatal(err)
				}
				for _, l := range layers {
					rc, err := l.Compressed()
					if err != nil {
						b.Fatal(err)
					}
					buf := make([]byte, 32<<10)
					for {
						if _, err := rc.Read(buf); err != nil {
							break
						}
					}
					rc.Close()
				}
			}
		})
	}
}

// BenchmarkPullOneLayer pulls a one-layer image with a fresh client each time (ping, token,
// manifest, config, layer): the "acr-emulator-auth" minus "acr-emulator" difference is the cost
// of authentication per pull.
func BenchmarkPullOneLayer(b *testing.B) {
	for _, tg := range targets() {
		b.Run(tg.name, func(b *testing.B) {
			host, rt, auth := tg.host(b)
			ref, _ := name.ParseReference(host+"/bench/one:v1", tg.nameO...)
			if err := remote.Write(ref, image(b, 4<<10, 1), remote.WithTransport(rt), auth); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				img, err := remote.Image(ref, remote.WithTransport(rt), auth)
				if err != nil {
					b.Fatal(err)
				}
				layers, _ := img.Layers()
				rc, err := layers[0].Compressed()
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, rc)
				rc.Close()
			}
		})
	}
}

// BenchmarkManifestHead is the request a `docker pull` of an up-to-date image makes.
func BenchmarkManifestHead(b *testing.B) {
	for _, tg := range targets() {
		b.Run(tg.name, func(b *testing.B) {
			host, rt, auth := tg.host(b)
			ref, _ := name.ParseReference(host+"/bench/head:v1", tg.nameO...)
			if err := remote.Write(ref, image(b, 1024, 1), remote.WithTransport(rt), auth); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := remote.Head(ref, remote.WithTransport(rt), auth); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
