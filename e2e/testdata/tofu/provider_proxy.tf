# The azurerm provider against the emulator under Azure's public names: run tofu with
# HTTPS_PROXY=http://127.0.0.1:8081 (the emulator's proxy) and SSL_CERT_FILE=~/.acr-emulator/ca.pem.
provider "azurerm" {
  features {}
  tenant_id       = "11111111-1111-1111-1111-111111111111"
  subscription_id = "22222222-2222-2222-2222-222222222222"
  client_id       = "33333333-3333-3333-3333-333333333333"
  client_secret   = "acr-emulator-client-secret"
}
