package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/acr-emulator/acr-emulator/e2e/harness"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func sdkClientOptions(t *testing.T, emu *harness.Emulator) azcore.ClientOptions {
	t.Helper()
	pem, err := os.ReadFile(emu.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("ca.pem holds no certificate")
	}
	return azcore.ClientOptions{
		Transport: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

// TestAzureSDK drives the registry with the Azure SDK for Go (azcontainerregistry), which
// percent-encodes repository names and pages through Link headers. Anonymous reads for now:
// the registry does not ask for authentication yet.
func TestAzureSDK(t *testing.T) {
	emu := harness.Start(t)
	ctx := context.Background()
	endpoint := "https://" + emu.RegistryHost()
	opts := sdkClientOptions(t, emu)
	client, err := azcontainerregistry.NewClient(endpoint, nil, &azcontainerregistry.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := azcontainerregistry.NewBlobClient(endpoint, nil, &azcontainerregistry.BlobClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	const repo = "library/hello-world"
	// The SDK's writes first send a body-less request to collect a 401 challenge; until the
	// registry authenticates (issue 4) they cannot work, so content is pushed with ggcr.
	transport := opts.Transport.(*http.Client).Transport
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{Architecture: "arm64", OS: "linux", RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	img2, _ := random.Image(512, 1)
	for tag, im := range map[string]v1.Image{"1.0.0": img, "2.0.0": img2} {
		ref, err := name.ParseReference(emu.RegistryHost() + "/" + repo + ":" + tag)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, im, remote.WithTransport(transport)); err != nil {
			t.Fatalf("push %s: %v", tag, err)
		}
	}
	d1, _ := img.Digest()
	v1Digest := d1.String()
	rawManifest, _ := img.RawManifest()
	layers, _ := img.Layers()
	layerDigest, _ := layers[0].Digest()

	var repos []string
	for pager := client.NewListRepositoriesPager(&azcontainerregistry.ClientListRepositoriesOptions{MaxNum: to.Ptr[int32](1)}); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListRepositories: %v", err)
		}
		for _, r := range page.Repositories.Names {
			repos = append(repos, *r)
		}
	}
	if len(repos) != 1 || repos[0] != repo {
		t.Fatalf("repositories = %v", repos)
	}
	props, err := client.GetRepositoryProperties(ctx, repo, nil)
	if err != nil {
		t.Fatalf("GetRepositoryProperties: %v", err)
	}
	if *props.ManifestCount != 2 || *props.TagCount != 2 || *props.Name != repo || *props.RegistryLoginServer != emu.RegistryHost() {
		t.Fatalf("repository properties: manifests %d tags %d name %s registry %s", *props.ManifestCount, *props.TagCount, *props.Name, *props.RegistryLoginServer)
	}

	var tags []string
	for pager := client.NewListTagsPager(repo, &azcontainerregistry.ClientListTagsOptions{MaxNum: to.Ptr[int32](1)}); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListTags: %v", err)
		}
		for _, tag := range page.Tags {
			tags = append(tags, *tag.Name)
		}
	}
	if strings.Join(tags, ",") != "1.0.0,2.0.0" {
		t.Fatalf("tags over two pages = %v", tags)
	}

	tag, err := client.GetTagProperties(ctx, repo, "1.0.0", nil)
	if err != nil {
		t.Fatalf("GetTagProperties: %v", err)
	}
	if *tag.Tag.Digest != v1Digest {
		t.Fatalf("tag digest %s, want %s", *tag.Tag.Digest, v1Digest)
	}
	got, err := client.GetManifest(ctx, repo, "1.0.0", &azcontainerregistry.ClientGetManifestOptions{
		Accept: to.Ptr(string(azcontainerregistry.ContentTypeApplicationVndDockerDistributionManifestV2JSON))})
	if err != nil {
		t.Fatalf("GetManifest: %v", err)
	}
	body, _ := io.ReadAll(got.ManifestData)
	if !bytes.Equal(body, rawManifest) || *got.DockerContentDigest != v1Digest {
		t.Fatalf("manifest bytes or digest differ: %s", body)
	}
	exists, err := blobs.CheckBlobExists(ctx, repo, layerDigest.String(), nil)
	if err != nil || *exists.ContentLength <= 0 {
		t.Fatalf("CheckBlobExists: %v", err)
	}
	blob, err := blobs.GetBlob(ctx, repo, layerDigest.String(), nil)
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	verifier, err := azcontainerregistry.NewDigestValidationReader(layerDigest.String(), blob.BlobData)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(verifier); err != nil {
		t.Fatalf("blob bytes do not match their digest: %v", err)
	}
	mprops, err := client.GetManifestProperties(ctx, repo, v1Digest, nil)
	if err != nil {
		t.Fatalf("GetManifestProperties: %v", err)
	}
	if *mprops.Manifest.Architecture != azcontainerregistry.ArtifactArchitectureArm64 || *mprops.Manifest.OperatingSystem != azcontainerregistry.ArtifactOperatingSystemLinux {
		t.Fatalf("manifest platform = %s/%s", *mprops.Manifest.OperatingSystem, *mprops.Manifest.Architecture)
	}

	if _, err := client.DeleteRepository(ctx, repo, nil); err != nil {
		t.Fatalf("DeleteRepository: %v", err)
	}
	if _, err := client.GetRepositoryProperties(ctx, repo, nil); err == nil || !strings.Contains(err.Error(), "NAME_UNKNOWN") {
		t.Fatalf("repository still there after DeleteRepository: %v", err)
	}
}
