"""Group commit of events: one row per key, whatever the grouping or the concurrency."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from dealer_pipeline.store.schema import webhook_events
from dealer_pipeline.store.types import utcnow
from dealer_pipeline.webhooks import storage
from dealer_pipeline.webhooks.keys import EventIdentity


def _row(key: str, body: bytes = b"{}") -> dict:
    return storage.event_row(source="autotrader", identity=EventIdentity(key, "STOCK_UPDATE", subject_id=key),
                             received_at=utcnow(), headers={"Authorization": "Bearer x", "X-Other": "1"}, raw=body)


def test_a_key_repeated_within_one_group_is_stored_once(store: sa.Engine) -> None:
    results = storage.insert_events(store, [_row("a:1"), _row("b:1"), _row("a:1")])
    assert [(r.created, r.event_id is not None) for r in results] == [(True, True), (True, True), (False, False)]
    again = storage.insert_events(store, [_row("b:1"), _row("c:1")])
    assert [r.created for r in again] == [False, True]
    with store.connect() as conn:
        stored = conn.execute(sa.select(webhook_events.c.event_key, webhook_events.c.headers)
                              .order_by(webhook_events.c.id)).all()
    assert [key for key, _ in stored] == ["a:1", "b:1", "c:1"]
    assert all("authorization" not in headers for _, headers in stored)  # credentials never kept


def test_writer_under_concurrency_creates_each_key_once(store: sa.Engine) -> None:
    writer = storage.EventWriter(store, threads=2, max_group=16)
    try:
        keys = [f"k{i % 40}:1" for i in range(400)]  # every key submitted ten times
        with ThreadPoolExecutor(32) as pool:
            results = list(pool.map(lambda key: writer.store(_row(key)), keys))
    finally:
        writer.close()
    assert sum(r.created for r in results) == 40
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(webhook_events)).scalar() == 40


def test_nul_and_invalid_utf8_bodies_are_storable(store: sa.Engine) -> None:
    (result,) = storage.insert_events(store, [_row("z:1", b"\x00\xff{broken")])
    assert result.created
    with store.connect() as conn:
        body = conn.execute(sa.select(webhook_events.c.body)).scalar()
    assert body == "\\x00\\xff{broken"


def test_a_request_that_went_away_does_not_stop_the_writer(store: sa.Engine) -> None:
    writer = storage.EventWriter(store, threads=0)  # the loop is run below, in this thread
    abandoned = writer.submit(_row("gone:1"))
    assert abandoned.cancel()  # the client disconnected before its answer
    waiting = writer.submit(_row("here:1"))
    writer._queue.put(None)
    writer._loop()
    assert waiting.result(timeout=5).created
    with store.connect() as conn:
        keys = set(conn.execute(sa.select(webhook_events.c.event_key)).scalars())
    assert keys == {"gone:1", "here:1"}  # kept anyway: a redelivery finds it a duplicate


def test_a_row_the_store_refuses_is_kept_as_failed_with_its_body(store: sa.Engine) -> None:
    """Values no column takes (here a version past 64 bits) cost the row its parsed fields, not its body."""
    writer = storage.EventWriter(store, threads=1)
    try:
        refused = dict(_row("v:1", b'{"versionNumber": 1180591620717411303424}'), subject_version=2**70)
        result = writer.store(refused)
        fine = writer.store(_row("v:2"))
    finally:
        writer.close()
    assert result.created and fine.created
    with store.connect() as conn:
        kept = conn.execute(sa.select(webhook_events).where(webhook_events.c.id == result.event_id)).mappings().one()
    assert kept["status"] == "failed" and kept["subject_version"] is None
    assert kept["body"] == '{"versionNumber": 1180591620717411303424}'
    assert kept["event_key"].startswith("sha256:") and "kept as received" in kept["error"]
