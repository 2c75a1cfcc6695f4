"""The Pub/Sub dead-letter sink: ``pubsub://projects/P/topics/T``.

``put`` publishes the dead letter's JSON to the topic, with attributes to filter and search on
(``portable.letter``, ``portable.error``, ``portable.event-id``, ``portable.event-type``,
``portable.handler``, ...), and waits until Pub/Sub has stored it.

Reading goes through a subscription the sink manages, ``<T>-portable-dlq`` by default
(``?subscription=NAME`` names another). A topic keeps nothing by itself: only messages
published while a subscription exists are kept, so that subscription must exist before the
first letter. ``?create=true`` creates the topic and the subscription on first use (local
runs, tests); otherwise ``put`` checks once that the subscription exists and raises
ConfigurationError if not, rather than publish letters nobody keeps. deploy.sh in
samples/hello/gcp creates both, and the subscription with no expiry and the longest retention
Pub/Sub allows (7 days: a Pub/Sub sink is a queue to act on, not an archive).

Pub/Sub has no random access, so ``list``, ``get``, ``delete`` and ``purge`` pull every message
the subscription holds, keep them leased while they look, then give back (ack deadline 0) the
ones they leave, so the letters are available again at once. ``delete`` and ``purge`` ack what
they remove. ``put`` with the id of a letter already there (``portable dlq replay`` recording
a new failure) adds a message; reads show the newest under the letter's first position, and
``delete`` acks them all. Two readers at the same moment each see only the letters the other
has not leased: the sink is for one operator at a time, as ``portable dlq`` is.

Messages that Pub/Sub dead-lettered itself (a subscription's dead-letter policy pointed at this
topic) carry ``CloudPubSubDeadLetterSource*`` attributes. They read as letters with ``origin``
``{"kind": "pubsub-deadletter", "source": "projects/P/subscriptions/S", ...}``, the CloudEvent
the message carried (``ce-*`` attributes, or Google's messagePublished event) and its data as
``raw``. ``portable dlq replay`` publishes such a message back to the topic of its source
subscription with its original attributes (:meth:`PubSubSink.redeliver`), then acks it. Any
other message on the topic reads the same way, without an origin, and replays like any letter.
"""

from __future__ import annotations

import base64
import re
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from portable._config import backend_url
from portable._deadletter import DeadLetter, HoldingSink
from portable._errors import ConfigurationError, MalformedEventError, SinkUnavailable
from portable._events import to_structured

from . import egress
from ._errors import installed, translated
from ._pubsub import published

if TYPE_CHECKING:
    from google.cloud.pubsub_v1 import SubscriberClient

TOPIC_PATH = re.compile(r"^projects/([^/]+)/topics/([^/]+)$")
SUBSCRIPTION_SUFFIX = "-portable-dlq"
URL_OPTIONS = frozenset({"create", "subscription"})
LETTER = "portable.letter"  # the attribute that marks a letter this sink wrote (its id)
SENT = "portable.sent"  # orders letters published within one millisecond
SOURCE = "CloudPubSubDeadLetterSource"
SOURCE_SUBSCRIPTION = SOURCE + "Subscription"
SOURCE_PROJECT = SOURCE + "SubscriptionProject"
SOURCE_COUNT = SOURCE + "DeliveryCount"
SOURCE_PUBLISHED = SOURCE + "TopicPublishTime"
ACK_DEADLINE = 60  # seconds a read holds its leases at most
RETENTION_SECONDS = 7 * 24 * 3600  # the longest a subscription keeps a message
PULL_BATCH = 1000
EMPTY_PULLS = 2  # a pull may come back empty while messages remain: ask twice
CHUNK = 1000  # ack ids per acknowledge / modify_ack_deadline request
TIMEOUT = 30.0


class ForwardedMessage(Exception):  # noqa: N818 - what the letter is, as its error type shows
    """The error of a message this library did not write: one a Pub/Sub dead-letter policy
    forwarded (its ``reason`` says after how many attempts), or one published there directly."""


@dataclass
class _Held:
    """One letter as read: the newest message with its id, and the leases of all of them."""

    letter: DeadLetter
    order: tuple[Any, ...]
    ack_ids: list[str] = field(default_factory=list)
    acked: bool = False


class PubSubSink(HoldingSink[_Held]):
    def __init__(self, topic: str, *, subscription: str | None = None,
                 create: bool = False) -> None:
        found = TOPIC_PATH.match(topic)
        if found is None:
            raise ConfigurationError(
                f"{topic!r} is not a Pub/Sub topic path (projects/PROJECT/topics/TOPIC)")
        project, name = found.groups()
        self.topic = topic
        self.subscription = (f"projects/{project}/subscriptions/"
                             f"{subscription or name + SUBSCRIPTION_SUFFIX}")
        self._create = create
        self._ready = False
        self._where = f"pubsub sink {topic}"

    @classmethod
    def from_url(cls, url: str) -> PubSubSink:
        """``pubsub://projects/P/topics/T[?create=true][&subscription=NAME]``."""
        parsed = backend_url(url, "pubsub", URL_OPTIONS, "Pub/Sub sink",
                             "pubsub://projects/P/topics/T")
        return cls(parsed.location, subscription=parsed.options.get("subscription"),
                   create=parsed.flag("create"))

    @cached_property
    def _subscriber(self) -> SubscriberClient:
        with installed("google-cloud-pubsub"):
            from google.cloud.pubsub_v1 import SubscriberClient
        with translated(self._where, SinkUnavailable):
            return SubscriberClient()

    # -- writing --------------------------------------------------------------------------

    def put(self, letter: DeadLetter) -> None:
        self._prepare()
        attributes = {LETTER: letter.id, SENT: str(time.time_ns()), **_describe(letter)}
        message = egress.Message(letter.to_json().encode("utf-8"), attributes)
        self._publish(self.topic, message)

    def redeliver(self, letter: DeadLetter, target: str | None = None) -> bool:
        """Publish a message Pub/Sub dead-lettered back to the topic of its source
        subscription, with its original attributes; False for any other letter. (Replay
        then deletes the letter, which acks it here.)"""
        origin = letter.origin or {}
        if origin.get("kind") != "pubsub-deadletter":
            return False
        with translated(f"{self._where}: looking up {origin['source']}", SinkUnavailable):
            source = self._subscriber.get_subscription(
                request={"subscription": origin["source"]}, timeout=TIMEOUT)
        self._publish(source.topic, egress.Message(letter.raw_bytes() or b"",
                                                   dict(origin["attributes"])))
        return True

    def _publish(self, topic: str, message: egress.Message) -> None:
        with translated(f"{self._where}: publishing to {topic}", SinkUnavailable):
            future = egress.default_publisher().publish(topic, message.data, **message.attributes)
            future.result(timeout=TIMEOUT)

    def _prepare(self) -> None:
        """Once: create the topic and subscription (``?create=true``), or check that the
        subscription exists; letters published before it would be kept nowhere."""
        if self._ready:
            return
        with translated(f"{self._where}: subscription {self.subscription}", SinkUnavailable):
            if self._create:
                self._create_missing()
            else:
                self._subscriber.get_subscription(
                    request={"subscription": self.subscription}, timeout=TIMEOUT)
        self._ready = True

    def _create_missing(self) -> None:
        from google.api_core.exceptions import AlreadyExists

        with suppress(AlreadyExists):
            egress.default_publisher().create_topic(request={"name": self.topic},
                                                    timeout=TIMEOUT)
        with suppress(AlreadyExists):
            self._subscriber.create_subscription(request={
                "name": self.subscription, "topic": self.topic,
                "ack_deadline_seconds": ACK_DEADLINE,
                "message_retention_duration": {"seconds": RETENTION_SECONDS},
                "expiration_policy": {},  # never expires
            }, timeout=TIMEOUT)

    # -- reading --------------------------------------------------------------------------

    @contextmanager
    def _holding(self) -> Iterator[Sequence[_Held]]:
        """Every letter the subscription holds, oldest first, leased while the caller looks;
        the letters the caller did not acknowledge are given back at once."""
        self._prepare()
        with translated(f"{self._where}: reading {self.subscription}", SinkUnavailable):
            held = _letters(self._pull_all())
            try:
                yield held
            finally:
                self._requests("modify_ack_deadline", [item for item in held if not item.acked],
                               ack_deadline_seconds=0)

    def _pull_all(self) -> Sequence[Any]:
        received: list[Any] = []
        empty = 0
        while empty < EMPTY_PULLS:
            with warnings.catch_warnings():
                # Deprecated for consumers that wait for work; a sink reading what is there
                # must not wait for messages that never come (EMPTY_PULLS covers short pulls).
                warnings.filterwarnings("ignore", "The return_immediately", DeprecationWarning)
                response = self._subscriber.pull(request={
                    "subscription": self.subscription, "max_messages": PULL_BATCH,
                    "return_immediately": True}, timeout=TIMEOUT)
            received += response.received_messages
            empty = 0 if response.received_messages else empty + 1
        return received

    def _remove(self, items: Sequence[_Held]) -> None:
        self._requests("acknowledge", items)
        for item in items:
            item.acked = True

    def _requests(self, method: str, items: Sequence[_Held], **fields: Any) -> None:
        """Call ``acknowledge`` or ``modify_ack_deadline`` for the leases of ``items``."""
        ack_ids = [ack_id for item in items for ack_id in item.ack_ids]
        call = getattr(self._subscriber, method)
        for start in range(0, len(ack_ids), CHUNK):
            call(request={"subscription": self.subscription,
                          "ack_ids": ack_ids[start:start + CHUNK], **fields}, timeout=TIMEOUT)

    def close(self) -> None:
        if "_subscriber" in self.__dict__:
            self._subscriber.close()
            del self.__dict__["_subscriber"]


# -- messages -> letters (pure) ----------------------------------------------------------------

def _letters(received: Sequence[Any]) -> list[_Held]:
    """Received messages -> one _Held per letter id, oldest first, content of the newest."""
    letters: dict[str, _Held] = {}
    for item in received:
        message = item.message
        order = (message.publish_time, int(message.attributes.get(SENT, 0)),
                 message.message_id)
        letter = read_message(message.data, dict(message.attributes), message.message_id,
                              message.publish_time.rfc3339())
        held = letters.setdefault(letter.id, _Held(letter, order))
        if order > held.order:
            held.letter = letter
        held.order = min(held.order, order)
        held.ack_ids.append(item.ack_id)
    return sorted(letters.values(), key=lambda held: held.order)


def read_message(data: bytes, attributes: Mapping[str, str], message_id: str,
                 publish_time: str) -> DeadLetter:
    """A message on the dead-letter topic -> the DeadLetter it is: a letter this sink wrote,
    or a message that Pub/Sub (or anyone) put there, with its CloudEvent and raw data."""
    if LETTER in attributes:
        return DeadLetter.from_json(data)
    original = {k: v for k, v in attributes.items() if not k.startswith(SOURCE)}
    source = _source_subscription(attributes)
    count = int(attributes.get(SOURCE_COUNT, 1))
    origin = None
    reason = "published to the dead-letter topic by something other than portable-functions"
    if source is not None:
        reason = f"Pub/Sub dead-lettered it after {count} delivery attempt(s) on {source}"
        origin = {"kind": "pubsub-deadletter", "source": source, "message_id": message_id,
                  "delivery_count": count, "attributes": original}
    letter = DeadLetter.build(ForwardedMessage(reason), retryable=True, raw=data,
                              attempts=count, provider="gcp")
    return replace(letter, id=message_id, origin=origin,
                   event=_event(data, original, message_id, publish_time, source),
                   first_failure=attributes.get(SOURCE_PUBLISHED, publish_time),
                   last_failure=publish_time)


def _source_subscription(attributes: Mapping[str, str]) -> str | None:
    name = attributes.get(SOURCE_SUBSCRIPTION)
    if not name:
        return None
    if name.startswith("projects/"):
        return name
    return f"projects/{attributes.get(SOURCE_PROJECT, '_')}/subscriptions/{name}"


def _event(data: bytes, attributes: dict[str, str], message_id: str, publish_time: str,
           subscription: str | None) -> dict[str, Any] | None:
    """The CloudEvent the source subscription delivered, as ingress reads it; None if none."""
    message = {"data": base64.b64encode(data).decode("ascii"), "attributes": attributes,
               "messageId": message_id, "publishTime": publish_time}
    try:
        return to_structured(published(message, subscription=subscription))
    except MalformedEventError:
        return None


def _describe(letter: DeadLetter) -> dict[str, str]:
    """Attributes to filter and search letters by, within Pub/Sub's 1024-byte value limit."""
    event = letter.event or {}
    values = {
        "portable.error": letter.error.get("type"),
        "portable.event-id": event.get("id"),
        "portable.event-type": event.get("type"),
        "portable.event-source": event.get("source"),
        "portable.handler": letter.handler,
        "portable.provider": letter.provider,
        "portable.attempts": str(letter.attempts),
        "content-type": "application/json",
    }
    return {name: _fit(str(value)) for name, value in values.items() if value}


def _fit(value: str) -> str:
    return value.encode("utf-8")[:egress.MAX_VALUE_BYTES].decode("utf-8", "ignore")
