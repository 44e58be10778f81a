package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/emulator/images"
	"github.com/acr-emulator/acr-emulator/emulator/world"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// sampleCmd serves `sample push`: something to pull for a user who has no image yet. It pushes
// a small generated image and a multi-arch index through the registry's real API over TLS,
// as any client does (admin credentials, ACR's token exchange), and says how to pull them.
func sampleCmd(args []string, stdout, stderr io.Writer) int {
	const use = "usage: acr-emulator sample push [--registry HOST] [--repo NAME] [--platforms LIST] [--username U --password P] [--ca FILE]"
	if len(args) == 0 || args[0] != "push" {
		fmt.Fprintln(stderr, use)
		return 2
	}
	fs := flag.NewFlagSet("acr-emulator sample push", flag.ContinueOnError)
	fs.SetOutput(stderr)
	registry := fs.String("registry", env("ACR_EMULATOR_REGISTRY", "localhost:8443"), "login server to push to (ACR_EMULATOR_REGISTRY)")
	repo := fs.String("repo", "hello", "repository")
	platforms := fs.String("platforms", "linux/amd64,linux/arm64", "platforms of the multi-arch index, comma-separated")
	username := fs.String("username", "myregistry", "registry username (the default world's admin user)")
	password := fs.String("password", "acr-emulator-admin-password", "registry password")
	caFile := fs.String("ca", env("ACR_EMULATOR_CA", ""), "the emulator's CA certificate (default: from --emulator, else the data directory's ca.pem) (ACR_EMULATOR_CA)")
	control := fs.String("emulator", env("ACR_EMULATOR_HTTP_URL", "http://localhost:8080"), "the emulator's plain HTTP listener, which serves its CA (ACR_EMULATOR_HTTP_URL)")
	dataDir := fs.String("data-dir", env("ACR_EMULATOR_DATA_DIR", defaultDataDir()), "the emulator's data directory, holding ca.pem (ACR_EMULATOR_DATA_DIR)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, use)
		return 2
	}
	plats := strings.Split(*platforms, ",")
	sample := []world.Image{
		{Repository: *repo, Tags: []string{"v1"}, Generate: &world.Generated{Layers: 2, LayerSize: 4 << 10, Platforms: plats[:1], Seed: "acr-emulator sample"}},
		{Repository: *repo, Tags: []string{"multiarch"}, Generate: &world.Generated{Layers: 1, LayerSize: 4 << 10, Platforms: plats, Index: true, Seed: "acr-emulator sample"}},
	}
	for i := range sample {
		if err := world.CheckImage(&sample[i]); err != nil {
			fmt.Fprintln(stderr, "acr-emulator:", strings.ReplaceAll(err.Error(), "image.generate.platforms", "--platforms"))
			return 2
		}
	}
	pool, from, err := emulatorCA(*caFile, *control, *dataDir)
	if err != nil {
		fmt.Fprintln(stderr, "acr-emulator:", err)
		return 1
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	r, err := name.NewRepository(*registry + "/" + *repo)
	if err != nil {
		fmt.Fprintln(stderr, "acr-emulator: --registry/--repo:", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	type pushed struct {
		ref, digest, what string
	}
	var out []pushed
	for _, img := range sample {
		set, err := images.Load(img, func(p string) string { return p })
		if err == nil {
			err = images.Push(ctx, set, r, remote.WithTransport(tr), remote.WithAuth(&authn.Basic{Username: *username, Password: *password}))
		}
		if err != nil {
			fmt.Fprintf(stderr, "acr-emulator: pushing %s:%s: %v\n", *repo, img.Tags[0], err)
			return 1
		}
		top := set.Tops()[0]
		what := fmt.Sprintf("image, %s, %d layers", top.Platforms[0], img.Generate.Layers)
		if top.MediaType == images.OCIIndex {
			what = "multi-arch index: " + strings.Join(top.Platforms, ", ")
		}
		out = append(out, pushed{r.Tag(img.Tags[0]).String(), top.Digest.String(), what})
	}
	fmt.Fprintf(stdout, "Pushed to %s as %s (TLS verified with the CA from %s):\n", *registry, *username, from)
	for _, p := range out {
		fmt.Fprintf(stdout, "  %-40s %s  %s\n", p.ref, p.digest, p.what)
	}
	ref := out[1].ref
	fmt.Fprintf(stdout, "\nPull them (crane, oras and regctl are in build/tools/bin after make tools):\n")
	fmt.Fprintf(stdout, "  %s\n", caHint(from))
	fmt.Fprintf(stdout, "  crane auth login %s -u %s -p %s\n", *registry, *username, *password)
	fmt.Fprintf(stdout, "  crane manifest %s\n", ref)
	fmt.Fprintf(stdout, "  crane pull --platform %s %s %s.tar\n", plats[len(plats)-1], ref, *repo)
	fmt.Fprintf(stdout, "  docker pull %s   (docker trusts /etc/docker/certs.d/%s/ca.crt, a copy of the CA)\n", out[0].ref, *registry)
	return 0
}

// emulatorCA finds the emulator's CA: the file given, else the one the running emulator
// serves on its plain HTTP listener, else its data directory's ca.pem.
func emulatorCA(file, control, dataDir string) (*x509.CertPool, string, error) {
	var tried []string
	load := func(b []byte, from string) (*x509.CertPool, string, error) {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, "", fmt.Errorf("%s holds no PEM certificate", from)
		}
		return pool, from, nil
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, "", fmt.Errorf("--ca: %w", err)
		}
		return load(b, file)
	}
	u := strings.TrimSuffix(control, "/") + "/_emulator/ca.pem"
	client := &http.Client{Timeout: 5 * time.Second}
	if res, err := client.Get(u); err == nil {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			return load(b, u)
		}
		tried = append(tried, fmt.Sprintf("%s answered %s", u, res.Status))
	} else {
		tried = append(tried, fmt.Sprintf("%s: %v", u, errors.Unwrap(err)))
	}
	p := filepath.Join(dataDir, "ca.pem")
	b, err := os.ReadFile(p)
	if err == nil {
		return load(b, p)
	}
	tried = append(tried, err.Error())
	return nil, "", fmt.Errorf("cannot find the emulator's CA (%s): give --ca FILE", strings.Join(tried, "; "))
}

// caHint says how to trust the CA, for crane.
func caHint(from string) string {
	if strings.HasPrefix(from, "http") {
		return "curl -so acr-emulator-ca.pem " + from + " && export SSL_CERT_FILE=$PWD/acr-emulator-ca.pem"
	}
	return "export SSL_CERT_FILE=" + from
}
