# The azurerm provider against the emulator as a custom cloud: it reads
# https://localhost:8443/metadata/endpoints and sends every request where that points. Run tofu
# with SSL_CERT_FILE=~/.acr-emulator/ca.pem.
provider "azurerm" {
  features {}
  metadata_host   = "localhost:8443"
  tenant_id       = "11111111-1111-1111-1111-111111111111"
  subscription_id = "22222222-2222-2222-2222-222222222222"
  client_id       = "33333333-3333-3333-3333-333333333333"
  client_secret   = "acr-emulator-client-secret"
}
