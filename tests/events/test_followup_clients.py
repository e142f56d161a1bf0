"""The vendor calls applied events ask for use the clients of the run's resources, not the environment.

The environment is pointed at a port where nothing listens, with wrong credentials; the run's
`autotrader` and `webmotors` resources name the sandbox. A real Dagster run of the events job then
fetches the features of a changed vehicle and the detail of a new lead from the sandbox, obtaining
fresh tokens with the resources' credentials. The same run with the default resources (which read
the environment) fails: so the override, and nothing else, reached the clients.
"""

from __future__ import annotations

import uuid
from typing import Any, Iterator

import dagster as dg
import pytest
import sqlalchemy as sa

from dealer_pipeline.definitions import defs
from dealer_pipeline.defs.operations import events as ops_events
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.sources.autotrader import AutotraderResource
from dealer_pipeline.defs.sources.webmotors import WebmotorsResource
from dealer_pipeline.sandbox.runner import SandboxHandle
from dealer_pipeline.settings import get_settings
from dealer_pipeline.store.schema import api_calls, api_tokens, leads, stock_enrichments, webhook_events
from tests.events.sandbox_fixtures import apply_pending_of, delivered_statuses

pytestmark = pytest.mark.usefixtures("vendor_sandbox")

NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers
JOB = "apply_webhook_events_job"


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def _sandbox_resources(sandbox: SandboxHandle, max_attempts: int = 2) -> dict[str, Any]:
    """Resources that name the sandbox (its own addresses and credentials, not the environment's)."""
    env = sandbox.env()
    return {
        "autotrader": AutotraderResource(base_url=env["AUTOTRADER_BASE_URL"], key=env["AUTOTRADER_KEY"],
                                         secret=env["AUTOTRADER_SECRET"], max_in_flight=2,
                                         max_attempts=max_attempts),
        "webmotors": WebmotorsResource(base_url=env["WEBMOTORS_BASE_URL"], client_id=env["WEBMOTORS_CLIENT_ID"],
                                       client_secret=env["WEBMOTORS_CLIENT_SECRET"], max_attempts=max_attempts),
    }


@pytest.fixture
def dead_environment(monkeypatch: pytest.MonkeyPatch, module_engine: sa.Engine) -> Iterator[None]:
    """The environment's vendor settings lead nowhere, and no token is cached: every call a run makes
    needs the resources' base URL and credentials."""
    for name, value in {"AUTOTRADER_BASE_URL": f"{NOWHERE}/autotrader", "AUTOTRADER_KEY": "not-the-key",
                        "AUTOTRADER_SECRET": "not-the-secret", "WEBMOTORS_BASE_URL": f"{NOWHERE}/webmotors",
                        "WEBMOTORS_CLIENT_ID": "not-the-client", "WEBMOTORS_CLIENT_SECRET": "not-the-secret",
                        "DEALER_PIPELINE_HTTP_MAX_WAIT_SECONDS": "3"}.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with module_engine.begin() as conn:
        conn.execute(sa.delete(api_tokens))
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _pending(engine: sa.Engine, source: str, subject_id: str) -> tuple[int, str]:
    c = webhook_events.c
    with engine.connect() as conn:
        first_id, dealer = conn.execute(
            sa.select(c.id, c.dealer_id).where(c.source == source, c.subject_id == subject_id, c.status == "pending")
            .order_by(c.id).limit(1)).one()
    return first_id, dealer


def _run(instance: dg.DagsterInstance, url: str, first_id: int, dealer: str,
         resources: dict[str, Any]) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def(JOB).execute_in_process(
        run_config=ops_events.run_config(first_id, None, dealer), instance=instance, raise_on_error=False,
        resources={"store": StoreResource(database_url=url), **resources})


def _changed_stock(sandbox: SandboxHandle, engine: sa.Engine) -> str:
    """A vehicle stored from its notification whose derivativeId then changes (its features go stale)."""
    advertiser = next(a["advertiser_id"] for a in sandbox.world()["autotrader"] if a["on_integration"]
                      and a["stock_sync"])
    created = sandbox.control("POST", f"/autotrader/advertisers/{advertiser}/stock", {"reservation": None})
    assert delivered_statuses(created) == [200]
    assert apply_pending_of(engine, "autotrader", created["stockId"]).summary.applied == 1
    assert delivered_statuses(sandbox.change("autotrader", created["stockId"], derivative_id=uuid.uuid4().hex)) == [200]
    return created["stockId"]


def _new_lead(sandbox: SandboxHandle) -> tuple[str, dict[str, Any]]:
    dealer = next(d for d in sandbox.world()["webmotors"] if d["user_active"] and d["crm_integration"])
    result = sandbox.control("POST", "/webmotors/leads", {"cnpj": dealer["cnpj"]})
    assert delivered_statuses(result) == [200]
    return str(result["IdLead"]), result


def _failure(result: dg.ExecuteInProcessResult) -> tuple[str, str, str]:
    """The failed step, and the class and message of the error that failed it."""
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    error = failure.event_specific_data.error
    while error.cause is not None:
        error = error.cause
    return failure.step_key, error.cls_name, error.message


def _followup_output(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (materialization,) = [e for e in result.events_for_node("fetch_after_events") if e.is_successful_output]
    return {k: v.value for k, v in materialization.step_output_data.metadata.items()}


def test_resource_overrides_reach_the_clients_of_the_events_follow_ups(
    vendor_sandbox: SandboxHandle, module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance,
    request: pytest.FixtureRequest,
) -> None:
    sandbox_resources = _sandbox_resources(vendor_sandbox)
    stock_id = _changed_stock(vendor_sandbox, module_engine)
    lead_id, lead = _new_lead(vendor_sandbox)
    request.getfixturevalue("dead_environment")
    since = vendor_sandbox.last_seq()

    changed = _run(instance, module_store_url, *_pending(module_engine, "autotrader", stock_id), sandbox_resources)
    new_lead = _run(instance, module_store_url, *_pending(module_engine, "webmotors", lead_id), sandbox_resources)

    assert changed.success and new_lead.success
    assert _followup_output(changed)["refetch_calls"] >= 1 and _followup_output(changed)["followup_error"] == ""
    assert _followup_output(new_lead)["lead_details_fetched"] == 1
    # Both vendors were reached at the resources' base URL, with tokens granted for the resources'
    # credentials (none was cached), and the calls are logged under each run's id.
    at_calls = [c["path"] for c in vendor_sandbox.calls(vendor="autotrader", since=since)]
    wm_calls = [c["path"] for c in vendor_sandbox.calls(vendor="webmotors", since=since)]
    assert "/authenticate" in at_calls and f"/stock/{stock_id}/features" in at_calls
    assert any(p.endswith("/access-token") for p in wm_calls) and any(f"/leads/{lead_id}" in p for p in wm_calls)
    with module_engine.connect() as conn:
        fetched = conn.execute(sa.select(stock_enrichments.c.fetched_at).where(
            stock_enrichments.c.vehicle_id == f"autotrader:{stock_id}", stock_enrichments.c.kind == "features")).all()
        detail = conn.execute(sa.select(leads.c.detail).where(leads.c.lead_key == lead_id)).scalar_one()
        runs = set(conn.execute(sa.select(api_calls.c.run_id).where(
            api_calls.c.path.like(f"/stock/{stock_id}/features%"))).scalars())
    assert fetched and detail == lead["detail"]
    assert changed.run_id in runs


def test_without_the_overrides_the_same_follow_ups_reach_nothing(
    vendor_sandbox: SandboxHandle, module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance,
    request: pytest.FixtureRequest,
) -> None:
    """The control: resources that name no address or credential read the dead environment, so the
    follow-up fails (and the event itself stays applied)."""
    stock_id = _changed_stock(vendor_sandbox, module_engine)
    request.getfixturevalue("dead_environment")
    first_id, dealer = _pending(module_engine, "autotrader", stock_id)
    since = vendor_sandbox.last_seq()
    result = _run(instance, module_store_url, first_id, dealer,
                  {"autotrader": AutotraderResource(max_attempts=1), "webmotors": WebmotorsResource()})
    assert not result.success
    step, kind, message = _failure(result)
    assert (step, kind) == ("fetch_after_events", "VendorUnavailable") and "no response after 1 attempts" in message
    assert [c for c in vendor_sandbox.calls(vendor="autotrader", since=since) if stock_id in c["path"]] == []
    with module_engine.connect() as conn:
        status = conn.execute(sa.select(webhook_events.c.status).where(webhook_events.c.id == first_id)).scalar_one()
    assert status == "applied"


def test_the_resources_policy_settings_reach_the_follow_up_clients(
    vendor_sandbox: SandboxHandle, module_engine: sa.Engine, module_store_url: str, instance: dg.DagsterInstance,
) -> None:
    """A 500 on the features call: the environment's clients would retry it (5 attempts); the run's
    `autotrader` resource allows one attempt and no pause, so the follow-up stops after one call."""
    stock_id = _changed_stock(vendor_sandbox, module_engine)
    first_id, dealer = _pending(module_engine, "autotrader", stock_id)
    path = f"/stock/{stock_id}/features"
    vendor_sandbox.fault(vendor="autotrader", path=path, status=500, times=3)
    since = vendor_sandbox.last_seq()
    try:
        result = _run(instance, module_store_url, first_id, dealer, _sandbox_resources(vendor_sandbox, 1))
    finally:
        vendor_sandbox.clear_faults()
    assert not result.success
    step, kind, message = _failure(result)
    assert (step, kind) == ("fetch_after_events", "VendorUnavailable") and "still 500 after 1 attempts" in message
    assert [c["status"] for c in vendor_sandbox.calls(vendor="autotrader", since=since) if c["path"] == path] == [500]
