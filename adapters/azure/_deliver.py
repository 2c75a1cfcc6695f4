"""Running the items of one delivery: good events through the pipeline, bad entries into the
dead-letter sink. Provider-neutral; every Azure entry uses it."""

from __future__ import annotations

from portable._context import Context
from portable._entry import run_events
from portable._pipeline import Pipeline, Result

from .ingress import Item


def deliver(pipeline: Pipeline, items: list[Item], ctx: Context) -> list[Result]:
    """One Result per item: the events' in order, then one per bad entry (DEAD_LETTERED, or
    RETRY when the sink could not store it)."""
    events = [item.event for item in items if item.event is not None]
    results = run_events(pipeline, events, ctx)
    for item in items:
        if item.error is not None:
            results.append(pipeline.dead_letter_raw(item.payload(), item.error, ctx))
    return results
