"""storage.open / read / write on Cloud Storage (gcp-storage-emulator): the generation an
event announced, missing objects, and a large object streamed both ways under a memory check.

The large object is 256 MiB here, not 1 GiB as on S3 and Azure: the emulator appends each
resumable-upload chunk to the bytes received so far, copying them all, so an upload takes
time quadratic in its size (6 s at 256 MiB, 68 s at 1 GiB). What the test proves does not
change: memory stays flat while the object is four times the ceiling."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from adapters import gcp
from portable import ConfigurationError, ObjectNotFound, storage
from tests.gcp.gcs_emulator import ENV, gcs, gcs_emulator, gcs_env, new_bucket
from tests.samples.streaming import MiB, round_trip
from tests.samples.support import finalized as eventarc_event

__all__ = ["gcs", "gcs_emulator", "gcs_env"]  # fixtures

LARGE = 256 * MiB  # see above
CEILING = 96 * MiB  # well under the object: 8 MiB chunks, a few copies of one


def finalized(blob: Any) -> Any:
    """The Eventarc ``finalized`` CloudEvent of this object, as the adapter reads it."""
    blob.reload()
    [event] = gcp.to_cloudevents(eventarc_event(blob._properties))
    return event


def test_write_then_read_round_trips_with_the_content_type(gcs: Any) -> None:
    bucket = new_bucket(gcs)
    url = f"gs://{bucket.name}/reports/q1 final%.csv"
    storage.write(url, "a,b\n1,2\n", "text/csv")
    blob = bucket.get_blob("reports/q1 final%.csv")
    assert (blob.download_as_bytes(), blob.content_type) == (b"a,b\n1,2\n", "text/csv")
    obj = storage.object_event(finalized(blob))
    assert obj.url == url and obj.version == str(blob.generation)
    with storage.open(obj) as stream:
        assert stream.read(4) == b"a,b\n" and stream.read() == b"1,2\n"
    storage.write(f"gs://{bucket.name}/empty", b"")
    assert storage.read(f"gs://{bucket.name}/empty") == b""


def test_the_event_reads_its_generation_or_says_it_is_gone(gcs: Any) -> None:
    bucket = new_bucket(gcs)
    blob = bucket.blob("doc.txt")
    blob.upload_from_string(b"first")
    event = finalized(blob)
    assert storage.read(storage.object_event(event)) == b"first"
    blob.upload_from_string(b"second, overwritten since")
    # The emulator, like a bucket without object versioning, keeps only the live generation.
    with pytest.raises(ObjectNotFound, match="generation is gone"):
        storage.open(storage.object_event(event))
    assert storage.read(storage.object_event(finalized(blob))) == b"second, overwritten since"


def test_a_missing_object_or_bucket_is_object_not_found(gcs: Any) -> None:
    bucket = new_bucket(gcs)
    for target in (f"gs://{bucket.name}/gone", f"gs://no-{bucket.name}/key",
                   SimpleNamespace(url=f"gs://{bucket.name}/gone", version="7")):
        with pytest.raises(ObjectNotFound, match="no such object"):
            storage.open(target)
    with pytest.raises(FileNotFoundError):
        storage.read(f"gs://{bucket.name}/gone")
    with pytest.raises(ConfigurationError, match="bucket does not exist"):
        storage.write(f"gs://no-{bucket.name}/out.json", b"{}")


def test_a_large_object_is_streamed_both_ways(gcs: Any, gcs_env: str) -> None:
    bucket = new_bucket(gcs, "large")
    started = time.monotonic()
    wrote, read = round_trip(f"gs://{bucket.name}/large.bin", LARGE, {ENV: gcs_env})
    print(f"GCS {LARGE // MiB} MiB: write +{wrote / MiB:.0f} MiB, read +{read / MiB:.0f} MiB "
          f"resident, {time.monotonic() - started:.1f}s")
    assert wrote < CEILING and read < CEILING
