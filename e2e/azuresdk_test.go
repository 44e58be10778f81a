package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/acr-emulator/acr-emulator/e2e/harness"
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

// uploadBlob pushes bytes the way the SDK's own upload example does.
func uploadBlob(t *testing.T, ctx context.Context, bc *azcontainerregistry.BlobClient, repo string, data []byte) string {
	t.Helper()
	start, err := bc.StartUpload(ctx, repo, nil)
	if err != nil {
		t.Fatalf("StartUpload: %v", err)
	}
	calc := azcontainerregistry.NewBlobDigestCalculator()
	chunk, err := bc.UploadChunk(ctx, *start.Location, bytes.NewReader(data), calc, nil)
	if err != nil {
		t.Fatalf("UploadChunk: %v", err)
	}
	done, err := bc.CompleteUpload(ctx, *chunk.Location, calc, nil)
	if err != nil {
		t.Fatalf("CompleteUpload: %v", err)
	}
	return *done.DockerContentDigest
}

// sdkClients builds azcontainerregistry clients authenticated with the default world's
// service principal through the emulator's Entra ID (azidentity.ClientSecretCredential).
func sdkClients(t *testing.T, emu *harness.Emulator) (*azcontainerregistry.Client, *azcontainerregistry.BlobClient) {
	t.Helper()
	return sdkClientsWith(t, emu, sdkClientOptions(t, emu))
}

// sdkClientsWith is sdkClients with other client options (the SDK's own retries, say).
func sdkClientsWith(t *testing.T, emu *harness.Emulator, opts azcore.ClientOptions) (*azcontainerregistry.Client, *azcontainerregistry.BlobClient) {
	t.Helper()
	credOpts := opts
	credOpts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: "https://" + emu.RegistryHost() + "/"}
	cred, err := azidentity.NewClientSecretCredential(harness.TenantID, harness.ClientID, harness.ClientSecret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: credOpts, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	endpoint := "https://" + emu.RegistryHost()
	client, err := azcontainerregistry.NewClient(endpoint, cred, &azcontainerregistry.ClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := azcontainerregistry.NewBlobClient(endpoint, cred, &azcontainerregistry.BlobClientOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	return client, blobs
}

// TestAzureSDK drives the registry with the Azure SDK for Go (azcontainerregistry) signed in
// as a service principal: it uploads blobs and manifests (percent-encoding the repository name,
// probing for a 401 challenge with a body-less request first), pages through Link headers,
// reads and updates properties, and deletes.
func TestAzureSDK(t *testing.T) {
	emu := harness.Start(t)
	ctx := context.Background()
	client, blobs := sdkClients(t, emu)
	const repo = "library/hello-world"
	layer := []byte("hello world")
	layerDigest := uploadBlob(t, ctx, blobs, repo, layer)
	config := []byte(`{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	configDigest := uploadBlob(t, ctx, blobs, repo, config)
	manifest := func(annotation string) []byte {
		return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
			`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}],"annotations":{"a":%q}}`,
			configDigest, len(config), layerDigest, len(layer), annotation))
	}
	put := func(tag string, body []byte) (string, error) {
		res, err := client.UploadManifest(ctx, repo, tag, azcontainerregistry.ContentTypeApplicationVndOciImageManifestV1JSON,
			streaming.NopCloser(bytes.NewReader(body)), nil)
		if err != nil {
			return "", err
		}
		return *res.DockerContentDigest, nil
	}
	v1Digest, err := put("1.0.0", manifest("one"))
	if err != nil {
		t.Fatalf("UploadManifest: %v", err)
	}
	if _, err := put("2.0.0", manifest("two")); err != nil {
		t.Fatalf("UploadManifest: %v", err)
	}

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
	if *props.ManifestCount != 2 || *props.TagCount != 2 || *props.RegistryLoginServer != emu.RegistryHost() {
		t.Fatalf("repository properties: manifests %d tags %d registry %s", *props.ManifestCount, *props.TagCount, *props.RegistryLoginServer)
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
	if err != nil || *tag.Tag.Digest != v1Digest {
		t.Fatalf("GetTagProperties: %v", err)
	}
	got, err := client.GetManifest(ctx, repo, "1.0.0", &azcontainerregistry.ClientGetManifestOptions{
		Accept: to.Ptr(string(azcontainerregistry.ContentTypeApplicationVndOciImageManifestV1JSON))})
	if err != nil {
		t.Fatalf("GetManifest: %v", err)
	}
	body, _ := io.ReadAll(got.ManifestData)
	if !bytes.Equal(body, manifest("one")) {
		t.Fatalf("manifest bytes differ: %s", body)
	}
	mprops, err := client.GetManifestProperties(ctx, repo, v1Digest, nil)
	if err != nil {
		t.Fatalf("GetManifestProperties: %v", err)
	}
	if *mprops.Manifest.Architecture != azcontainerregistry.ArtifactArchitectureArm64 || *mprops.Manifest.OperatingSystem != azcontainerregistry.ArtifactOperatingSystemLinux {
		t.Fatalf("manifest platform = %s/%s", *mprops.Manifest.OperatingSystem, *mprops.Manifest.Architecture)
	}
	// A ranged HEAD answers like a plain one; the SDK accepts only 200 here.
	chunk, err := blobs.CheckChunkExists(ctx, repo, layerDigest, "bytes=0-3", nil)
	if err != nil {
		t.Fatalf("CheckChunkExists: %v", err)
	}
	if chunk.ContentLength == nil || *chunk.ContentLength != int64(len(layer)) || chunk.ContentRange != nil {
		t.Fatalf("CheckChunkExists: length %v, range %v; want the whole blob, no range", chunk.ContentLength, chunk.ContentRange)
	}
	blob, err := blobs.GetBlob(ctx, repo, layerDigest, nil)
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	verifier, err := azcontainerregistry.NewDigestValidationReader(layerDigest, blob.BlobData)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := io.ReadAll(verifier); err != nil || !bytes.Equal(b, layer) {
		t.Fatalf("blob bytes: %q, %v", b, err)
	}

	// Lock the tag: pushing over it fails with ACR's disallowed text; unlocking restores it.
	if _, err := client.UpdateTagProperties(ctx, repo, "1.0.0", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
		Value: &azcontainerregistry.TagWriteableProperties{CanWrite: to.Ptr(false)}}); err != nil {
		t.Fatalf("UpdateTagProperties: %v", err)
	}
	if _, err := put("1.0.0", manifest("three")); err == nil || !strings.Contains(err.Error(), "The operation is disallowed") {
		t.Fatalf("push over a locked tag: %v", err)
	}
	if _, err := client.UpdateTagProperties(ctx, repo, "1.0.0", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
		Value: &azcontainerregistry.TagWriteableProperties{CanWrite: to.Ptr(true)}}); err != nil {
		t.Fatalf("UpdateTagProperties: %v", err)
	}
	if _, err := put("1.0.0", manifest("three")); err != nil {
		t.Fatalf("push after unlocking: %v", err)
	}
	if _, err := client.DeleteRepository(ctx, repo, nil); err != nil {
		t.Fatalf("DeleteRepository: %v", err)
	}
	if _, err := client.GetRepositoryProperties(ctx, repo, nil); err == nil || !strings.Contains(err.Error(), "NAME_UNKNOWN") {
		t.Fatalf("repository still there after DeleteRepository: %v", err)
	}
}

// TestManagedIdentity signs the Azure SDK in with azidentity.NewManagedIdentityCredential through
// the App Service protocol (IDENTITY_ENDPOINT + IDENTITY_HEADER, the default world's
// "workstation"), as the system-assigned and as the user-assigned identity, each AcrPush on
// myregistry; then through the IMDS protocol via HTTP_PROXY.
func TestManagedIdentity(t *testing.T) {
	emu := harness.Start(t)
	ctx := context.Background()
	opts := sdkClientOptions(t, emu)
	t.Setenv("IDENTITY_ENDPOINT", "http://"+emu.HTTPAddr+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "acr-emulator-identity-header")
	for name, id := range map[string]azidentity.ManagedIDKind{"system-assigned": nil, "user-assigned": azidentity.ClientID("55555555-5555-5555-5555-555555555555")} {
		t.Run(name, func(t *testing.T) {
			cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts, ID: id})
			if err != nil {
				t.Fatal(err)
			}
			client, err := azcontainerregistry.NewClient("https://"+emu.RegistryHost(), cred, &azcontainerregistry.ClientOptions{ClientOptions: opts})
			if err != nil {
				t.Fatal(err)
			}
			blobs, err := azcontainerregistry.NewBlobClient("https://"+emu.RegistryHost(), cred, &azcontainerregistry.BlobClientOptions{ClientOptions: opts})
			if err != nil {
				t.Fatal(err)
			}
			repo := "mi/" + strings.ReplaceAll(name, "-", "")
			config := []byte(`{"architecture":"amd64","os":"linux"}`)
			cd := uploadBlob(t, ctx, blobs, repo, config)
			body := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[]}`, cd, len(config))
			if _, err := client.UploadManifest(ctx, repo, "v1", azcontainerregistry.ContentTypeApplicationVndOciImageManifestV1JSON,
				streaming.NopCloser(strings.NewReader(body)), nil); err != nil {
				t.Fatalf("UploadManifest: %v", err)
			}
			pager := client.NewListRepositoriesPager(nil)
			page, err := pager.NextPage(ctx)
			if err != nil || len(page.Repositories.Names) == 0 {
				t.Fatalf("ListRepositories: %v", err)
			}
			if _, err := client.UpdateTagProperties(ctx, repo, "v1", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
				Value: &azcontainerregistry.TagWriteableProperties{CanDelete: to.Ptr(false)}}); err != nil {
				t.Fatalf("UpdateTagProperties: %v", err)
			}
			tag, err := client.GetTagProperties(ctx, repo, "v1", nil)
			if err != nil || *tag.Tag.ChangeableAttributes.CanDelete {
				t.Fatalf("GetTagProperties after update: %v", err)
			}
		})
	}
	// An identity not attached to the resource is a 400 with a clear message, not a 70 s retry.
	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts, ID: azidentity.ClientID("99999999-9999-9999-9999-999999999999")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://containerregistry.azure.net/.default"}}); err == nil || !strings.Contains(err.Error(), "isn't assigned") {
		t.Fatalf("unknown identity: %v", err)
	}
}

// TestIMDS fetches a managed-identity token the way code on an Azure VM does, through the IMDS
// protocol; the emulator's HTTP listener stands in for 169.254.169.254 via an HTTP proxy.
func TestIMDS(t *testing.T) {
	emu := harness.Start(t)
	proxy, _ := url.Parse("http://" + emu.HTTPAddr)
	client := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(proxy)}}
	req, _ := http.NewRequest("GET", "http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://containerregistry.azure.net", nil)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("without Metadata: true: %d, want 400 (what DefaultAzureCredential's probe expects)", res.StatusCode)
	}
	req.Header.Set("Metadata", "true")
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
		t.Fatalf("IMDS token: %d %v", res.StatusCode, err)
	}
	if body["token_type"] != "Bearer" || body["access_token"] == "" || body["expires_in"] == "" || body["resource"] != "https://containerregistry.azure.net" {
		t.Fatalf("IMDS response = %v", body)
	}
	// The token is an Entra token the registry accepts: exchange it.
	if status, rt := exchange(t, emu, body["access_token"]); status != 200 || rt == "" {
		t.Fatalf("exchange of the IMDS token: %d", status)
	}
}
