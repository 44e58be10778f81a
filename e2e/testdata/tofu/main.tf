terraform {
  required_providers {
    azurerm = {
      source = "hashicorp/azurerm"
    }
  }
}

variable "public_network_access_enabled" {
  type    = bool
  default = true
}

variable "network_rule_bypass_option" {
  type    = string
  default = "AzureServices"
}

variable "network_rule_bypass_for_tasks_enabled" {
  type    = bool
  default = false
}

variable "firewall_default_action" {
  type    = string
  default = "Allow"
}

variable "firewall_ip_ranges" {
  type    = list(string)
  default = []
}

variable "georeplication_locations" {
  type    = list(string)
  default = []
}

resource "azurerm_resource_group" "rg" {
  name     = "tofu-rg"
  location = "eastus"
}

resource "azurerm_container_registry" "acr" {
  name                = "tofuregistry"
  resource_group_name = azurerm_resource_group.rg.name
  location            = azurerm_resource_group.rg.location
  sku                 = "Premium"
  admin_enabled       = true

  public_network_access_enabled         = var.public_network_access_enabled
  network_rule_bypass_option            = var.network_rule_bypass_option
  network_rule_bypass_for_tasks_enabled = var.network_rule_bypass_for_tasks_enabled

  # Attribute syntax: a dynamic ip_rule block inside network_rule_set fails OpenTofu's validation.
  network_rule_set = [{
    default_action = var.firewall_default_action
    ip_rule        = [for range in var.firewall_ip_ranges : { action = "Allow", ip_range = range }]
  }]

  dynamic "georeplications" {
    for_each = var.georeplication_locations
    content {
      location                        = georeplications.value
      global_endpoint_routing_enabled = true
      zone_redundancy_enabled         = false
      tags                            = {}
    }
  }

  tags = {
    environment = "dev"
    owner       = "platform"
  }
}

output "login_server" {
  value = azurerm_container_registry.acr.login_server
}

output "admin_username" {
  value = azurerm_container_registry.acr.admin_username
}

output "admin_password" {
  value     = azurerm_container_registry.acr.admin_password
  sensitive = true
}
