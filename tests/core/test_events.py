"""CloudEvent construction and wire forms: nothing invented, nothing lost."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portable import MalformedEventError, _events, from_json, new_event, to_json


def test_new_event_invents_no_id_and_no_time() -> None:
    event = new_event({"id": "1", "source": "/s", "type": "t"})
    assert "time" not in event.get_attributes() and event["id"] == "1"
    with pytest.raises(MalformedEventError, match="id"):
        new_event({"source": "/s", "type": "t"})


@pytest.mark.parametrize(
    "attrs,message",
    [
        ({"id": "1", "source": "/s"}, "type"),
        ({"id": "1", "source": "/s", "type": "t", "specversion": "0.3"}, "specversion"),
        ({"id": "1", "source": "/s", "type": "t", "Bad-Name": "x"}, "attribute name"),
    ],
)
def test_invalid_attributes_are_named(attrs: dict[str, str], message: str) -> None:
    with pytest.raises(MalformedEventError, match=message):
        new_event(attrs)


attribute_values = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=30)
json_data = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(attribute_values, attribute_values, attribute_values, json_data | st.binary(max_size=50))
def test_structured_and_binary_round_trips(
    event_id: str, source: str, event_type: str, data: object
) -> None:
    # Bytes need a content type to survive binary mode: with none, a body is read as JSON when
    # it parses (as the cloudevents SDK does), so b"0" would come back as 0.
    content_type = "application/octet-stream" if isinstance(data, bytes) else "application/json"
    event = new_event(
        {"id": event_id, "source": source, "type": event_type, "datacontenttype": content_type},
        data,
    )
    assert from_json(to_json(event)) == event
    headers, body = _events.to_binary(event)
    received = _events.from_binary(headers, body, headers.get("content-type"))
    if data == b"":  # binary mode: an empty body is no data
        assert received.data is None and received.get_attributes() == event.get_attributes()
    else:
        assert received == event


def test_content_id_is_stable_and_separates_parts() -> None:
    assert _events.content_id("a", "b") == _events.content_id("a", "b")
    assert _events.content_id("ab", "") != _events.content_id("a", "b")
