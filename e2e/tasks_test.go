package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerregistry/armcontainerregistry"
	"github.com/acr-emulator/acr-emulator/e2e/harness"
)

// TestTasksSDK follows the trusted-services article's ACR Tasks example with the Go management
// SDK: a task with a system-assigned identity, auth mode None and an identity credential runs
// against its registry with public access disabled, then fails once trusted services are off.
func TestTasksSDK(t *testing.T) {
	crane := harness.Tool(t, "CRANE", "crane")
	emu := harness.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := armFactory(t, emu)
	regs, tasks, runs := f.NewRegistriesClient(), f.NewTasksClient(), f.NewRunsClient()
	host := emu.RegistryHost()

	src := t.TempDir()
	want := writeLayout(t, src, 1)
	emu.Run(t, crane, "push", src, host+"/tasks/base:v1")
	if _, err := update(t, regs, "myregistry", armcontainerregistry.RegistryUpdateParameters{Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{
		PublicNetworkAccess: to.Ptr(armcontainerregistry.PublicNetworkAccessDisabled)}}); err != nil {
		t.Fatalf("disable public access: %v", err)
	}

	yaml := "version: v1.1.0\nsteps:\n  - cmd: $Registry/tasks/base:v1\n"
	poller, err := tasks.BeginCreate(ctx, "demo-rg", "myregistry", "cross-task", armcontainerregistry.Task{
		Location: to.Ptr("eastus"),
		Identity: &armcontainerregistry.IdentityProperties{Type: to.Ptr(armcontainerregistry.ResourceIdentityTypeSystemAssigned)},
		Properties: &armcontainerregistry.TaskProperties{
			Platform: &armcontainerregistry.PlatformProperties{OS: to.Ptr(armcontainerregistry.OSLinux)},
			Step: &armcontainerregistry.EncodedTaskStep{Type: to.Ptr(armcontainerregistry.StepTypeEncodedTask),
				EncodedTaskContent: to.Ptr(base64.StdEncoding.EncodeToString([]byte(yaml)))},
			Credentials: &armcontainerregistry.Credentials{
				SourceRegistry:   &armcontainerregistry.SourceRegistryCredentials{LoginMode: to.Ptr(armcontainerregistry.SourceRegistryLoginModeNone)},
				CustomRegistries: map[string]*armcontainerregistry.CustomRegistryCredentials{host: {Identity: to.Ptr("[system]")}}}}}, nil)
	if err != nil {
		t.Fatalf("create task: %v", err)
	}
	task, err := poller.PollUntilDone(ctx, nil)
	if err != nil || task.Identity == nil || task.Identity.PrincipalID == nil || *task.Properties.ProvisioningState != armcontainerregistry.ProvisioningStateSucceeded {
		t.Fatalf("create task: %v %+v", err, task)
	}
	status, out := armCall(t, emu, http.MethodPut, "/subscriptions/"+subscription+"/resourceGroups/demo-rg/providers/Microsoft.ContainerRegistry/registries/myregistry/providers/Microsoft.Authorization/roleAssignments/8b8b8b8b-0000-4000-8000-000000000001?api-version=2022-04-01",
		fmt.Sprintf(`{"properties":{"roleDefinitionId":"/subscriptions/%s/providers/Microsoft.Authorization/roleDefinitions/8311e382-0749-4cb8-b61a-304f252e45ec","principalId":%q,"principalType":"ServicePrincipal"}}`,
			subscription, *task.Identity.PrincipalID))
	if status != http.StatusCreated {
		t.Fatalf("AcrPush for the task identity: %d %v", status, out)
	}

	run := func() *armcontainerregistry.Run {
		t.Helper()
		p, err := regs.BeginScheduleRun(ctx, "demo-rg", "myregistry", &armcontainerregistry.TaskRunRequest{Type: to.Ptr("TaskRunRequest"),
			TaskID: task.ID}, nil)
		if err != nil {
			t.Fatalf("schedule run: %v", err)
		}
		res, err := p.PollUntilDone(ctx, nil)
		if err != nil {
			t.Fatalf("schedule run: %v", err)
		}
		// scheduleRun answers with the run Queued; it goes on, so poll it as az acr task run does.
		for {
			got, err := runs.Get(ctx, "demo-rg", "myregistry", *res.Properties.RunID, nil)
			if err != nil {
				t.Fatalf("get run: %v", err)
			}
			switch *got.Properties.Status {
			case armcontainerregistry.RunStatusSucceeded, armcontainerregistry.RunStatusFailed:
				return &got.Run
			case armcontainerregistry.RunStatusQueued, armcontainerregistry.RunStatusRunning:
			default:
				t.Fatalf("run status %s", *got.Properties.Status)
			}
			select {
			case <-ctx.Done():
				t.Fatalf("run %s did not end: %v", *res.Properties.RunID, ctx.Err())
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	log := func(runID string) string {
		t.Helper()
		link, err := runs.GetLogSasURL(ctx, "demo-rg", "myregistry", runID, nil)
		if err != nil {
			t.Fatal(err)
		}
		// A plain client that trusts the emulator's CA and nothing else (no proxy, no special
		// resolver) follows the link: it names the listener the SDK called.
		if !strings.HasPrefix(*link.LogLink, "https://"+host+"/acrtasklogs.blob.core.windows.net/") {
			t.Fatalf("logLink = %s", *link.LogLink)
		}
		tr := sdkClientOptions(t, emu).Transport.(*http.Client).Transport
		res, err := (&http.Client{Transport: tr}).Get(*link.LogLink)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}

	ok := run()
	if *ok.Properties.Status != armcontainerregistry.RunStatusSucceeded || *ok.Properties.Task != "cross-task" {
		t.Fatalf("run with trusted services on: %+v", ok.Properties)
	}
	if l := log(*ok.Properties.RunID); !strings.Contains(l, "Digest: "+want.String()) || !strings.Contains(l, "was successful") {
		t.Fatalf("log:\n%s", l)
	}

	if _, err := update(t, regs, "myregistry", armcontainerregistry.RegistryUpdateParameters{Properties: &armcontainerregistry.RegistryPropertiesUpdateParameters{
		NetworkRuleBypassOptions: to.Ptr(armcontainerregistry.NetworkRuleBypassOptionsNone)}}); err != nil {
		t.Fatalf("trusted services off: %v", err)
	}
	failed := run()
	if *failed.Properties.Status != armcontainerregistry.RunStatusFailed {
		t.Fatalf("run with trusted services off: %+v", failed.Properties)
	}
	if l := log(*failed.Properties.RunID); !strings.Contains(l, "denied: client with IP '20.0.0.8' is not allowed access. Refer https://aka.ms/acr/firewall to grant access.") ||
		!strings.Contains(l, "Run failed") {
		t.Fatalf("log:\n%s", l)
	}

	pager := runs.NewListPager("demo-rg", "myregistry", nil)
	page, err := pager.NextPage(ctx)
	if err != nil || len(page.Value) != 2 || *page.Value[0].Properties.RunID != *failed.Properties.RunID {
		t.Fatalf("list runs: %v %d", err, len(page.Value))
	}
	dp, err := tasks.BeginDelete(ctx, "demo-rg", "myregistry", "cross-task", nil)
	if err == nil {
		_, err = dp.PollUntilDone(ctx, nil)
	}
	if err != nil {
		t.Fatalf("delete task: %v", err)
	}
	if _, err := tasks.Get(ctx, "demo-rg", "myregistry", "cross-task", nil); err == nil {
		t.Fatal("the task is still there after delete")
	}
}
