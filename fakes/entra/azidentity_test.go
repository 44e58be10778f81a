package entra_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/acr-emulator/acr-emulator/fakes/entra"
)

// The real clients against the fake: azidentity v1.15 (MSAL Go v1.10) resolving the authority,
// fetching the OIDC document and posting to the token endpoint over TLS.

const (
	tenantID = "0b0e0c1d-2a3b-4c5d-8e9f-a0b1c2d3e4f5"
	spID     = "c1c2c3c4-0000-4000-8000-000000000001"
	spOID    = "0a0a0a0a-0000-4000-8000-000000000001"
	spSecret = "Xy8Q~not-a-real-secret"
	wiID     = "c1c2c3c4-0000-4000-8000-000000000002"
	wiOID    = "0a0a0a0a-0000-4000-8000-000000000002"
	k8sIss   = "https://oidc.prod-aks.example/00000000-0000-0000-0000-000000000000/"
	k8sSub   = "system:serviceaccount:default:workload"
)

var acrScope = policy.TokenRequestOptions{Scopes: []string{"https://containerregistry.azure.net/.default"}}

type directory map[string]*entra.Principal

func (d directory) HasTenant(t string) bool { return t == tenantID }
func (d directory) ClientByAppID(t, id string) (*entra.Principal, error) {
	if t != tenantID {
		return nil, nil
	}
	return d[id], nil
}

func start(t *testing.T) (*httptest.Server, *entra.Issuer) {
	t.Helper()
	iss, err := entra.NewIssuer()
	if err != nil {
		t.Fatal(err)
	}
	d := directory{
		spID: {ObjectID: spOID, AppID: spID, TenantID: tenantID, Kind: entra.KindServicePrincipal, Secrets: []string{spSecret}},
		wiID: {ObjectID: wiOID, AppID: wiID, TenantID: tenantID, Kind: entra.KindServicePrincipal,
			Federated: []entra.FederatedCredential{{Issuer: k8sIss, Subject: k8sSub}}},
	}
	srv := httptest.NewTLSServer(entra.NewHandler(d, iss, func(r *http.Request) string { return "https://" + r.Host }))
	t.Cleanup(srv.Close)
	return srv, iss
}

func clientOptions(srv *httptest.Server) azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: srv.URL + "/"},
		Transport: srv.Client(), // trusts the test server's certificate
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

// k8sToken is a projected service-account token; Entra cannot check its signature offline.
func k8sToken(t *testing.T, sub string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.NewBuilder().Issuer(k8sIss).Subject(sub).Audience([]string{entra.DefaultFederatedAudience}).
		IssuedAt(time.Now()).Expiration(time.Now().Add(time.Hour)).Build()
	if err != nil {
		t.Fatal(err)
	}
	b, err := jwt.Sign(tok, jwt.WithKey(jwa.RS256, key))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkToken(t *testing.T, iss *entra.Issuer, tok azcore.AccessToken, appID, oid, appidacr string) {
	t.Helper()
	if d := time.Until(tok.ExpiresOn); d < 55*time.Minute || d > time.Hour {
		t.Errorf("ExpiresOn in %v", d)
	}
	c, err := iss.Verify(tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	if c.Audience != "https://containerregistry.azure.net" || c.AppID != appID || c.ObjectID != oid || c.TenantID != tenantID || c.Raw["appidacr"] != appidacr {
		t.Fatalf("claims = %+v", c)
	}
}

func TestClientSecretCredential(t *testing.T) {
	srv, iss := start(t)
	ctx := context.Background()
	newCred := func(secret string) *azidentity.ClientSecretCredential {
		cred, err := azidentity.NewClientSecretCredential(tenantID, spID, secret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOptions(srv), DisableInstanceDiscovery: true})
		if err != nil {
			t.Fatal(err)
		}
		return cred
	}
	tok, err := newCred(spSecret).GetToken(ctx, acrScope)
	if err != nil {
		t.Fatal(err)
	}
	checkToken(t, iss, tok, spID, spOID, entra.AuthSecret)

	if _, err := newCred("wrong").GetToken(ctx, acrScope); err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("wrong secret: %v", err)
	}
	_, err = newCred(spSecret).GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	if err == nil || !strings.Contains(err.Error(), "AADSTS500011") {
		t.Fatalf("unknown resource: %v", err)
	}
}

func TestClientAssertionCredential(t *testing.T) {
	srv, iss := start(t)
	for _, tc := range []struct {
		sub  string
		want string // "" for success, else an AADSTS code in the error
	}{
		{k8sSub, ""},
		{"system:serviceaccount:default:intruder", "AADSTS70021"},
	} {
		t.Run(tc.sub, func(t *testing.T) {
			cred, err := azidentity.NewClientAssertionCredential(tenantID, wiID,
				func(context.Context) (string, error) { return k8sToken(t, tc.sub), nil },
				&azidentity.ClientAssertionCredentialOptions{ClientOptions: clientOptions(srv), DisableInstanceDiscovery: true})
			if err != nil {
				t.Fatal(err)
			}
			tok, err := cred.GetToken(context.Background(), acrScope)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %s", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkToken(t, iss, tok, wiID, wiOID, entra.AuthCertificate)
		})
	}
}

// WorkloadIdentityCredential reads the assertion from the file AKS projects into the pod.
func TestWorkloadIdentityCredential(t *testing.T) {
	srv, iss := start(t)
	file := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(file, []byte(k8sToken(t, k8sSub)), 0o600); err != nil {
		t.Fatal(err)
	}
	cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
		ClientOptions: clientOptions(srv), ClientID: wiID, TenantID: tenantID, TokenFilePath: file, DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), acrScope)
	if err != nil {
		t.Fatal(err)
	}
	checkToken(t, iss, tok, wiID, wiOID, entra.AuthCertificate)
}

// redirect sends every request to the test server whatever its URL names, keeping the Host
// header, as a DNS override would: instance discovery, which MSAL sends to the real
// login.microsoftonline.com, lands on the fake, and nothing leaves loopback.
type redirect struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []string
}

func (rd *redirect) Do(req *http.Request) (*http.Response, error) {
	rd.mu.Lock()
	rd.calls = append(rd.calls, req.URL.Host+req.URL.Path)
	rd.mu.Unlock()
	out := req.Clone(req.Context())
	out.Host = req.URL.Host
	out.URL.Host = strings.TrimPrefix(rd.srv.URL, "https://")
	return rd.srv.Client().Do(out)
}

func TestInstanceDiscoveryLeftOn(t *testing.T) {
	srv, iss := start(t)
	rd := &redirect{srv: srv}
	opts := azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: "https://login.emulator.test/"}, Transport: rd}
	cred, err := azidentity.NewClientSecretCredential(tenantID, spID, spSecret, &azidentity.ClientSecretCredentialOptions{ClientOptions: opts})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), acrScope)
	if err != nil {
		t.Fatal(err)
	}
	checkToken(t, iss, tok, spID, spOID, entra.AuthSecret)
	rd.mu.Lock()
	defer rd.mu.Unlock()
	want := []string{
		"login.microsoftonline.com/common/discovery/instance",
		"login.emulator.test/" + tenantID + "/v2.0/.well-known/openid-configuration",
		"login.emulator.test/" + tenantID + "/oauth2/v2.0/token",
	}
	// MSAL may repeat the discovery call (it does, in v1.10.1); what matters is that it comes
	// first and that the fake's answer steered the rest to the custom authority.
	if got := slices.Compact(slices.Clone(rd.calls)); !slices.Equal(got, want) {
		t.Fatalf("calls = %v\nwant %v", rd.calls, want)
	}
}
