"""Fixtures for tests that talk to a running receiver: a store per backend shared by a test
module, the receiver subprocess on it, and request signing done here with `hmac` directly
(independent of the receiver's own verification code)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa

from dealer_pipeline.store.engine import create_store_engine
from dealer_pipeline.store.schema import webhook_events, webhook_rejections
from dealer_pipeline.webhooks.runner import ReceiverHandle, start_receiver
from tests.conftest import BACKENDS, fresh_pg_database

AT_SECRET = "at-notification-secret-for-tests-0001"
AC_SECRET = "ac-webhook-secret-for-tests-0001"
WM_TOKEN = "wm-cb-token-for-tests-5f2d9a7c"

SECRETS_ENV = {
    "AUTOTRADER_WEBHOOK_SECRET": AT_SECRET,
    "AUTOCOSMOS_WEBHOOK_SECRET": AC_SECRET,
    "WEBMOTORS_LEADS_TOKEN": WM_TOKEN,
    "DEALER_PIPELINE_WEBHOOK_MAX_BYTES": str(256 * 1024),
}
MAX_BYTES = 256 * 1024


def at_sign(body: bytes, *, t: int | None = None, secret: str = AT_SECRET) -> str:
    t = int(time.time()) if t is None else t
    return hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()


def at_headers(body: bytes, *, t: int | None = None, secret: str = AT_SECRET) -> dict[str, str]:
    t = int(time.time()) if t is None else t
    return {"Content-Type": "application/json", "Autotrader-Signature": f"t={t},v1={at_sign(body, t=t, secret=secret)}"}


def ac_headers(hook_id: str, *, topic: str = "invitacionagencia_aceptada", t: int | None = None,
               secret: str = AC_SECRET) -> dict[str, str]:
    t = int(time.time()) if t is None else t
    message = f"{hook_id}\n{t}\n{topic}".encode()
    signature = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()
    return {
        "Content-Type": "application/json",
        "Notification-Hook-ID": hook_id,
        "Notification-Timestamp": str(t),
        "Notification-Topic": topic,
        "Notification-Signature": signature,
    }


def compact(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def stock_update(stock_id: str | None = None, version: int = 1, advertiser_id: str = "10012345",
                 **metadata: Any) -> dict[str, Any]:
    """A minimal STOCK_UPDATE notification body (tests of intake need no full record)."""
    stock_id = stock_id or uuid.uuid4().hex
    return {
        "id": stock_id,
        "time": "2026-06-02T09:14:03.120Z",
        "type": "STOCK_UPDATE",
        "data": {
            "metadata": {"stockId": stock_id, "versionNumber": version, "lifecycleState": "FORECOURT", **metadata},
            "advertiser": {"advertiserId": advertiser_id},
        },
    }


@pytest.fixture(scope="module", params=BACKENDS)
def module_store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated store shared by one test module, per backend (tests key their data uniquely)."""
    if request.param == "sqlite":
        target = tmp_path_factory.mktemp("receiver") / "store.sqlite"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    admin = request.getfixturevalue("pg_admin_url")
    with fresh_pg_database(admin, request.getfixturevalue("pg_template")) as url:
        yield url


@pytest.fixture(scope="module")
def module_engine(module_store_url: str) -> Iterator[sa.Engine]:
    engine = create_store_engine(module_store_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def receiver(module_store_url: str) -> Iterator[ReceiverHandle]:
    """The receiver subprocess on the module's store, with the test secrets."""
    handle = start_receiver(env={"DEALER_PIPELINE_DATABASE_URL": module_store_url, **SECRETS_ENV})
    yield handle
    handle.stop()


def rows(engine: sa.Engine, sql: str, **params: Any) -> list[sa.RowMapping]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(sql), params).mappings())


def events_for(engine: sa.Engine, source: str, subject_id: str) -> list[sa.RowMapping]:
    """Typed rows (JSON columns decoded) of the events stored for one subject."""
    stmt = (sa.select(webhook_events)
            .where(webhook_events.c.source == source, webhook_events.c.subject_id == subject_id)
            .order_by(webhook_events.c.id))
    with engine.connect() as conn:
        return list(conn.execute(stmt).mappings())


def rejections_after(engine: sa.Engine, after_id: int) -> list[sa.RowMapping]:
    stmt = sa.select(webhook_rejections).where(webhook_rejections.c.id > after_id).order_by(webhook_rejections.c.id)
    with engine.connect() as conn:
        return list(conn.execute(stmt).mappings())


def project_path() -> Path:
    return Path(__file__).resolve().parents[2]
