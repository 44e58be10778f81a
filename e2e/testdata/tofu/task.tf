# An ACR task that pulls with its system-assigned identity, run once.
resource "azurerm_container_registry_task" "hello" {
  name                  = "hello"
  container_registry_id = azurerm_container_registry.acr.id

  platform {
    os = "Linux"
  }

  identity {
    type = "SystemAssigned"
  }

  encoded_step {
    task_content = base64encode(<<-YAML
      version: v1.1.0
      steps:
        - cmd: $Registry/hello:v1
      YAML
    )
  }

  registry_credential {
    custom {
      login_server = azurerm_container_registry.acr.login_server
      identity     = "[system]"
    }
  }
}

resource "azurerm_role_assignment" "task_acrpull" {
  scope                = azurerm_container_registry.acr.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_container_registry_task.hello.identity[0].principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_container_registry_task_schedule_run_now" "hello" {
  container_registry_task_id = azurerm_container_registry_task.hello.id
  depends_on                 = [azurerm_role_assignment.task_acrpull]
}
