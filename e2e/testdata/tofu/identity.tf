# A workload identity that may pull from the registry.
resource "azurerm_user_assigned_identity" "puller" {
  name                = "tofu-puller"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
}

resource "azurerm_role_assignment" "puller_acrpull" {
  scope                = azurerm_container_registry.acr.id
  role_definition_name = "AcrPull"
  principal_id         = azurerm_user_assigned_identity.puller.principal_id
  principal_type       = "ServicePrincipal"
}
