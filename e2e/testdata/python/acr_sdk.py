"""Drives acr-emulator with the Azure SDK for Python (azure-containerregistry, azure-identity).

Run by e2e/python_test.go as a subprocess; any failed assertion exits non-zero. Usage:

    acr_sdk.py service-principal | managed-identity [CLIENT_ID] | docker-image REPO TAG DIGEST | locked

The environment names the emulator: ACR_ENDPOINT (https://localhost:PORT), AZURE_AUTHORITY_HOST,
AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET, and for managed identity
IDENTITY_ENDPOINT and IDENTITY_HEADER; REQUESTS_CA_BUNDLE trusts the emulator's CA.
"""

import hashlib
import inspect
import io
import json
import os
import sys

from azure.containerregistry import ContainerRegistryClient
from azure.containerregistry._generated.models import Annotations, Descriptor, OCIManifest
from azure.core.exceptions import DecodeError, HttpResponseError, ResourceNotFoundError
from azure.identity import ClientSecretCredential, ManagedIdentityCredential
from azure.identity._internal.msal_credentials import MsalCredential

DENIED = "client with IP '127.0.0.1' is not allowed access. Refer https://aka.ms/acr/firewall to grant access."


def credential(mode, args):
    if mode == "managed-identity":
        # The App Service protocol: IDENTITY_ENDPOINT + IDENTITY_HEADER from the environment.
        return ManagedIdentityCredential(client_id=args[0]) if args else ManagedIdentityCredential()
    # A custom authority needs instance discovery off, or MSAL asks login.microsoftonline.com;
    # azure-identity 1.13.0 renamed the keyword (Debian ships 1.13.0b2, which calls it
    # instance_discovery).
    options = {"authority": os.environ["AZURE_AUTHORITY_HOST"]}
    if "instance_discovery" in inspect.signature(MsalCredential.__init__).parameters:
        options["instance_discovery"] = False
    else:
        options["disable_instance_discovery"] = True
    return ClientSecretCredential(
        os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], os.environ["AZURE_CLIENT_SECRET"], **options
    )


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def upload_image(client, repo, tag, annotation):
    """Uploads a config and a layer blob and an OCI manifest over them; returns the digests."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    layer = ("layer of %s:%s" % (repo, tag)).encode()
    config_digest = client.upload_blob(repo, io.BytesIO(config))
    layer_digest = client.upload_blob(repo, io.BytesIO(layer))
    assert config_digest == sha256(config), (config_digest, sha256(config))
    assert layer_digest == sha256(layer), (layer_digest, sha256(layer))
    manifest = OCIManifest(
        schema_version=2,
        config=Descriptor(media_type="application/vnd.oci.image.config.v1+json", size=len(config), digest=config_digest),
        layers=[Descriptor(media_type="application/vnd.oci.image.layer.v1.tar", size=len(layer), digest=layer_digest)],
        annotations=Annotations(additional_properties={"org.example.note": annotation}),
    )
    digest = client.upload_manifest(repo, manifest, tag=tag)
    return digest, layer_digest, layer


def paged(pager):
    """Every item of an ItemPaged, read page by page, and the number of pages."""
    items, pages = [], 0
    for page in pager.by_page():
        pages += 1
        items.extend(page)
    return items, pages


def full_round_trip(client):
    # Two repositories, two tags in one of them: enough for every list to need paging.
    v1, layer_digest, layer = upload_image(client, "py/app", "v1", "one")
    v2, _, _ = upload_image(client, "py/app", "v2", "two")
    other, _, _ = upload_image(client, "py/other", "latest", "three")
    assert len({v1, v2, other}) == 3, (v1, v2, other)

    names, pages = paged(client.list_repository_names(results_per_page=1))
    assert names == ["py/app", "py/other"] and pages == 2, (names, pages)

    tags, pages = paged(client.list_tag_properties("py/app", results_per_page=1))
    assert [t.name for t in tags] == ["v1", "v2"] and pages == 2, ([t.name for t in tags], pages)
    assert {t.name: t.digest for t in tags} == {"v1": v1, "v2": v2}
    # (repository_name stays None here: this SDK version drops it in list_tag_properties.)
    assert all(t.can_delete and t.can_write and t.can_read and t.can_list and t.created_on for t in tags)

    manifests, pages = paged(client.list_manifest_properties("py/app", results_per_page=1))
    assert sorted(m.digest for m in manifests) == sorted([v1, v2]) and pages == 2, (manifests, pages)
    for m in manifests:
        assert m.architecture == "amd64" and m.operating_system == "linux", (m.architecture, m.operating_system)
        assert m.repository_name == "py/app" and m.size_in_bytes and m.created_on and m.last_updated_on

    repo = client.get_repository_properties("py/app")
    assert repo.name == "py/app" and repo.manifest_count == 2 and repo.tag_count == 2, repo
    props = client.get_manifest_properties("py/app", "v1")
    assert props.digest == v1 and props.tags == ["v1"], (props.digest, props.tags)
    tag = client.get_tag_properties("py/app", "v2")
    assert tag.digest == v2, tag.digest

    downloaded = client.download_manifest("py/app", "v1")
    assert downloaded.digest == v1, (downloaded.digest, v1)
    assert downloaded.manifest.layers[0].digest == layer_digest
    assert downloaded.manifest.annotations.additional_properties == {"org.example.note": "one"}, downloaded.manifest.annotations
    blob = client.download_blob("py/app", layer_digest)
    data = blob.data.read()
    assert data == layer and sha256(data) == layer_digest, data

    client.update_tag_properties("py/app", "v2", can_delete=False)
    try:
        client.delete_tag("py/app", "v2")
        raise AssertionError("deleting a locked tag succeeded")
    except HttpResponseError as e:
        assert "The operation is disallowed" in str(e), str(e)
    client.update_tag_properties("py/app", "v2", can_delete=True)

    client.delete_tag("py/app", "v2")
    tags = [t.name for t in client.list_tag_properties("py/app")]
    assert tags == ["v1"], tags
    client.delete_manifest("py/app", v2)
    try:
        client.get_manifest_properties("py/app", v2)
        raise AssertionError("manifest still there after delete_manifest")
    except ResourceNotFoundError:
        pass
    client.delete_blob("py/app", layer_digest)
    # What is already gone: ACR answers 404, which these methods accept...
    missing = sha256(b"never pushed")
    client.delete_manifest("py/app", missing)
    client.delete_tag("py/app", "never-tagged")
    client.delete_repository("py/never-pushed")
    # ...except delete_blob of this SDK version, which raises on ACR's recorded 404 body.
    try:
        client.delete_blob("py/app", missing)
        raise AssertionError("delete_blob of a missing blob returned")
    except ResourceNotFoundError as e:
        assert '{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}' in str(e), str(e)
    client.delete_repository("py/other")
    names = list(client.list_repository_names())
    assert names == ["py/app"], names
    try:
        client.get_repository_properties("py/other")
        raise AssertionError("repository still there after delete_repository")
    except ResourceNotFoundError as e:
        assert "NAME_UNKNOWN" in str(e), str(e)


def small_round_trip(client, repo):
    digest, _, _ = upload_image(client, repo, "v1", "managed identity")
    assert client.get_manifest_properties(repo, "v1").digest == digest
    assert repo in list(client.list_repository_names())
    assert client.download_manifest(repo, digest).digest == digest


def docker_image(client, repo, tag, digest):
    """download_manifest of this SDK version asks for OCI manifests only. A Docker schema 2 image
    fetched by tag is then answered, as ACR answers it, with the signed schema 1 rewrite, which
    azure-core cannot decode (Content-Type ...v1+prettyjws); by digest it comes back as stored."""
    try:
        client.download_manifest(repo, tag)
        raise AssertionError("download_manifest by tag decoded a schema 1 answer")
    except DecodeError as e:
        assert "application/vnd.docker.distribution.manifest.v1+prettyjws" in str(e), str(e)
    by_digest = client.download_manifest(repo, digest)
    assert by_digest.digest == digest and by_digest.manifest.schema_version == 2, by_digest.digest
    assert by_digest.manifest.config.media_type == "application/vnd.docker.container.image.v1+json"


def locked(client):
    try:
        list(client.list_repository_names())
        raise AssertionError("listing a locked registry succeeded")
    except HttpResponseError as e:
        assert e.status_code == 403, e.status_code
        assert e.model is not None and [x.code for x in e.model.errors] == ["DENIED"], e.model
        assert DENIED in str(e), str(e)


def main(argv):
    mode, args = argv[1], argv[2:]
    client = ContainerRegistryClient(os.environ["ACR_ENDPOINT"], credential(mode, args))
    with client:
        if mode == "service-principal":
            full_round_trip(client)
        elif mode == "managed-identity":
            small_round_trip(client, "py/mi-" + ("user" if args else "system"))
        elif mode == "docker-image":
            docker_image(client, *args)
        elif mode == "locked":
            locked(client)
        else:
            raise SystemExit("unknown mode " + mode)
    print("OK " + mode)


if __name__ == "__main__":
    main(sys.argv)
