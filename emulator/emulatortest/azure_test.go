package emulatortest_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// repositories lists a registry's repositories with the Azure SDK.
func repositories(ctx context.Context, c *azcontainerregistry.Client) ([]string, error) {
	var out []string
	for pager := c.NewListRepositoriesPager(nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, n := range page.Repositories.Names {
			out = append(out, *n)
		}
	}
	return out, nil
}

func remoteAuth(user, password string) remote.Option {
	return remote.WithAuth(&authn.Basic{Username: user, Password: password})
}

// jwtClaims decodes a token's claims without verifying it (the registry did).
func jwtClaims(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func statusOf(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}

// The fixture's SDK clients work as they come: the data-plane clients as the service principal,
// and the management plane's client factory.
func TestSDKClients(t *testing.T) {
	img := randomImage(t)
	emu := emulatortest.New(t, emulatortest.WithImage("myregistry", "app:v1", img))
	ctx := context.Background()
	client := emu.RegistryClient("myregistry", emu.Credential())
	repos, err := repositories(ctx, client)
	if err != nil || !slices.Equal(repos, []string{"app"}) {
		t.Fatalf("repositories = %v, %v", repos, err)
	}
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	blob, err := emu.BlobClient("myregistry", emu.Credential()).GetBlob(ctx, "app", d.String(), nil)
	if err != nil {
		t.Fatalf("GetBlob: %v", err)
	}
	got, _ := io.ReadAll(blob.BlobData)
	blob.BlobData.Close()
	want, _ := layers[0].Compressed()
	wantBytes, _ := io.ReadAll(want)
	if string(got) != string(wantBytes) {
		t.Fatal("the blob read through BlobClient differs from the pushed layer")
	}

	registries := emu.ARMClientFactory(emu.Credential()).NewRegistriesClient()
	reg, err := registries.Get(ctx, emu.World().ResourceGroup, "myregistry", nil)
	if err != nil {
		t.Fatalf("ARM Get: %v", err)
	}
	if *reg.Properties.PublicNetworkAccess != armcontainerregistry.PublicNetworkAccessEnabled || *reg.ID != emu.World().RegistryID("myregistry") {
		t.Fatalf("registry = %s, public access %s", *reg.ID, *reg.Properties.PublicNetworkAccess)
	}
	if emu.Credential() != emu.Credential() {
		t.Fatal("Credential() makes a new credential each call: clients would not share a token cache")
	}
}

// ManagedIdentityCredential is azidentity's real credential on the IMDS protocol: the
// workstation's system-assigned identity and the user-assigned demo-identity (both AcrPush in
// the default world) push; a declared identity can do nothing until a role is assigned to it.
func TestManagedIdentityCredential(t *testing.T) {
	emu := emulatortest.New(t,
		emulatortest.WithManagedIdentity("puller"),
		emulatortest.WithManagedIdentity("nobody"),
		emulatortest.WithRoleAssignment("puller", "AcrPull", "myregistry"))
	ctx := context.Background()
	img := randomImage(t)
	for repo, id := range map[string][]string{"mi/system": nil, "mi/user": {"demo-identity"}} {
		client := emu.RegistryClient("myregistry", emu.ManagedIdentityCredential(id...))
		// AcrPush: the upload works through the SDK's own blob client, and the repository lists.
		blobs := emu.BlobClient("myregistry", emu.ManagedIdentityCredential(id...))
		start, err := blobs.StartUpload(ctx, repo, nil)
		if err != nil {
			t.Fatalf("%v: StartUpload: %v", id, err)
		}
		calc := azcontainerregistry.NewBlobDigestCalculator()
		up, err := blobs.UploadChunk(ctx, *start.Location, strings.NewReader("layer"), calc, nil)
		if err != nil {
			t.Fatalf("%v: UploadChunk: %v", id, err)
		}
		if _, err := blobs.CompleteUpload(ctx, *up.Location, calc, nil); err != nil {
			t.Fatalf("%v: CompleteUpload: %v", id, err)
		}
		if _, err := client.GetRepositoryProperties(ctx, repo, nil); err != nil {
			t.Fatalf("%v: GetRepositoryProperties: %v", id, err)
		}
	}
	// The token really is the identity's: the claims the registry trusts name it.
	tok, err := emu.ManagedIdentityCredential("puller").GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://containerregistry.azure.net/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	p, _ := emu.Store().PrincipalByResourceID(emu.World().ManagedIdentityID("puller"))
	if claims := jwtClaims(t, tok.Token); claims["oid"] != p.ObjectID || claims["xms_mirid"] != emu.World().ManagedIdentityID("puller") {
		t.Fatalf("puller's token claims = %v", claims)
	}

	// AcrPull may pull, not push; no role, nothing.
	ref, _ := name.ParseReference(emu.Registry().Host + "/app:v1")
	u, pw := emu.Admin()
	if err := remote.Write(ref, img, remote.WithTransport(emu.Transport()), remoteAuth(u, pw)); err != nil {
		t.Fatal(err)
	}
	puller := emu.RegistryClient("myregistry", emu.ManagedIdentityCredential("puller"))
	if _, err := puller.GetTagProperties(ctx, "app", "v1", nil); err != nil {
		t.Fatalf("AcrPull identity reads a tag: %v", err)
	}
	if _, err := puller.UpdateTagProperties(ctx, "app", "v1", &azcontainerregistry.ClientUpdateTagPropertiesOptions{
		Value: &azcontainerregistry.TagWriteableProperties{CanDelete: to.Ptr(false)}}); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("AcrPull identity updates a tag: %v", err)
	}
	// The SDK retries a refused token exchange (about 9 s); a test that expects it says so.
	noRetry := policy.WithRetryOptions(ctx, policy.RetryOptions{MaxRetries: -1})
	nobody := emu.RegistryClient("myregistry", emu.ManagedIdentityCredential("nobody"))
	if _, err := nobody.GetTagProperties(noRetry, "app", "v1", nil); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("identity without a role reads a tag: %v", err)
	}
}

// A declared service principal signs in with its own secret and has only the roles declared.
func TestServicePrincipalCredential(t *testing.T) {
	emu := emulatortest.New(t,
		emulatortest.WithServicePrincipal("ci"),
		emulatortest.WithServicePrincipal("reader"),
		emulatortest.WithRoleAssignment("ci", "AcrPush", "myregistry"),
		emulatortest.WithRoleAssignment("reader", "Reader", "resourceGroup"),
		emulatortest.WithImage("myregistry", "app:v1", randomImage(t)))
	ctx := context.Background()
	tenant, id, secret := emu.ServicePrincipal("ci")
	if tenant != emu.World().TenantID || id == "" || secret == "" {
		t.Fatalf("ServicePrincipal(ci) = %q %q %q", tenant, id, secret)
	}
	if _, id2, _ := emu.ServicePrincipal(); id2 != "33333333-3333-3333-3333-333333333333" {
		t.Fatalf("the first service principal is %s, not the default world's", id2)
	}
	if repos, err := repositories(ctx, emu.RegistryClient("myregistry", emu.Credential("ci"))); err != nil || !slices.Equal(repos, []string{"app"}) {
		t.Fatalf("ci lists %v, %v", repos, err)
	}
	// Reader on the resource group reads the registry through ARM, and pulls (ACR's Reader
	// role includes pull), but changes nothing.
	registries := emu.ARMClientFactory(emu.Credential("reader")).NewRegistriesClient()
	if _, err := registries.Get(ctx, emu.World().ResourceGroup, "myregistry", nil); err != nil {
		t.Fatalf("Reader gets the registry: %v", err)
	}
	poller, err := registries.BeginUpdate(ctx, emu.World().ResourceGroup, "myregistry", armcontainerregistry.RegistryUpdateParameters{
		Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{PublicNetworkAccess: to.Ptr(armcontainerregistry.PublicNetworkAccessDisabled)}}, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, nil)
	}
	if statusOf(err) != http.StatusForbidden || !strings.Contains(err.Error(), "AuthorizationFailed") {
		t.Fatalf("Reader updates the registry: %v", err)
	}
	reader := emu.RegistryClient("myregistry", emu.Credential("reader"))
	if _, err := reader.GetTagProperties(ctx, "app", "v1", nil); err != nil {
		t.Fatalf("Reader reads a tag: %v", err)
	}
	if _, err := reader.DeleteRepository(ctx, "app", nil); statusOf(err) != http.StatusUnauthorized {
		t.Fatalf("Reader deletes a repository: %v", err)
	}
}

// An environment that sends azidentity's managed identity elsewhere fails the test with the
// reason; IDENTITY_ENDPOINT naming the fixture itself works (the App Service protocol).
func TestManagedIdentityEnvironment(t *testing.T) {
	emu := emulatortest.New(t)
	t.Setenv("IDENTITY_ENDPOINT", "http://127.0.0.1:1/msi/token")
	t.Setenv("IDENTITY_HEADER", "acr-emulator-identity-header")
	if msg := fails(t, func(tb testing.TB) { emulatortest.New(tb).ManagedIdentityCredential() }); !strings.Contains(msg, "IDENTITY_ENDPOINT") {
		t.Fatalf("ManagedIdentityCredential with another IDENTITY_ENDPOINT: %q", msg)
	}
	t.Setenv("IDENTITY_ENDPOINT", emu.HTTPURL()+"/msi/token")
	if _, err := emu.ManagedIdentityCredential("demo-identity").GetToken(context.Background(), policy.TokenRequestOptions{
		Scopes: []string{"https://containerregistry.azure.net/.default"}}); err != nil {
		t.Fatalf("through this fixture's IDENTITY_ENDPOINT: %v", err)
	}
}
