// Command armsdk sets myregistry's public network access (Disabled or Enabled) through ARM
// with the Go management SDK, as `az acr update --public-network-enabled` does.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"
	"net/http"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
)

func main() {
	access := armcontainerregistry.PublicNetworkAccessDisabled
	if len(os.Args) > 1 {
		access = armcontainerregistry.PublicNetworkAccess(os.Args[1])
	}
	pem, err := os.ReadFile(os.ExpandEnv("$HOME/.acr-emulator/ca.pem"))
	if err != nil {
		log.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		log.Fatal("ca.pem holds no certificate")
	}
	opts := azcore.ClientOptions{
		Cloud: cloud.Configuration{
			ActiveDirectoryAuthorityHost: "https://localhost:8443/",
			Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
				cloud.ResourceManager: {Endpoint: "https://localhost:8443", Audience: "https://management.azure.com"},
			},
		},
		Transport: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
	}
	cred, err := azidentity.NewClientSecretCredential("11111111-1111-1111-1111-111111111111",
		"33333333-3333-3333-3333-333333333333", "acr-emulator-client-secret",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: true})
	if err != nil {
		log.Fatal(err)
	}
	factory, err := armcontainerregistry.NewClientFactory("22222222-2222-2222-2222-222222222222", cred,
		&arm.ClientOptions{ClientOptions: opts})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	poller, err := factory.NewRegistriesClient().BeginUpdate(ctx, "demo-rg", "myregistry",
		armcontainerregistry.RegistryUpdateParameters{Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{
			PublicNetworkAccess: to.Ptr(access),
		}}, nil)
	if err != nil {
		log.Fatal(err)
	}
	res, err := poller.PollUntilDone(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	p := res.Properties
	fmt.Printf("%s: publicNetworkAccess %s, trusted services %s\n", *res.Name, *p.PublicNetworkAccess, *p.NetworkRuleBypassOptions)
}
