"""storage.open / read / write on S3 (moto in server mode): the exact version an event
announced, missing objects, and a large object streamed both ways under a memory check."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest

from adapters import aws
from portable import ConfigurationError, ObjectNotFound, storage
from tests.aws.emulator import MotoServer
from tests.conftest import fixture
from tests.samples.streaming import MiB, round_trip

LARGE = 1024 * MiB
CEILING = 128 * MiB  # an eighth of the object; the write holds up to 8 parts of 8 MiB


@pytest.fixture
def bucket(boto: Any, unique: Any) -> str:
    name = unique("objects")
    boto("s3").create_bucket(Bucket=name)
    return str(name)


def created_event(boto: Any, bucket: str, key: str, version: str | None) -> Any:
    """The S3 notification record Lambda would get for this upload, as a CloudEvent."""
    record = fixture("aws/s3_object_created_put.json")["Records"][0]
    head = boto("s3").head_object(Bucket=bucket, Key=key, **(
        {"VersionId": version} if version else {}))
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["object"].update({"key": key.replace(" ", "+"), "size": head["ContentLength"],
                                   "eTag": head["ETag"].strip('"')})
    if version:
        record["s3"]["object"]["versionId"] = version
    else:
        record["s3"]["object"].pop("versionId", None)
    [event] = aws.to_cloudevents({"Records": [record]})
    return event


def test_write_then_read_round_trips_with_the_content_type(boto: Any, bucket: str) -> None:
    url = f"s3://{bucket}/reports/q1 final%.csv"
    storage.write(url, "a,b\n1,2\n", "text/csv")
    assert storage.read(url) == b"a,b\n1,2\n"
    head = boto("s3").head_object(Bucket=bucket, Key="reports/q1 final%.csv")
    assert head["ContentType"] == "text/csv"
    with storage.open(url) as stream:
        assert stream.read(4) == b"a,b\n" and stream.read() == b"1,2\n"


def test_the_event_reads_the_version_it_announced(boto: Any, bucket: str) -> None:
    s3 = boto("s3")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"first")["VersionId"]
    event = created_event(boto, bucket, "doc.txt", first)
    s3.put_object(Bucket=bucket, Key="doc.txt", Body=b"second, overwritten since")
    assert storage.read(storage.object_event(event)) == b"first"
    assert storage.read(f"s3://{bucket}/doc.txt") == b"second, overwritten since"


def test_an_event_of_an_unversioned_bucket_reads_the_object(boto: Any, bucket: str) -> None:
    boto("s3").put_object(Bucket=bucket, Key="a b.txt", Body=b"spaced")
    obj = storage.object_event(created_event(boto, bucket, "a b.txt", None))
    assert (obj.key, obj.version, storage.read(obj)) == ("a b.txt", None, b"spaced")


def test_a_missing_object_version_or_bucket_is_object_not_found(
        boto: Any, bucket: str, unique: Any) -> None:
    s3 = boto("s3")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="there", Body=b"x")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="there", VersionId=version)  # that version is gone
    for target in (f"s3://{bucket}/gone", f"s3://{unique('nobucket')}/key",
                   SimpleNamespace(url=f"s3://{bucket}/there", version=version)):
        with pytest.raises(ObjectNotFound, match="no such object"):
            storage.open(target)
    with pytest.raises(FileNotFoundError):  # the same except clause as for file:// URLs
        storage.read(f"s3://{bucket}/gone")
    with pytest.raises(ConfigurationError, match="bucket does not exist"):
        storage.write(f"s3://{unique('nobucket')}/out.json", b"{}")
    with pytest.raises(ConfigurationError, match="not an object URL"):
        storage.read(f"s3://{bucket}")


def test_a_large_object_is_streamed_both_ways(moto_server: MotoServer, bucket: str) -> None:
    started = time.monotonic()
    wrote, read = round_trip(f"s3://{bucket}/large.bin", LARGE)
    print(f"S3 {LARGE // MiB} MiB: write +{wrote / MiB:.0f} MiB, read +{read / MiB:.0f} MiB "
          f"resident, {time.monotonic() - started:.1f}s")
    assert wrote < CEILING and read < CEILING
