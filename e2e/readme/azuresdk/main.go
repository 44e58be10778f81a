// Command azuresdk lists the repositories of myregistry, signed in as the default world's
// service principal.
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
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
)

func main() {
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
				// azcontainerregistry.NewClient requires this entry: the audience of ACR tokens.
				azcontainerregistry.ServiceName: {Audience: "https://containerregistry.azure.net"},
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
	client, err := azcontainerregistry.NewClient("https://localhost:8443", cred,
		&azcontainerregistry.ClientOptions{ClientOptions: opts})
	if err != nil {
		log.Fatal(err)
	}
	for pager := client.NewListRepositoriesPager(nil); pager.More(); {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			log.Fatal(err)
		}
		for _, name := range page.Repositories.Names {
			fmt.Println(*name)
		}
	}
}
