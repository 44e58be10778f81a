package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func TestSamplePush(t *testing.T) {
	emu := emulatortest.New(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, emu.CA().CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	host := emu.Registry().Host
	var stdout, stderr bytes.Buffer
	code := run([]string{"sample", "push", "--registry", host, "--repo", "samples/hello", "--platforms", "linux/amd64,linux/arm64,linux/arm/v7", "--ca", ca}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	printed := regexp.MustCompile(`(?m)^\s+(\S+)\s+(sha256:[0-9a-f]{64})\s+(.*)$`).FindAllStringSubmatch(stdout.String(), -1)
	if len(printed) != 2 || !strings.Contains(stdout.String(), "crane auth login "+host) || !strings.Contains(stdout.String(), "export SSL_CERT_FILE="+ca) {
		t.Fatalf("stdout:\n%s", stdout.String())
	}
	u, p := emu.Admin()
	opts := []remote.Option{remote.WithTransport(emu.Transport()), remote.WithAuth(&authn.Basic{Username: u, Password: p})}
	img, err := remote.Image(ref(t, host+"/samples/hello:v1"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); d.String() != printed[0][2] || printed[0][1] != host+"/samples/hello:v1" {
		t.Fatalf("v1 is %s, printed %v", d, printed[0])
	}
	if err := validate.Image(img); err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref(t, host+"/samples/hello:multiarch"), opts...)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := idx.IndexManifest()
	if d, _ := idx.Digest(); d.String() != printed[1][2] || len(m.Manifests) != 3 || m.Manifests[2].Platform.Variant != "v7" {
		t.Fatalf("index %s %+v, printed %v", d, m, printed[1])
	}
	// The same sample twice is the same content: digests are stable.
	var again bytes.Buffer
	if code := run([]string{"sample", "push", "--registry", host, "--repo", "samples/hello", "--platforms", "linux/amd64,linux/arm64,linux/arm/v7", "--ca", ca}, &again, &stderr); code != 0 ||
		again.String() != stdout.String() {
		t.Fatalf("second push: exit %d\n%s", code, again.String())
	}
}

func TestSamplePushMistakes(t *testing.T) {
	emu := emulatortest.New(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, emu.CA().CertPEM(), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sample"}, 2, "usage: acr-emulator sample push"},
		{[]string{"sample", "push", "--platforms", "linux/amd64,Windows"}, 2, `--platforms[1]: "Windows" is not a platform`},
		{[]string{"sample", "push", "--registry", emu.Registry().Host, "--ca", ca, "--password", "wrong"}, 1, "UNAUTHORIZED"},
		// No --ca, an emulator that does not serve its CA, an empty data directory.
		{[]string{"sample", "push", "--registry", emu.Registry().Host, "--emulator", "http://127.0.0.1:1", "--data-dir", t.TempDir()}, 1, "cannot find the emulator's CA"},
		// The data directory's CA is found.
		{[]string{"sample", "push", "--registry", emu.Registry().Host, "--emulator", "http://127.0.0.1:1", "--data-dir", filepath.Dir(ca)}, 0, ""},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d, %q", tc.args, code, stderr.String(), tc.code, tc.want)
		}
	}
}

func ref(t *testing.T, s string) name.Reference {
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
