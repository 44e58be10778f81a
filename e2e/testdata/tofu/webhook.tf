# A webhook told of every push to the repository "app".
variable "webhook_service_uri" {
  type = string
}

resource "azurerm_container_registry_webhook" "push" {
  name                = "onpush"
  resource_group_name = azurerm_resource_group.rg.name
  registry_name       = azurerm_container_registry.acr.name
  location            = azurerm_resource_group.rg.location

  service_uri = var.webhook_service_uri
  status      = "enabled"
  scope       = "app:*"
  actions     = ["push"]
  custom_headers = {
    "X-Source" = "tofu"
  }
}
