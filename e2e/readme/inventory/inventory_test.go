package inventory_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/acr-emulator/acr-emulator/e2e/readme/inventory"
	"github.com/acr-emulator/acr-emulator/emulator/emulatortest"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

func TestTagsOfALockedRegistry(t *testing.T) {
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	emu := emulatortest.New(t, emulatortest.WithImage("myregistry", "app:v1", img))
	ctx := context.Background()
	client := emu.RegistryClient("myregistry", emu.Credential())
	registries := emu.ARMClientFactory(emu.Credential()).NewRegistriesClient()
	setPublicAccess := func(access armcontainerregistry.PublicNetworkAccess) {
		t.Helper()
		poller, err := registries.BeginUpdate(ctx, "demo-rg", "myregistry", armcontainerregistry.RegistryUpdateParameters{
			Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{PublicNetworkAccess: to.Ptr(access)}}, nil)
		if err == nil {
			_, err = poller.PollUntilDone(ctx, nil)
		}
		if err != nil {
			t.Fatalf("public network access %s: %v", access, err)
		}
	}

	if tags, err := inventory.Tags(ctx, client, "app"); err != nil || !slices.Equal(tags, []string{"v1"}) {
		t.Fatalf("Tags = %v, %v", tags, err)
	}

	// Locked down (az acr update --public-network-enabled false), the registry refuses this
	// machine with ACR's 403 before any authentication.
	setPublicAccess(armcontainerregistry.PublicNetworkAccessDisabled)
	_, err = inventory.Tags(ctx, client, "app")
	var denied *azcore.ResponseError
	if !errors.As(err, &denied) || denied.StatusCode != http.StatusForbidden ||
		!strings.Contains(err.Error(), "client with IP '127.0.0.1' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.") {
		t.Fatalf("Tags of a locked registry: %v", err)
	}

	// A trusted service still pulls from it: ACR import copies app:v1 to app:imported.
	poller, err := registries.BeginImportImage(ctx, "demo-rg", "myregistry", armcontainerregistry.ImportImageParameters{
		Source: &armcontainerregistry.ImportSource{
			ResourceID:  to.Ptr(emu.World().RegistryID("myregistry")),
			SourceImage: to.Ptr("app:v1"),
		},
		TargetTags: []*string{to.Ptr("app:imported")},
	}, nil)
	if err == nil {
		_, err = poller.PollUntilDone(ctx, nil)
	}
	if err != nil {
		t.Fatalf("import from the locked registry: %v", err)
	}

	setPublicAccess(armcontainerregistry.PublicNetworkAccessEnabled)
	if tags, err := inventory.Tags(ctx, client, "app"); err != nil || !slices.Equal(tags, []string{"imported", "v1"}) {
		t.Fatalf("Tags after the import = %v, %v", tags, err)
	}
}
