"""End to end on the emulators: CloudEvents published to a Pub/Sub topic in binary mode reach a
push handler served by a real functions-framework, with a Firestore store and a Pub/Sub
dead-letter topic, as samples/hello/gcp/deploy.sh wires them in Google Cloud.

The push subscription has a dead-letter policy (5 attempts) to the dead-letter topic. The
emulator sends no ``deliveryAttempt``, so the store counts the deliveries, and the entry's
``max_attempts`` (3) dead-letters before Pub/Sub would: the letter carries the handler's error.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from cloudevents.http import CloudEvent

from adapters import gcp
from adapters.gcp.dlq import PubSubSink
from portable import DeadLetter, new_event
from portable._cli import main as cli
from tests.emulators import free_port, output, start, stop
from tests.gcp.contract_backends import PROJECT, eventually

HANDLER = '''
import json
import os

from adapters import gcp
from portable import PermanentError, RetryableError, context


def handle(event):
    """What the event's data asks for: succeed, fail once, fail always, or reject."""
    kind = event.data["kind"]
    attempt = context().attempt
    with open(os.environ["CALLS_FILE"], "a") as out:
        out.write(json.dumps({"id": event["id"], "attempt": attempt}) + "\\n")
    if kind == "flaky" and attempt == 1:
        raise RetryableError("inventory service timed out")
    if kind == "poison":
        raise RetryableError("inventory service is down")
    if kind == "rejected":
        raise PermanentError("order has no items")
    return {"id": event["id"], "attempt": attempt}


push = gcp.push_handler(handle, retry=1, max_attempts=3)
'''

MAX_DELIVERY_ATTEMPTS = 5


@dataclass
class Deployment:
    topic: str
    subscription: str
    dlq_url: str
    folder: Path
    server: subprocess.Popen[bytes]

    def publish(self, kind: str, event_id: str | None = None) -> CloudEvent:
        event = new_event({"id": event_id or uuid.uuid4().hex, "source": "/e2e/orders",
                           "type": "com.example.order.created",
                           "datacontenttype": "application/json"}, {"kind": kind})
        gcp.publish(event, self.topic)
        return event

    def calls(self, event_id: str) -> list[int]:
        """The attempts at which the handler ran for ``event_id``."""
        path = self.folder / "calls.jsonl"
        lines = path.read_text().splitlines() if path.exists() else []
        return [call["attempt"] for call in map(json.loads, lines) if call["id"] == event_id]

    def outcomes(self, event_id: str) -> list[str]:
        """What the pipeline did with each delivery of ``event_id``, from the server's log."""
        lines = (json.loads(line) for line in output(self.server).splitlines()
                 if line.startswith("{"))
        return [line["outcome"] for line in lines
                if line.get("event_id") == event_id and "outcome" in line]

    def letters(self) -> list[DeadLetter]:
        """The dead letters, as ``portable dlq list --json`` prints them."""
        result = CliRunner().invoke(cli, ["dlq", "list", "--json", "--dlq", self.dlq_url],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return [DeadLetter.from_json(line) for line in result.stdout.splitlines()]

    def letter_for(self, event_id: str) -> DeadLetter | None:
        return next((letter for letter in self.letters()
                     if (letter.event or {}).get("id") == event_id), None)


@pytest.fixture(scope="module")
def deployment(pubsub_emulator: str, firestore_emulator: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    folder = tmp_path_factory.mktemp("e2e")
    source = folder / "orders_function.py"
    source.write_text(textwrap.dedent(HANDLER))
    name = f"e2e-{uuid.uuid4().hex[:12]}"
    topic = f"projects/{PROJECT}/topics/{name}"
    dead_letters = f"projects/{PROJECT}/topics/{name}-dead-letters"
    dlq_url = f"pubsub://{dead_letters}"
    env = {"PUBSUB_EMULATOR_HOST": pubsub_emulator, "FIRESTORE_EMULATOR_HOST": firestore_emulator,
           "GOOGLE_CLOUD_PROJECT": PROJECT, "PORTABLE_STORE": f"firestore://{name}",
           "PORTABLE_DLQ": dlq_url, "CALLS_FILE": str(folder / "calls.jsonl")}
    with pytest.MonkeyPatch.context() as patch:
        for variable, value in env.items():
            patch.setenv(variable, value)
        # The dead-letter topic and the sink's subscription, as deploy.sh creates them.
        PubSubSink(dead_letters, create=True).list()
        port = free_port()
        server = start([str(Path(sys.executable).parent / "functions-framework"),
                        "--source", str(source), "--target", "push", "--host", "127.0.0.1",
                        "--port", str(port)], port, env=env, what="functions-framework")
        subscription = create_push_subscription(topic, dead_letters, f"http://127.0.0.1:{port}/")
        try:
            yield Deployment(topic, subscription, dlq_url, folder, server)
        finally:
            (folder / "server.log").write_text(output(server))
            stop(server)


def create_push_subscription(topic: str, dead_letters: str, endpoint: str) -> str:
    from google.cloud import pubsub_v1

    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    name = topic.replace("/topics/", "/subscriptions/") + "-push"
    publisher.create_topic(request={"name": topic})
    subscriber.create_subscription(request={
        "name": name, "topic": topic, "ack_deadline_seconds": 10,
        "push_config": {"push_endpoint": endpoint},
        "dead_letter_policy": {"dead_letter_topic": dead_letters,
                               "max_delivery_attempts": MAX_DELIVERY_ATTEMPTS},
        "retry_policy": {"minimum_backoff": {"nanos": 100_000_000},
                         "maximum_backoff": {"seconds": 1}},
    })
    subscriber.close()
    return name


@pytest.fixture
def env(deployment: Deployment, pubsub_env: str) -> Deployment:
    return deployment


def test_an_event_published_twice_with_one_id_runs_the_handler_once(env: Deployment) -> None:
    event = env.publish("ok")
    eventually(lambda: env.calls(event["id"]), "the first delivery runs the handler")
    env.publish("ok", event["id"])
    eventually(lambda: "duplicate" in env.outcomes(event["id"]), "the second one is delivered")
    assert env.calls(event["id"]) == [1]
    assert env.outcomes(event["id"]) == ["processed", "duplicate"]


def test_a_transient_failure_succeeds_on_redelivery(env: Deployment) -> None:
    event = env.publish("flaky")
    assert eventually(lambda: env.calls(event["id"]) == [1, 2], "the redelivery succeeds")
    assert env.letter_for(event["id"]) is None


def test_a_poison_event_is_dead_lettered_with_its_error(env: Deployment) -> None:
    event = env.publish("poison")
    letter = eventually(lambda: env.letter_for(event["id"]), "the poison event is dead-lettered")
    assert env.calls(event["id"]) == [1, 2, 3]
    assert letter.origin is None  # written by the framework, not forwarded by Pub/Sub
    assert (letter.attempts, letter.provider) == (3, "gcp")
    assert letter.handler == "orders_function:handle"
    assert letter.error["message"] == "inventory service is down"
    assert letter.error["retryable"] is True and "RetryableError" in letter.error["traceback"]
    assert letter.cloudevent() == event
    # The letter is stored before the outcome is logged: wait for the log line too.
    eventually(lambda: "dead_lettered" in env.outcomes(event["id"]), "the outcome is logged")
    assert env.outcomes(event["id"]) == ["retry", "retry", "dead_lettered"]
    time.sleep(1.0)  # acknowledged: no fourth delivery
    assert env.calls(event["id"]) == [1, 2, 3]


def test_a_rejected_event_is_dead_lettered_at_once(env: Deployment) -> None:
    event = env.publish("rejected")
    letter = eventually(lambda: env.letter_for(event["id"]), "the rejected event is dead-lettered")
    assert env.calls(event["id"]) == [1]
    assert (letter.attempts, letter.error["retryable"]) == (1, False)
    assert letter.error["message"] == "order has no items"


EXPECTED_CALLS = {"ok": [1], "flaky": [1, 2], "poison": [1, 2, 3], "rejected": [1]}


def test_nothing_is_lost(env: Deployment) -> None:
    """A burst of every kind: each event ran to success or is a dead letter, and only once."""
    events = {env.publish(kind)["id"]: kind for kind in list(EXPECTED_CALLS) * 3}
    failing = {event_id for event_id, kind in events.items() if kind in ("poison", "rejected")}

    def settled() -> dict[str, DeadLetter] | None:
        letters = {(letter.event or {}).get("id", ""): letter for letter in env.letters()}
        ran = all(env.calls(event_id) == EXPECTED_CALLS[kind] for event_id, kind in events.items())
        return letters if ran and failing <= letters.keys() else None

    letters = eventually(settled, "every event is processed or dead-lettered")
    assert letters.keys() & events.keys() == failing
    assert all(letters[event_id].origin is None for event_id in failing)
    time.sleep(1.0)  # everything was acknowledged: nothing runs again
    assert all(env.calls(event_id) == EXPECTED_CALLS[kind] for event_id, kind in events.items())
