"""Conversion cost per event: each adapter's ingress against the peer doing the same conversion.

    python -m tests.benchmarks.conversion [--seconds S] [--rounds R]

- GCS legacy background event -> CloudEvent: ``adapters.gcp.to_cloudevents`` vs
  functions-framework's own ``event_conversion.background_event_to_cloud_event`` (given a
  request whose ``get_json()`` returns the parsed body, so neither pays for Flask);
- S3 notification -> CloudEvent: ``adapters.aws.to_cloudevents`` vs Powertools' ``S3Event``
  data class, reading the fields the CloudEvent is made of (name, source, region, time,
  bucket, decoded key, request ids, sequencer);
- Event Grid event (JSON text) -> CloudEvent: ``adapters.azure.to_cloudevents`` vs
  azure-functions' Event Grid input converter building its ``EventGridEvent`` from the same
  text, as the Functions worker does for every trigger.

Inputs are the real payloads of ../shared/fixtures. Rounds alternate between ours and the
peer; each keeps its best round.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

from tests.benchmarks._table import (
    Row,
    Target,
    best_interleaved,
    calibrate,
    per_call,
    run_alone,
    skipped,
)
from tests.conftest import fixture

NO_SLOWER = Target(1.0, compared=True)
"""Ours per event / the peer's per event (issue 13)."""
PEER_HINT = "pip install 'portable-functions[bench]'"

Case = tuple[Callable[[], object], Callable[[], object]]


class _JsonRequest:
    """What functions-framework's conversion reads of a Flask request."""

    path = "/"

    def __init__(self, body: Any) -> None:
        self._body = body

    def get_json(self) -> Any:
        return self._body


def gcs_legacy() -> Case:
    from functions_framework import event_conversion

    from adapters import gcp

    payload = fixture("gcp/gcs_finalize_legacy_background.json")
    request = _JsonRequest(payload)
    return (lambda: gcp.to_cloudevents(payload),
            lambda: event_conversion.background_event_to_cloud_event(request))


def s3_notification() -> Case:
    from aws_lambda_powertools.utilities.data_classes import S3Event

    from adapters import aws

    payload = fixture("aws/s3_object_created_put.json")

    def powertools() -> list[tuple[Any, ...]]:
        return [(record.event_name, record.event_source, record.aws_region, record.event_time,
                 record.s3.bucket.name, unquote_plus(record.s3.get_object.key),
                 record.response_elements.get("x-amz-request-id"),
                 record.response_elements.get("x-amz-id-2"), record.s3.get_object.sequencer)
                for record in S3Event(payload).records]

    return lambda: aws.to_cloudevents(payload), powertools


def event_grid() -> Case:
    from azure.functions.eventgrid import EventGridEventInConverter
    from azure.functions.meta import Datum

    from adapters import azure

    text = json.dumps(fixture("azure/eventgrid_blob_created.json")[0])
    return (lambda: azure.to_cloudevents(text),
            lambda: EventGridEventInConverter.decode(Datum(text, "json"), trigger_metadata=None))


CASES: dict[str, Callable[[], Case]] = {
    "conversion: GCS legacy event (peer: functions-framework)": gcs_legacy,
    "conversion: S3 notification (peer: Powertools S3Event)": s3_notification,
    "conversion: Event Grid event (peer: azure-functions)": event_grid,
}


def rows(quick: bool = False, seconds: float = 0.2, rounds: int = 9) -> list[Row]:
    out = []
    for name, build in CASES.items():
        try:
            ours, peer = build()
        except ImportError as exc:
            out.append(skipped(name, f"{exc.name} is not installed ({PEER_HINT})"))
            continue
        if quick:
            ours_s, peer_s = per_call(ours, 3), per_call(peer, 3)
        else:
            counts = [calibrate(fn, seconds) for fn in (ours, peer)]
            ours_s, peer_s = best_interleaved(
                [lambda fn=fn, n=n: per_call(fn, n) for fn, n in zip((ours, peer), counts,
                                                                      strict=True)], rounds)
        out.append(Row(name, ours_s * 1e6, "us/event", peer_s * 1e6, NO_SLOWER))
    return out



if __name__ == "__main__":
    run_alone(rows, "conversion cost per event against the peers")
