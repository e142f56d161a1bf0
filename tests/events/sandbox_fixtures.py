"""The sandbox as the vendors: it changes records and delivers the signed notifications to the
module's receiver; the pipeline (this process) talks to it through its env vars."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import pytest
import sqlalchemy as sa

from dealer_pipeline.events import ApplySummary, apply_events, followups
from dealer_pipeline.events.followups import FollowupReport
from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox
from dealer_pipeline.settings import get_settings
from dealer_pipeline.store.engine import get_engine
from dealer_pipeline.store.schema import webhook_events
from dealer_pipeline.webhooks.runner import ReceiverHandle
from tests.webhooks.fixtures import AC_SECRET, AT_SECRET, WM_TOKEN

#: The sandbox signs with the same secrets the module's receiver was started with.
SANDBOX_CREDENTIALS = {
    "autotrader_webhook_secret": AT_SECRET,
    "autocosmos_webhook_secret": AC_SECRET,
    "webmotors_leads_token": WM_TOKEN,
}


@pytest.fixture(scope="session")
def events_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxHandle]:
    """One sandbox for the events tests; each module points it at its own receiver."""
    with start_sandbox(seed=11, dealers=2, vehicles=6, credentials=SANDBOX_CREDENTIALS,
                       workdir=tmp_path_factory.mktemp("sandbox")) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def vendor_sandbox(events_sandbox: SandboxHandle, receiver: ReceiverHandle,
                   module_store_url: str) -> Iterator[SandboxHandle]:
    """The sandbox delivering to this module's receiver; this process's settings point at it."""
    events_sandbox.configure(receiver_url=receiver.base_url)
    with pytest.MonkeyPatch.context() as patch:
        for name, value in events_sandbox.env().items():
            patch.setenv(name, value)
        patch.setenv("DEALER_PIPELINE_DATABASE_URL", module_store_url)
        patch.setenv("DEALER_PIPELINE_HTTP_MAX_WAIT_SECONDS", "20")
        get_settings.cache_clear()
        get_engine.cache_clear()
        yield events_sandbox
    events_sandbox.configure(receiver_url=None)
    get_settings.cache_clear()
    get_engine.cache_clear()


@dataclass
class Applied:
    summary: ApplySummary
    after: FollowupReport


def apply_pending_of(engine: sa.Engine, source: str, subject_id: str) -> Applied:
    """Apply the pending events of one subject, then make the vendor calls they ask for."""
    c = webhook_events.c
    with engine.connect() as conn:
        ids = list(conn.execute(sa.select(c.id).where(c.source == source, c.subject_id == subject_id,
                                                      c.status == "pending").order_by(c.id)).scalars())
    summary = apply_events(engine, event_ids=ids)
    return Applied(summary, followups.run(engine, summary.followups, raise_errors=True))


def delivered_statuses(result: dict[str, Any]) -> list[int | None]:
    return [d.get("status") for d in result.get("delivered", [])]
