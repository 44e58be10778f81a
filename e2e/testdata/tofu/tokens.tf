# A token that may only pull the repository "app".
resource "azurerm_container_registry_scope_map" "pull_app" {
  name                    = "pull-app"
  container_registry_name = azurerm_container_registry.acr.name
  resource_group_name     = azurerm_resource_group.rg.name
  actions = [
    "repositories/app/content/read",
    "repositories/app/metadata/read",
  ]
}

resource "azurerm_container_registry_token" "ci" {
  name                    = "ci-pull"
  container_registry_name = azurerm_container_registry.acr.name
  resource_group_name     = azurerm_resource_group.rg.name
  scope_map_id            = azurerm_container_registry_scope_map.pull_app.id
}

resource "azurerm_container_registry_token_password" "ci" {
  container_registry_token_id = azurerm_container_registry_token.ci.id

  password1 {}
}

output "token_username" {
  value = azurerm_container_registry_token.ci.name
}

output "token_password" {
  value     = azurerm_container_registry_token_password.ci.password1[0].value
  sensitive = true
}
