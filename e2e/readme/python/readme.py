from azure.containerregistry import ContainerRegistryClient
from azure.identity import ClientSecretCredential

credential = ClientSecretCredential(
    "11111111-1111-1111-1111-111111111111", "33333333-3333-3333-3333-333333333333",
    "acr-emulator-client-secret", authority="https://localhost:8443",
    instance_discovery=False)  # azure-identity >= 1.13.0: disable_instance_discovery=True
client = ContainerRegistryClient("https://localhost:8443", credential)
print(list(client.list_repository_names()))
