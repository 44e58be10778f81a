package emulatortest

import (
	"net/http"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/containers/azcontainerregistry"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
)

// The audiences Azure's SDKs ask Entra for: ARM's, and ACR's (azcontainerregistry's default).
const (
	armAudience = "https://management.azure.com"
	acrAudience = "https://containerregistry.azure.net"
)

// Cloud is the cloud configuration of this emulator, for azcore.ClientOptions.Cloud: its Entra
// authority, its ARM endpoint with ARM's audience, and the Azure Container Registry entry
// (azcontainerregistry.ServiceName, ACR's audience) without which azcontainerregistry.NewClient
// fails with "provided Cloud field is missing Azure Container Registry configuration".
func (e *Emulator) Cloud() cloud.Configuration {
	return cloud.Configuration{
		ActiveDirectoryAuthorityHost: e.AuthorityHost(),
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager:           {Endpoint: e.HTTPSURL(), Audience: armAudience},
			azcontainerregistry.ServiceName: {Audience: acrAudience},
		},
	}
}

// ClientOptions are the azcore options every Azure SDK client and azidentity credential needs
// against this emulator: Cloud, and Transport (Client(): the emulator's CA, its login servers
// and IMDS; one connection pool for every client). Retries and logging are the SDK's defaults, as in production code.
func (e *Emulator) ClientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{Cloud: e.Cloud(), Transport: e.sdk}
}

// ARMClientOptions are ClientOptions for the management SDKs (armcontainerregistry and the
// other arm* modules).
func (e *Emulator) ARMClientOptions() *arm.ClientOptions {
	return &arm.ClientOptions{ClientOptions: e.ClientOptions()}
}

// Credential signs in as a service principal of the world with azidentity's
// ClientSecretCredential: the first one (the default world's acr-emulator-sp, Owner on the
// subscription), or the one named (WithServicePrincipal). Instance discovery is off: it would
// ask the real login.microsoftonline.com.
func (e *Emulator) Credential(name ...string) azcore.TokenCredential {
	e.t.Helper()
	tenant, clientID, secret := e.ServicePrincipal(name...)
	if clientID == "" {
		e.t.Fatalf("emulatortest: the world has no service principal %q", strings.Join(name, ""))
	}
	return e.credential("sp:"+clientID, func() (azcore.TokenCredential, error) {
		return azidentity.NewClientSecretCredential(tenant, clientID, secret, &azidentity.ClientSecretCredentialOptions{
			ClientOptions: e.ClientOptions(), DisableInstanceDiscovery: true})
	})
}

// ManagedIdentityCredential is azidentity's ManagedIdentityCredential on the world's IMDS
// machine (the default world's "workstation"), as code running on an Azure VM gets it: its
// system-assigned identity, or the user-assigned identity named (WithManagedIdentity; the
// default world's demo-identity). The token requests go to 169.254.169.254 through Transport,
// so the test's environment must not select another managed-identity source
// (IDENTITY_ENDPOINT, MSI_ENDPOINT...), unless IDENTITY_ENDPOINT is this emulator's.
func (e *Emulator) ManagedIdentityCredential(name ...string) azcore.TokenCredential {
	e.t.Helper()
	if ep := os.Getenv("IDENTITY_ENDPOINT"); (ep != "" && ep != e.HTTPURL()+"/msi/token") || os.Getenv("MSI_ENDPOINT") != "" {
		e.t.Fatalf("emulatortest: IDENTITY_ENDPOINT or MSI_ENDPOINT in the environment sends azidentity's managed identity elsewhere; unset them (t.Setenv(name, \"\"))")
	}
	opts := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: e.ClientOptions()}
	key := "mi:system"
	if len(name) > 0 {
		p, err := e.Store().PrincipalByResourceID(e.World().ManagedIdentityID(name[0]))
		if err != nil || p == nil {
			e.t.Fatalf("emulatortest: no user-assigned identity %q (%v)", name[0], err)
		}
		opts.ID = azidentity.ClientID(p.AppID)
		key = "mi:" + p.AppID
	}
	return e.credential(key, func() (azcore.TokenCredential, error) { return azidentity.NewManagedIdentityCredential(opts) })
}

// credential returns the fixture's credential under key, made once, so every client of a test
// shares one token cache as an application's clients do.
func (e *Emulator) credential(key string, newCred func() (azcore.TokenCredential, error)) azcore.TokenCredential {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.creds[key]; ok {
		return c
	}
	c, err := newCred()
	if err != nil {
		e.t.Fatalf("emulatortest: %v", err)
	}
	e.creds[key] = c
	return c
}

// RegistryClient is an azcontainerregistry.Client for a registry of the emulator, signed in
// with cred (Credential(), ManagedIdentityCredential(), or any azcore.TokenCredential).
func (e *Emulator) RegistryClient(registry string, cred azcore.TokenCredential) *azcontainerregistry.Client {
	e.t.Helper()
	c, err := azcontainerregistry.NewClient(e.mustRegistry(registry).Endpoint, cred,
		&azcontainerregistry.ClientOptions{ClientOptions: e.ClientOptions()})
	if err != nil {
		e.t.Fatalf("emulatortest: azcontainerregistry.NewClient: %v", err)
	}
	return c
}

// BlobClient is an azcontainerregistry.BlobClient (blob uploads and downloads) for a registry
// of the emulator, signed in with cred.
func (e *Emulator) BlobClient(registry string, cred azcore.TokenCredential) *azcontainerregistry.BlobClient {
	e.t.Helper()
	c, err := azcontainerregistry.NewBlobClient(e.mustRegistry(registry).Endpoint, cred,
		&azcontainerregistry.BlobClientOptions{ClientOptions: e.ClientOptions()})
	if err != nil {
		e.t.Fatalf("emulatortest: azcontainerregistry.NewBlobClient: %v", err)
	}
	return c
}

// ARMClientFactory makes every armcontainerregistry client (registries, import, tasks, runs...)
// for the world's subscription on the emulator's ARM endpoint, signed in with cred.
func (e *Emulator) ARMClientFactory(cred azcore.TokenCredential) *armcontainerregistry.ClientFactory {
	e.t.Helper()
	f, err := armcontainerregistry.NewClientFactory(e.World().SubscriptionID, cred, e.ARMClientOptions())
	if err != nil {
		e.t.Fatalf("emulatortest: armcontainerregistry.NewClientFactory: %v", err)
	}
	return f
}

// Client is a new *http.Client using Transport.
func (e *Emulator) Client() *http.Client { return &http.Client{Transport: e.Transport()} }
