"""Failed webhook events put back in the queue once their cause is fixed (`dealer-pipeline events retry`).

Only `failed` events move: an applied, ignored or pending one is left as it is, so a retry can never apply
an event twice. Attempts start again from zero; the last error stays on the row until the next attempt
replaces it, so the reason it failed is not lost by asking again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from dealer_pipeline.events.model import FAILED, PENDING
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.schema import webhook_events


def requeue_failed(engine: sa.Engine, *, event_ids: Sequence[int] | None = None,
                   source: str | None = None) -> list[int]:
    """Set failed events back to pending (those of `event_ids`, or every one; of `source` only, when
    given); returns the ids requeued, oldest first."""
    c = webhook_events.c
    conditions = [c.status == FAILED]
    if event_ids is not None:
        conditions.append(c.id.in_(list(event_ids)))
    if source is not None:
        conditions.append(c.source == source)
    with transaction(engine) as conn:
        ids = list(conn.execute(sa.select(c.id).where(*conditions).order_by(c.id)).scalars())
        if ids:
            conn.execute(sa.update(webhook_events).where(c.id.in_(ids), c.status == FAILED)
                         .values(status=PENDING, attempts=0))
    return ids
