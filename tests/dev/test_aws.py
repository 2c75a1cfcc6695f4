"""`portable dev --aws`: uploads to moto reach the Lambda entry through S3 -> SQS -> the
event source mapping stand-in, and the handler's marker lands in moto's S3."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from portable._sqlite import SQLiteSink
from tests.aws.emulator import MotoServer
from tests.dev.support import DevRun, eventually, session_members


def s3_client(settings: dict[str, str]) -> Any:
    import boto3

    return boto3.session.Session(
        aws_access_key_id=settings.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=settings.get("AWS_SECRET_ACCESS_KEY", "testing"),
        region_name="us-east-1").client("s3", endpoint_url=settings["AWS_ENDPOINT_URL"])


def marker(s3: Any, key: str) -> Any:
    try:
        return json.loads(s3.get_object(Bucket="uploads", Key=f"done/{key}")["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


@pytest.mark.usefixtures("moto_installed")
def test_an_upload_runs_the_lambda_entry_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    dev = DevRun(tmp_path, "--aws")
    try:
        settings = dev.ready()
        dev.wait_for("starting moto")  # progress while the emulator starts
        dev.wait_for("s3://uploads -> SQS uploads-events")
        assert settings["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:")
        dev.wait_for("dead letters:", dev.dead_letters)

        s3 = s3_client(settings)
        s3.put_object(Bucket="uploads", Key="photos/my cat.jpg", Body=b"meow")
        line = dev.wait_for("photos/my cat.jpg", "com.amazonaws.s3.ObjectCreated:Put")
        assert line.startswith("aws") and "processed" in line and "attempt 1" in line
        assert eventually(lambda: marker(s3, "photos/my cat.jpg"), "the marker") == {
            "key": "photos/my cat.jpg", "size": 4, "type": "com.amazonaws.s3.ObjectCreated:Put",
            "content": "meow"}

        s3.put_object(Bucket="uploads", Key="bad/broken.txt", Body=b"??")
        line = dev.wait_for("bad/broken.txt", "dead_lettered")
        assert "PermanentError: refused bad/broken.txt" in line and "portable dlq show" in line
        [letter] = SQLiteSink(dev.dead_letters).list()
        assert letter.provider == "aws" and letter.event is not None
        assert letter.event["subject"] == "bad/broken.txt"

        s3.delete_object(Bucket="uploads", Key="photos/my cat.jpg")
        dev.wait_for("photos/my cat.jpg", "ObjectRemoved:Delete", "processed")
        running = " ".join(session_members(dev.proc.pid).values())
        assert "moto" in running and "functions_framework" in running  # what stop() must end
    finally:
        code = dev.stop()
    assert code == 0 and "SIGINT: stopping" in dev.output()
    # one notification, one run: no delivery is printed twice
    assert len([line for line in dev.lines if " photos/my cat.jpg " in line]) == 2


def test_an_endpoint_in_the_environment_is_used_and_left_running(
        tmp_path: Path, moto_server: MotoServer) -> None:
    dev = DevRun(tmp_path, "--aws", env=moto_server.environment)
    try:
        assert dev.ready() == {}  # nothing to export: the user's own settings stay as they are
        dev.wait_for("aws", "using AWS_ENDPOINT_URL from the environment")
        assert "starting moto" not in dev.output()
        s3 = s3_client(moto_server.environment)
        s3.put_object(Bucket="uploads", Key="reused.txt", Body=b"x")
        dev.wait_for("reused.txt", "processed")
    finally:
        assert dev.stop() == 0
    s3.head_bucket(Bucket="uploads")  # the emulator it did not start still serves
