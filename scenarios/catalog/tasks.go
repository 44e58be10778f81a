package catalog

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"

	"github.com/acr-emulator/acr-emulator/scenarios"
	"github.com/google/go-containerregistry/pkg/authn"
)

const taskPath = "/providers/Microsoft.ContainerRegistry/registries/" + registry + "/tasks/scenario-task"

// tasksTrusted: the documented ACR Tasks example of the trusted-services article, with the
// networkRuleBypassAllowedForTasks switch Azure requires for system-assigned identities since
// June 2025.
func tasksTrusted() scenarios.Scenario {
	var ref, login string
	var auth authn.Authenticator
	run := func(ctx context.Context, s *scenarios.Session) (status, detail string, err error) {
		code, body, err := s.ARM(ctx, http.MethodPost, s.RegistryPath(registry)+"/scheduleRun?api-version=2019-06-01-preview",
			map[string]any{"type": "TaskRunRequest", "taskId": s.ResourceGroupPath() + taskPath})
		if err != nil {
			return "", "", err
		}
		if code != http.StatusOK {
			return "", "", fmt.Errorf("scheduleRun: %d %v", code, body["error"])
		}
		status, _ = scenarios.Prop(body, "properties", "status").(string)
		detail, _ = scenarios.Prop(body, "properties", "runErrorMessage").(string)
		id, _ := scenarios.Prop(body, "properties", "runId").(string)
		return status, "run " + id + " " + status + " " + detail, nil
	}
	return scenarios.Scenario{
		Name:    "tasks-trusted",
		Summary: "an ACR task with a system-assigned identity pulls from its registry with public access disabled, until trusted services are off",
		Cleanup: func(ctx context.Context, s *scenarios.Session) error {
			if err := reopen(taskPath+"?api-version=2019-06-01-preview")(ctx, s); err != nil {
				return err
			}
			return s.PatchRegistry(ctx, registry, map[string]any{"networkRuleBypassAllowedForTasks": false})
		},
		Steps: func() []scenarios.Step {
			steps := lockdownSteps(&ref, &login, &auth, "scenarios/tasks")
			return append(steps,
				scenarios.Step{Do: "create a task with a system-assigned identity and --auth-mode None whose step runs the image; give the identity AcrPush",
					Expect: "the task exists and its identity holds AcrPush",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						yaml := "version: v1.1.0\nsteps:\n  - cmd: $Registry/scenarios/tasks:v1\n"
						status, body, err := s.ARM(ctx, http.MethodPut, s.ResourceGroupPath()+taskPath+"?api-version=2019-06-01-preview", map[string]any{
							"location": "eastus", "identity": map[string]any{"type": "SystemAssigned"},
							"properties": map[string]any{"platform": map[string]any{"os": "Linux"},
								"step":        map[string]any{"type": "EncodedTask", "encodedTaskContent": base64.StdEncoding.EncodeToString([]byte(yaml))},
								"credentials": map[string]any{"sourceRegistry": map[string]any{"loginMode": "None"}}}})
						if err != nil {
							return "", err
						}
						if status != http.StatusCreated && status != http.StatusOK {
							return "", fmt.Errorf("PUT task: %d %v", status, body["error"])
						}
						principal, _ := scenarios.Prop(body, "identity", "principalId").(string)
						return "AcrPush for " + principal, assignRole(ctx, s, principal, "8311e382-0749-4cb8-b61a-304f252e45ec")
					}},
				scenarios.Step{Do: "add the registry credential with the task's identity (az acr task credential add --use-identity [system])", Expect: "the task has the credential",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						status, body, err := s.ARM(ctx, http.MethodPatch, s.ResourceGroupPath()+taskPath+"?api-version=2019-06-01-preview", map[string]any{
							"properties": map[string]any{"credentials": map[string]any{"customRegistries": map[string]any{login: map[string]any{"identity": "[system]"}}}}})
						if err != nil {
							return "", err
						}
						if status != http.StatusOK || scenarios.Prop(body, "properties", "credentials", "customRegistries", login, "identity") != "[system]" {
							return "", fmt.Errorf("PATCH task: %d %v", status, body)
						}
						return login + ": [system]", nil
					}},
				scenarios.Step{Do: "let tasks bypass network rules (networkRuleBypassAllowedForTasks=true, required since June 2025) and run the task",
					Expect: "the run succeeds through trusted services",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := s.PatchRegistry(ctx, registry, map[string]any{"networkRuleBypassAllowedForTasks": true}); err != nil {
							return "", err
						}
						status, detail, err := run(ctx, s)
						if err == nil && status != "Succeeded" {
							err = fmt.Errorf("the run did not succeed")
						}
						return detail, err
					}},
				scenarios.Step{Do: "disable trusted services and run the task again", Expect: "the run fails: 403 DENIED for ACR Tasks' IP",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := s.PatchRegistry(ctx, registry, map[string]any{"networkRuleBypassOptions": "None"}); err != nil {
							return "", err
						}
						status, detail, err := run(ctx, s)
						if err == nil && (status != "Failed" || !strings.Contains(detail, "is not allowed access")) {
							err = fmt.Errorf("the run was not refused by the network rules")
						}
						return detail, err
					}},
				scenarios.Step{Do: "enable trusted services again and run the task", Expect: "the run succeeds",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := s.PatchRegistry(ctx, registry, map[string]any{"networkRuleBypassOptions": "AzureServices"}); err != nil {
							return "", err
						}
						status, detail, err := run(ctx, s)
						if err == nil && status != "Succeeded" {
							err = fmt.Errorf("the run did not succeed")
						}
						return detail, err
					}},
			)
		},
	}
}
