package catalog

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/acr-emulator/acr-emulator/scenarios"
	"github.com/google/go-containerregistry/pkg/authn"
)

const (
	tasksAPI = "?api-version=2019-06-01-preview"
	acrPush  = "8311e382-0749-4cb8-b61a-304f252e45ec"
)

func taskPath(name string) string {
	return "/providers/Microsoft.ContainerRegistry/registries/" + registry + "/tasks/" + name
}

// createTask creates a task whose cmd step runs the image at repo, with auth mode None and
// the given identity; it returns the task's system-assigned principal id, if any.
func createTask(ctx context.Context, s *scenarios.Session, name, repo string, identity map[string]any) (string, error) {
	yaml := "version: v1.1.0\nsteps:\n  - cmd: $Registry/" + repo + ":v1\n"
	status, body, err := s.ARM(ctx, http.MethodPut, s.ResourceGroupPath()+taskPath(name)+tasksAPI, map[string]any{
		"location": "eastus", "identity": identity,
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
	return principal, nil
}

// addTaskCredential sets the task's credential for the registry to an identity ("[system]"
// or a user-assigned identity's client id), as az acr task credential add --use-identity does.
func addTaskCredential(ctx context.Context, s *scenarios.Session, name, login, identity string) (string, error) {
	status, body, err := s.ARM(ctx, http.MethodPatch, s.ResourceGroupPath()+taskPath(name)+tasksAPI, map[string]any{
		"properties": map[string]any{"credentials": map[string]any{"customRegistries": map[string]any{login: map[string]any{"identity": identity}}}}})
	if err != nil {
		return "", err
	}
	if status != http.StatusOK {
		return "", fmt.Errorf("PATCH task: %d %v", status, body)
	}
	// ACR writes a custom registry's credentials null but in listDetails.
	status, body, err = s.ARM(ctx, http.MethodPost, s.ResourceGroupPath()+taskPath(name)+"/listDetails"+tasksAPI, nil)
	if err != nil {
		return "", err
	}
	if status != http.StatusOK || scenarios.Prop(body, "properties", "credentials", "customRegistries", login, "identity") != identity {
		return "", fmt.Errorf("task's details: %d %v", status, body)
	}
	return login + ": " + identity, nil
}

// runTask schedules a run of the task and checks its status (and, for a failure, that the
// network rules refused it).
func runTask(ctx context.Context, s *scenarios.Session, name, want string) (string, error) {
	code, body, err := s.ARM(ctx, http.MethodPost, s.RegistryPath(registry)+"/scheduleRun"+tasksAPI,
		map[string]any{"type": "TaskRunRequest", "taskId": s.ResourceGroupPath() + taskPath(name)})
	if err != nil {
		return "", err
	}
	if code != http.StatusOK {
		return "", fmt.Errorf("scheduleRun: %d %v", code, body["error"])
	}
	id, _ := scenarios.Prop(body, "properties", "runId").(string)
	// The run starts Queued and goes on after scheduleRun answers: poll it until it ends.
	for {
		status, _ := scenarios.Prop(body, "properties", "status").(string)
		if status != "Queued" && status != "Running" {
			break
		}
		select {
		case <-ctx.Done():
			return "run " + id + " " + status, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if code, body, err = s.ARM(ctx, http.MethodGet, s.RegistryPath(registry)+"/runs/"+id+tasksAPI, nil); err != nil {
			return "", err
		}
		if code != http.StatusOK {
			return "", fmt.Errorf("GET run %s: %d %v", id, code, body["error"])
		}
	}
	status, _ := scenarios.Prop(body, "properties", "status").(string)
	detail, _ := scenarios.Prop(body, "properties", "runErrorMessage").(string)
	observed := "run " + id + " " + status + " " + detail
	if status != want || (want == "Failed" && !strings.Contains(detail, "is not allowed access")) {
		return observed, fmt.Errorf("want %s", want)
	}
	return observed, nil
}

// cleanTasks deletes the scenario's tasks and restores the registry.
func cleanTasks(names ...string) func(ctx context.Context, s *scenarios.Session) error {
	var paths []string
	for _, n := range names {
		paths = append(paths, taskPath(n)+tasksAPI)
	}
	return func(ctx context.Context, s *scenarios.Session) error {
		if err := reopen(paths...)(ctx, s); err != nil {
			return err
		}
		return s.PatchRegistry(ctx, registry, map[string]any{"networkRuleBypassAllowedForTasks": false})
	}
}

func setBypassForTasks(ctx context.Context, s *scenarios.Session, on bool) error {
	return s.PatchRegistry(ctx, registry, map[string]any{"networkRuleBypassAllowedForTasks": on})
}

// tasksTrusted: the documented ACR Tasks example of the trusted-services article, with the
// networkRuleBypassAllowedForTasks switch Azure requires for system-assigned identities since
// June 2025.
func tasksTrusted() scenarios.Scenario {
	var ref, login string
	var auth authn.Authenticator
	const task = "scenario-task"
	return scenarios.Scenario{
		Name:    "tasks-trusted",
		Summary: "an ACR task with a system-assigned identity pulls from its registry with public access disabled, until trusted services are off",
		Cleanup: cleanTasks(task),
		Steps: func() []scenarios.Step {
			steps := lockdownSteps(&ref, &login, &auth, "scenarios/tasks")
			return append(steps,
				scenarios.Step{Do: "create a task with a system-assigned identity and --auth-mode None whose step runs the image; give the identity AcrPush",
					Expect: "the task exists and its identity holds AcrPush",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						principal, err := createTask(ctx, s, task, "scenarios/tasks", map[string]any{"type": "SystemAssigned"})
						if err != nil {
							return "", err
						}
						return "AcrPush for " + principal, assignRole(ctx, s, principal, acrPush)
					}},
				scenarios.Step{Do: "add the registry credential with the task's identity (az acr task credential add --use-identity [system])", Expect: "the task has the credential",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						return addTaskCredential(ctx, s, task, login, "[system]")
					}},
				scenarios.Step{Do: "let tasks bypass network rules (networkRuleBypassAllowedForTasks=true, required since June 2025) and run the task",
					Expect: "the run succeeds through trusted services",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := setBypassForTasks(ctx, s, true); err != nil {
							return "", err
						}
						return runTask(ctx, s, task, "Succeeded")
					}},
				scenarios.Step{Do: "disable trusted services and run the task again", Expect: "the run fails: 403 DENIED for ACR Tasks' IP",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := s.PatchRegistry(ctx, registry, map[string]any{"networkRuleBypassOptions": "None"}); err != nil {
							return "", err
						}
						return runTask(ctx, s, task, "Failed")
					}},
				scenarios.Step{Do: "enable trusted services again and run the task", Expect: "the run succeeds",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := s.PatchRegistry(ctx, registry, map[string]any{"networkRuleBypassOptions": "AzureServices"}); err != nil {
							return "", err
						}
						return runTask(ctx, s, task, "Succeeded")
					}},
			)
		},
	}
}

// tasks2025Policy: since June 2025 trusted services no longer let a task's system-assigned
// identity through unless the registry sets networkRuleBypassAllowedForTasks; user-assigned
// identities are not affected. Needs the "current" profile.
func tasks2025Policy() scenarios.Scenario {
	var ref, login string
	var auth authn.Authenticator
	const sami, uami = "scenario-task-sami", "scenario-task-uami"
	return scenarios.Scenario{
		Name:    "tasks-2025-policy",
		Summary: "since June 2025 a task's system-assigned identity needs networkRuleBypassAllowedForTasks; a user-assigned one does not",
		Profile: "current",
		Cleanup: cleanTasks(sami, uami),
		Steps: func() []scenarios.Step {
			steps := lockdownSteps(&ref, &login, &auth, "scenarios/tasks2025")
			return append(steps,
				scenarios.Step{Do: "create a task with a system-assigned identity (AcrPush, identity credential for the registry)", Expect: "the task is ready",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						principal, err := createTask(ctx, s, sami, "scenarios/tasks2025", map[string]any{"type": "SystemAssigned"})
						if err == nil {
							err = assignRole(ctx, s, principal, acrPush)
						}
						if err != nil {
							return "", err
						}
						return addTaskCredential(ctx, s, sami, login, "[system]")
					}},
				scenarios.Step{Do: "run it with trusted services on and networkRuleBypassAllowedForTasks false (the default)", Expect: "the run fails: 403 DENIED for ACR Tasks' IP",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := setBypassForTasks(ctx, s, false); err != nil {
							return "", err
						}
						return runTask(ctx, s, sami, "Failed")
					}},
				scenarios.Step{Do: "set networkRuleBypassAllowedForTasks=true (az resource update --set properties.networkRuleBypassAllowedForTasks=true) and run again", Expect: "the run succeeds",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := setBypassForTasks(ctx, s, true); err != nil {
							return "", err
						}
						return runTask(ctx, s, sami, "Succeeded")
					}},
				scenarios.Step{Do: "turn it off again and run a task that uses the user-assigned identity demo-identity (AcrPush)", Expect: "the run succeeds: user-assigned identities are not affected",
					Run: func(ctx context.Context, s *scenarios.Session) (string, error) {
						if err := setBypassForTasks(ctx, s, false); err != nil {
							return "", err
						}
						id := s.ResourceGroupPath() + "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/demo-identity"
						if _, err := createTask(ctx, s, uami, "scenarios/tasks2025", map[string]any{"type": "UserAssigned",
							"userAssignedIdentities": map[string]any{id: map[string]any{}}}); err != nil {
							return "", err
						}
						if _, err := addTaskCredential(ctx, s, uami, login, "55555555-5555-5555-5555-555555555555"); err != nil {
							return "", err
						}
						return runTask(ctx, s, uami, "Succeeded")
					}},
			)
		},
	}
}
