"""The dead-letter sink contract: every sink stores, lists, shows and deletes letters alike,
so `portable dlq` and the pipeline work on any of them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from portable import DeadLetter, MemoryStore, Outcome, PermanentError, Pipeline, Sink, new_event
from portable._config import sink_from
from tests.contract.sinks import SINKS, SinkBackend


@pytest.fixture(params=SINKS, ids=[s.name for s in SINKS])
def sink_backend(request: pytest.FixtureRequest) -> SinkBackend:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def sink_url(sink_backend: SinkBackend, request: pytest.FixtureRequest) -> str:
    return sink_backend.url(request)


@pytest.fixture
def sink(sink_url: str) -> Iterator[Sink]:
    opened = sink_from(sink_url)
    yield opened
    opened.close()


def letter(n: int, data: object = None) -> DeadLetter:
    event = new_event({"id": f"ev-{n}", "source": "/contract", "type": "com.example.t",
                       "datacontenttype": "application/json"}, {"n": n} if data is None else data)
    return DeadLetter.build(PermanentError(f"failure {n}"), retryable=False, event=event,
                            attempts=n, handler="mod:handle", provider="local", key=f"k{n}")


def test_a_letter_round_trips_with_everything_it_holds(sink: Sink) -> None:
    original = letter(1, {"text": "żółw 🐢", "nested": {"list": [1, None, True]}})
    sink.put(original)
    [listed] = sink.list()
    shown = sink.get(original.id)
    assert listed == original and shown == original
    assert shown is not None and shown.cloudevent() == original.cloudevent()


def test_raw_deliveries_keep_their_bytes(sink: Sink) -> None:
    raw = DeadLetter.build(ValueError("bad"), retryable=False, raw=b"\x00\xffnot json")
    sink.put(raw)
    stored = sink.get(raw.id)
    assert stored is not None and stored.raw_bytes() == b"\x00\xffnot json" and stored.event is None


def test_list_is_oldest_first_and_limited(sink: Sink) -> None:
    letters = [letter(n) for n in range(1, 6)]
    for item in letters:
        sink.put(item)
    assert [x.id for x in sink.list()] == [x.id for x in letters]
    assert [x.id for x in sink.list(limit=2)] == [x.id for x in letters[:2]]


def test_delete_and_purge(sink: Sink) -> None:
    first, second, third = letter(1), letter(2), letter(3)
    for item in (first, second, third):
        sink.put(item)
    assert sink.delete(second.id) is True
    assert sink.get(second.id) is None
    assert [x.id for x in sink.list()] == [first.id, third.id]
    assert sink.purge() == 2 and sink.list() == []


def test_unknown_ids_are_reported_not_raised(sink: Sink) -> None:
    assert sink.get("no-such-letter") is None


SHARED = [s for s in SINKS if s.shared]


@pytest.mark.parametrize("shared_backend", SHARED, ids=[s.name for s in SHARED])
def test_another_client_sees_the_letters(shared_backend: SinkBackend,
                                         request: pytest.FixtureRequest) -> None:
    url = shared_backend.url(request)
    first, second = sink_from(url), sink_from(url)
    try:
        item = letter(7)
        first.put(item)
        assert second.get(item.id) == item
    finally:
        first.close()
        second.close()


def test_the_pipeline_dead_letters_into_the_sink(sink: Sink) -> None:
    def handler(event: object) -> None:
        raise PermanentError("poison")

    pipeline = Pipeline(handler, store=MemoryStore(), dlq=sink, retry=1)
    result = pipeline.process(new_event({"id": "p-1", "source": "/s", "type": "t"}, {"x": 1}))
    assert result.outcome is Outcome.DEAD_LETTERED
    [stored] = sink.list()
    assert stored.event is not None and stored.event["id"] == "p-1"
    assert stored.error["message"] == "poison" and stored.attempts == 1
