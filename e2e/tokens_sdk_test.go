package e2e

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// TestTokensGoSDK drives scope maps, tokens and generateCredentials through the Go management
// SDK (armcontainerregistry v1.2.0, api-version 2023-07-01) and its pollers, and checks the
// token's access with crane.
func TestTokensGoSDK(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	ctx := context.Background()
	f := armFactory(t, emu)
	maps, toks, regs := f.NewScopeMapsClient(), f.NewTokensClient(), f.NewRegistriesClient()
	host := emu.RegistryHost()
	src := t.TempDir()
	writeLayout(t, src, 1)
	emu.Run(t, crane, "push", src, host+"/sdk/app:v1")
	emu.Run(t, crane, "push", src, host+"/elsewhere:v1")

	builtin, err := maps.Get(ctx, "demo-rg", "myregistry", "_repositories_push", nil)
	if err != nil || *builtin.Properties.Type != "SystemDefined" || len(builtin.Properties.Actions) != 2 {
		t.Fatalf("system-defined scope map: %v %+v", err, builtin.Properties)
	}
	mp, err := maps.BeginCreate(ctx, "demo-rg", "myregistry", "sdk-map", armcontainerregistry.ScopeMap{Properties: &armcontainerregistry.ScopeMapProperties{
		Actions: []*string{to.Ptr("repositories/sdk/*/content/read")}, Description: to.Ptr("SDK readers")}}, nil)
	if err != nil {
		t.Fatalf("scope map BeginCreate: %v", err)
	}
	sm, err := mp.PollUntilDone(ctx, nil)
	if err != nil || *sm.Properties.Type != "UserDefined" || *sm.Properties.ProvisioningState != armcontainerregistry.ProvisioningStateSucceeded ||
		sm.Properties.CreationDate == nil || *sm.Properties.Description != "SDK readers" {
		t.Fatalf("scope map create: %v %+v", err, sm.Properties)
	}
	var listed []string
	for pager := maps.NewListPager("demo-rg", "myregistry", nil); pager.More(); {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range page.Value {
			listed = append(listed, *m.Name)
		}
	}
	if len(listed) != 6 || listed[5] != "sdk-map" {
		t.Fatalf("scope maps: %v", listed)
	}

	tp, err := toks.BeginCreate(ctx, "demo-rg", "myregistry", "sdk-token", armcontainerregistry.Token{Properties: &armcontainerregistry.TokenProperties{
		ScopeMapID: sm.ID, Status: to.Ptr(armcontainerregistry.TokenStatusEnabled)}}, nil)
	if err != nil {
		t.Fatalf("token BeginCreate: %v", err)
	}
	tok, err := tp.PollUntilDone(ctx, nil)
	if err != nil || *tok.Properties.ProvisioningState != armcontainerregistry.ProvisioningStateSucceeded || tok.Properties.Credentials == nil ||
		tok.Properties.Credentials.Passwords == nil || len(tok.Properties.Credentials.Passwords) != 0 {
		t.Fatalf("token create: %v %+v", err, tok.Properties)
	}

	expiry := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	gp, err := regs.BeginGenerateCredentials(ctx, "demo-rg", "myregistry", armcontainerregistry.GenerateCredentialsParameters{
		TokenID: tok.ID, Name: to.Ptr(armcontainerregistry.TokenPasswordNamePassword1), Expiry: &expiry}, nil)
	if err != nil {
		t.Fatalf("BeginGenerateCredentials: %v", err)
	}
	creds, err := gp.PollUntilDone(ctx, nil)
	if err != nil || *creds.Username != "sdk-token" || len(creds.Passwords) != 1 || creds.Passwords[0].Value == nil || !creds.Passwords[0].Expiry.Equal(expiry) {
		t.Fatalf("generateCredentials: %v %+v", err, creds)
	}
	password := *creds.Passwords[0].Value
	got, err := toks.Get(ctx, "demo-rg", "myregistry", "sdk-token", nil)
	if err != nil || len(got.Properties.Credentials.Passwords) != 1 || got.Properties.Credentials.Passwords[0].Value != nil {
		t.Fatalf("token after generateCredentials: %v %+v", err, got.Properties.Credentials)
	}

	if out, err := craneAs(t, emu, "sdk-token", password, "digest", host+"/sdk/app:v1"); err != nil {
		t.Fatalf("pull under sdk/*: %v\n%s", err, out)
	}
	if out, err := craneAs(t, emu, "sdk-token", password, "digest", host+"/elsewhere:v1"); err == nil || !unauthorized(out) {
		t.Fatalf("pull outside sdk/*: err=%v\n%s", err, out)
	}

	up, err := toks.BeginUpdate(ctx, "demo-rg", "myregistry", "sdk-token", armcontainerregistry.TokenUpdateParameters{
		Properties: &armcontainerregistry.TokenUpdateProperties{Status: to.Ptr(armcontainerregistry.TokenStatusDisabled)}}, nil)
	if err != nil {
		t.Fatalf("token BeginUpdate: %v", err)
	}
	if u, err := up.PollUntilDone(ctx, nil); err != nil || *u.Properties.Status != armcontainerregistry.TokenStatusDisabled {
		t.Fatalf("token update: %v", err)
	}
	if out, err := craneAs(t, emu, "sdk-token", password, "digest", host+"/sdk/app:v1"); err == nil || !unauthorized(out) {
		t.Fatalf("pull with a disabled token: err=%v\n%s", err, out)
	}

	su, err := maps.BeginUpdate(ctx, "demo-rg", "myregistry", "sdk-map", armcontainerregistry.ScopeMapUpdateParameters{
		Properties: &armcontainerregistry.ScopeMapPropertiesUpdateParameters{Actions: []*string{to.Ptr("repositories/*/content/read")}}}, nil)
	if err != nil {
		t.Fatalf("scope map BeginUpdate: %v", err)
	}
	if u, err := su.PollUntilDone(ctx, nil); err != nil || *u.Properties.Actions[0] != "repositories/*/content/read" || *u.Properties.Description != "SDK readers" {
		t.Fatalf("scope map update: %v %+v", err, u.Properties)
	}

	var re *azcore.ResponseError
	for _, del := range []func() error{
		func() error {
			p, err := toks.BeginDelete(ctx, "demo-rg", "myregistry", "sdk-token", nil)
			if err == nil {
				_, err = p.PollUntilDone(ctx, nil)
			}
			return err
		},
		func() error {
			p, err := maps.BeginDelete(ctx, "demo-rg", "myregistry", "sdk-map", nil)
			if err == nil {
				_, err = p.PollUntilDone(ctx, nil)
			}
			return err
		},
	} {
		if err := del(); err != nil {
			t.Fatalf("delete: %v", err)
		}
	}
	if _, err := toks.Get(ctx, "demo-rg", "myregistry", "sdk-token", nil); !errors.As(err, &re) || re.StatusCode != 404 {
		t.Fatalf("deleted token: %v", err)
	}
	if _, err := maps.BeginDelete(ctx, "demo-rg", "myregistry", "_repositories_pull", nil); !errors.As(err, &re) || re.StatusCode != 400 {
		t.Fatalf("deleting a system-defined scope map: %v", err)
	}
}

// TestDockerTokenLogin logs a real docker daemon in with a token: docker keeps the refresh
// token the login hands out and pulls with it; a push outside the token's rights is denied;
// once the token is disabled the stored login stops working and a new login is refused.
func TestDockerTokenLogin(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	dk := harness.StartDocker(t)
	emu := harness.Start(t)
	ctx := context.Background()
	f := armFactory(t, emu)
	host := emu.RegistryHost()
	src := t.TempDir()
	writeLayout(t, src, 2)
	emu.Run(t, crane, "push", src, host+"/dock/app:v1")

	scopeMap := "/subscriptions/" + subscription + "/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry/scopeMaps/_repositories_pull"
	tp, err := f.NewTokensClient().BeginCreate(ctx, "demo-rg", "myregistry", "docker-token", armcontainerregistry.Token{
		Properties: &armcontainerregistry.TokenProperties{ScopeMapID: &scopeMap}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tp.PollUntilDone(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	gp, err := f.NewRegistriesClient().BeginGenerateCredentials(ctx, "demo-rg", "myregistry", armcontainerregistry.GenerateCredentialsParameters{TokenID: tok.ID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := gp.PollUntilDone(ctx, nil)
	if err != nil || len(creds.Passwords) != 2 {
		t.Fatalf("generateCredentials: %v %+v", err, creds)
	}

	dk.Run(t, "login", host, "-u", "docker-token", "-p", *creds.Passwords[1].Value)
	ref := host + "/dock/app:v1"
	dk.Run(t, "pull", ref)
	dk.Run(t, "tag", ref, host+"/dock/app:v2")
	if out, err := dk.TryRun("push", host+"/dock/app:v2"); err == nil || !strings.Contains(out, "denied") && !strings.Contains(out, "unauthorized") {
		t.Fatalf("push with _repositories_pull: err=%v\n%s", err, out)
	}

	up, err := f.NewTokensClient().BeginUpdate(ctx, "demo-rg", "myregistry", "docker-token", armcontainerregistry.TokenUpdateParameters{
		Properties: &armcontainerregistry.TokenUpdateProperties{Status: to.Ptr(armcontainerregistry.TokenStatusDisabled)}}, nil)
	if err == nil {
		_, err = up.PollUntilDone(ctx, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	dk.Run(t, "rmi", ref, host+"/dock/app:v2")
	if out, err := dk.TryRun("pull", ref); err == nil {
		t.Fatalf("pull with the stored login of a disabled token:\n%s", out)
	}
	// docker kept the login's refresh token (its identity token) and renewed with it.
	if !strings.Contains(emu.Logs(), `msg="token refresh refused" registry=myregistry token=docker-token reason="token disabled"`) {
		t.Fatal("docker did not renew with the login's refresh token")
	}
	if out, err := dk.TryRun("login", host, "-u", "docker-token", "-p", *creds.Passwords[1].Value); err == nil {
		t.Fatalf("login with a disabled token:\n%s", out)
	}
}
