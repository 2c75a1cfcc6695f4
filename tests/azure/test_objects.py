"""storage.open / read / write on Azure Blob Storage (Azurite): blob URLs as Event Grid and
the blob trigger report them, SAS URLs, missing blobs, and a large blob streamed both ways
under a memory check."""

from __future__ import annotations

import copy
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters import azure
from adapters.azure._storage import DEV_ACCOUNT, DEV_KEY
from portable import ConfigurationError, ObjectNotFound, storage
from portable import _objects as storage_backends
from tests.azure.contract_backends import SETTING, Azurite, unique
from tests.conftest import fixture
from tests.samples.streaming import MiB, round_trip

LARGE = 1024 * MiB
CEILING = 128 * MiB  # an eighth of the object


@pytest.fixture
def container(blob_service: Any) -> Any:
    return blob_service.create_container(unique("objects"))


def blob_created(blob: Any) -> Any:
    """The Event Grid BlobCreated event of this blob, as a CloudEvent."""
    [event] = copy.deepcopy(fixture("azure/eventgrid_blob_created.json"))
    properties = blob.get_blob_properties()
    event["subject"] = (f"/blobServices/default/containers/{blob.container_name}"
                        f"/blobs/{blob.blob_name}")
    event["data"].update({"url": blob.url, "eTag": properties.etag,
                          "contentLength": properties.size,
                          "contentType": properties.content_settings.content_type})
    [cloudevent] = azure.to_cloudevents([event])
    return cloudevent


def test_write_then_read_round_trips_with_the_content_type(container: Any) -> None:
    blob = container.get_blob_client("reports/q1 final.csv")
    storage.write(blob.url, "a,b\n1,2\n", "text/csv")
    assert blob.download_blob().readall() == b"a,b\n1,2\n"
    assert blob.get_blob_properties().content_settings.content_type == "text/csv"
    obj = storage.object_event(blob_created(blob))
    assert (obj.bucket, obj.key, obj.url) == (container.container_name, "reports/q1 final.csv",
                                             blob.url)
    with storage.open(obj) as stream:
        assert stream.read(4) == b"a,b\n" and stream.read() == b"1,2\n"
    storage.write(obj.url, b"replaced")  # overwrites
    assert storage.read(obj) == b"replaced"


def test_a_sas_url_is_read_with_its_token_and_other_accounts_are_refused(
        container: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    blob = container.get_blob_client("shared.txt")
    blob.upload_blob(b"shared with a token")
    sas = generate_blob_sas(DEV_ACCOUNT, container.container_name, "shared.txt",
                            account_key=DEV_KEY, permission=BlobSasPermissions(read=True),
                            expiry=datetime.now(UTC) + timedelta(minutes=5))
    with pytest.raises(ConfigurationError, match=f"not a blob of the storage account in {SETTING}"):
        storage.read("https://elsewhere.blob.core.windows.net/c/b.txt")
    monkeypatch.delenv(SETTING)  # a SAS URL needs no account setting
    monkeypatch.setattr(storage_backends, "_backends", {})
    assert storage.read(f"{blob.url}?{sas}") == b"shared with a token"


def test_a_missing_blob_or_container_is_object_not_found(container: Any) -> None:
    base = container.get_blob_client("gone.txt").url
    for url in (base, base.replace(container.container_name, unique("nocontainer"))):
        with pytest.raises(ObjectNotFound, match="no such blob"):
            storage.open(url)
    with pytest.raises(FileNotFoundError):
        storage.read(base)
    with pytest.raises(ConfigurationError, match="container does not exist"):
        storage.write(base.replace(container.container_name, unique("nocontainer")), b"{}")


@pytest.fixture
def azurite_on_disk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """An Azurite of this test's own, keeping blobs on disk: the session's keeps them in a
    256 MB memory budget, too small for the large blob."""
    server = Azurite()
    server.up(tmp_path_factory.mktemp("azurite-large"), persist=True)
    yield server
    server.down()


def test_a_large_blob_is_streamed_both_ways(azurite_on_disk: Azurite, tmp_path: Path) -> None:
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite_on_disk.connection_string)
    container = service.create_container(unique("large"))
    started = time.monotonic()
    wrote, read = round_trip(container.get_blob_client("large.bin").url, LARGE,
                             {SETTING: azurite_on_disk.connection_string})
    print(f"Azure Blob {LARGE // MiB} MiB: write +{wrote / MiB:.0f} MiB, read "
          f"+{read / MiB:.0f} MiB resident, {time.monotonic() - started:.1f}s")
    assert wrote < CEILING and read < CEILING
