package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/acr-emulator/acr-emulator/e2e/harness"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestDocker pushes an image with a real docker daemon, removes it locally, pulls it back and
// checks the daemon recorded the registry's digest.
func TestDocker(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	dk := harness.StartDocker(t)
	emu := harness.Start(t)

	img, err := random.Image(8<<10, 2)
	if err != nil {
		t.Fatal(err)
	}
	local, _ := name.NewTag("e2e.local/app:v1")
	archive := filepath.Join(t.TempDir(), "img.tar")
	if err := tarball.WriteToFile(archive, local, img); err != nil {
		t.Fatal(err)
	}
	dk.Run(t, "load", "-i", archive)
	dk.Run(t, "login", emu.RegistryHost(), "-u", harness.AdminUser, "-p", harness.AdminPassword)
	ref := emu.RegistryHost() + "/dock/app:v1"
	dk.Run(t, "tag", local.String(), ref)
	push := dk.Run(t, "push", ref)
	digest := strings.TrimSpace(emu.Run(t, crane, "digest", ref))
	if !strings.Contains(push, digest) {
		t.Fatalf("docker push reported no digest %s:\n%s", digest, push)
	}
	dk.Run(t, "rmi", ref, local.String())
	pull := dk.Run(t, "pull", ref)
	if !strings.Contains(pull, digest) {
		t.Fatalf("docker pull reported no digest %s:\n%s", digest, pull)
	}
	repoDigests := dk.Run(t, "image", "inspect", "--format", "{{json .RepoDigests}}", ref)
	if !strings.Contains(repoDigests, emu.RegistryHost()+"/dock/app@"+digest) {
		t.Fatalf("RepoDigests = %s, want %s", repoDigests, digest)
	}
	out, err := dk.TryRun("pull", emu.RegistryHost()+"/dock/app:missing")
	if err == nil || !strings.Contains(out, "not found") {
		t.Fatalf("pulling a missing tag: err=%v\n%s", err, out)
	}
}
