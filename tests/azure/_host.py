"""What the Functions host and Python worker do, for the parts tests need: index an app's
functions (with the worker's load-time checks), build the binding objects with the
azure.functions converters the worker uses, and call the user function."""

from __future__ import annotations

import inspect
import json
import typing
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.functions import meta
from azure.functions.blob import BlobConverter
from azure.functions.eventgrid import EventGridEventInConverter
from azure.functions.queue import QueueMessageInConverter

from adapters.azure.dev import InvocationContext


class HostContext(InvocationContext):
    """The context the host passes (the one `portable dev --azure` passes too)."""

    def __init__(self, name: str, invocation_id: str = "inv-1") -> None:
        super().__init__(name, invocation_id)


@dataclass
class Loaded:
    """One indexed function: its bindings (as function.json has them) and the user function."""

    name: str
    bindings: list[dict[str, Any]]
    fn: Any

    @property
    def trigger(self) -> dict[str, Any]:
        return next(b for b in self.bindings if str(b["type"]).endswith("Trigger"))

    def __call__(self, payload: Any, invocation_id: str = "inv-1") -> Any:
        arg = self.trigger["name"]
        return self.fn(**{arg: payload, "context": HostContext(self.name, invocation_id)})


def index(app: func.FunctionApp) -> dict[str, Loaded]:
    """The app's functions by name, after the checks the worker makes when it loads them."""
    loaded: dict[str, Loaded] = {}
    for function in app.get_functions():
        name = str(function.get_function_name())
        bindings = json.loads(function.get_function_json())["bindings"]
        fn = function.get_user_function()
        _check_like_the_worker(name, bindings, fn)
        loaded[name] = Loaded(name, bindings, fn)
    return loaded


def _check_like_the_worker(name: str, bindings: list[dict[str, Any]], fn: Any) -> None:
    params = set(inspect.signature(fn).parameters)
    hints = typing.get_type_hints(fn)
    assert hints["context"].__name__ == "Context", name
    bound = {b["name"]: b for b in bindings if b["name"] != "$return"}
    assert params - {"context"} == set(bound), f"{name}: parameters {params} vs bindings {bound}"
    for param, binding in bound.items():
        annotation = hints[param]
        if _is_sdk_type(annotation):
            continue
        converter = _converter(binding["type"])
        assert converter.check_input_type_annotation(annotation), (name, param, annotation)
    if "$return" in {b["name"] for b in bindings}:
        out = next(b for b in bindings if b["name"] == "$return")
        converter = _converter(out["type"])
        assert converter.check_output_type_annotation(hints["return"]), name


def _converter(binding_type: str) -> Any:
    return meta._ConverterMeta.get(binding_type)  # type: ignore[no-untyped-call]


def _is_sdk_type(annotation: Any) -> bool:
    try:
        from azurefunctions.extensions.base import SdkType
    except ImportError:
        return False
    return isinstance(annotation, type) and issubclass(annotation, SdkType)


# -- binding objects, built as the worker builds them ---------------------------------------


def event_grid_event(event: dict[str, Any]) -> Any:
    return EventGridEventInConverter.decode(meta.Datum(json.dumps(event), "json"),
                                            trigger_metadata={})


def input_stream(content: bytes, *, name: str, uri: str, properties: dict[str, Any] | None,
                 metadata: dict[str, str] | None = None) -> func.InputStream:
    trigger = {"BlobTrigger": meta.Datum(name, "string"), "Uri": meta.Datum(uri, "string")}
    if properties is not None:
        trigger["Properties"] = meta.Datum(json.dumps(properties), "json")
    if metadata is not None:
        trigger["Metadata"] = meta.Datum(json.dumps(metadata), "json")
    stream: func.InputStream = BlobConverter.decode(meta.Datum(content, "bytes"),
                                                    trigger_metadata=trigger)
    return stream


def queue_message(body: str | bytes, *, message_id: str = "msg-1", dequeue_count: int = 1,
                  inserted: str = "2024-05-01T10:00:00Z") -> func.QueueMessage:
    trigger = {
        "Id": meta.Datum(message_id, "string"),
        "DequeueCount": meta.Datum(dequeue_count, "int"),
        "InsertionTime": meta.Datum(inserted, "string"),
        "ExpirationTime": meta.Datum("2024-05-08T10:00:00Z", "string"),
        "NextVisibleTime": meta.Datum("2024-05-01T10:10:00Z", "string"),
        "PopReceipt": meta.Datum("receipt", "string"),
    }
    kind = "bytes" if isinstance(body, bytes) else "string"
    message: func.QueueMessage = QueueMessageInConverter.decode(meta.Datum(body, kind),
                                                                trigger_metadata=trigger)
    return message


def http_request(method: str, body: bytes | str = b"", headers: dict[str, str] | None = None,
                 route: str = "events") -> func.HttpRequest:
    data = body.encode() if isinstance(body, str) else body
    return func.HttpRequest(method, f"https://app.azurewebsites.net/api/{route}",
                            headers=headers or {}, body=data)
