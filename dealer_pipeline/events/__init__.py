"""Applying stored webhook events to the canonical store (domain code: no Dagster here).

The receiver stores events as `pending`; `apply_events` applies them idempotently and marks
each `applied`, `ignored` (with why, e.g. an older version) or `failed` (with the error),
counting `attempts`. The event's own status is the truth: running the same selection twice,
or two runs over overlapping selections, applies every event once.
"""

from dealer_pipeline.events.apply import ALL_DEALERS, ApplySummary, apply_all_pending, apply_events
from dealer_pipeline.events.queue import EventBatch, PendingEvent, group_by_dealer, pending_events

__all__ = [
    "ALL_DEALERS",
    "ApplySummary",
    "EventBatch",
    "PendingEvent",
    "apply_all_pending",
    "apply_events",
    "group_by_dealer",
    "pending_events",
]
