"""Killing the receiver (SIGKILL) in the middle of a burst loses no acknowledged event."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests

from dealer_pipeline.store.engine import create_store_engine
from dealer_pipeline.webhooks.runner import start_receiver
from tests.webhooks.fixtures import SECRETS_ENV, at_headers, compact, rows, stock_update

BURST = 800
KILL_AFTER = 250
THREADS = 16


def test_sigkill_mid_burst_loses_no_acknowledged_event(store_url: str) -> None:
    env = {"DEALER_PIPELINE_DATABASE_URL": store_url, **SECRETS_ENV}
    batch = uuid.uuid4().hex[:8]
    bodies = [compact(stock_update(stock_id=f"{batch}{i:06d}", version=1)) for i in range(BURST)]
    acknowledged: set[int] = set()
    failed: set[int] = set()
    lock = threading.Lock()
    receiver = start_receiver(env=env)
    killed = threading.Event()
    local = threading.local()

    def send(index: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        try:
            response = session.put(receiver.url("autotrader"), data=bodies[index], headers=at_headers(bodies[index]),
                                   timeout=10)
            ok = response.status_code == 200
        except requests.RequestException:
            ok = False
        with lock:
            (acknowledged if ok else failed).add(index)
            if len(acknowledged) >= KILL_AFTER and not killed.is_set():
                killed.set()
                receiver.kill()

    try:
        with ThreadPoolExecutor(THREADS) as pool:
            list(pool.map(send, range(BURST)))
    finally:
        receiver.kill()
    assert killed.is_set()
    assert failed, "the kill must have interrupted the burst"

    engine = create_store_engine(store_url)
    try:
        stored = {r["subject_id"] for r in rows(engine, "SELECT subject_id FROM webhook_events WHERE subject_id LIKE :p",
                                                 p=f"{batch}%")}
        acked_ids = {f"{batch}{i:06d}" for i in acknowledged}
        assert acked_ids <= stored, f"{len(acked_ids - stored)} acknowledged events were lost"

        # The vendor redelivers what it saw fail; afterwards every notification is stored exactly once.
        with start_receiver(env=env) as again:
            with requests.Session() as session:
                for index in sorted(failed):
                    response = session.put(again.url("autotrader"), data=bodies[index],
                                           headers=at_headers(bodies[index]), timeout=10)
                    assert response.status_code == 200
        counts = rows(engine, "SELECT COUNT(*) AS n, COUNT(DISTINCT subject_id) AS d FROM webhook_events "
                              "WHERE subject_id LIKE :p", p=f"{batch}%")[0]
        assert (counts["n"], counts["d"]) == (BURST, BURST)
    finally:
        engine.dispose()
