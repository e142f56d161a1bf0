"""WM-ERR-401 and the retry policy of api/webmotors.md 2.7/2.8, against the sandbox."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dealer_pipeline.defs.sources.webmotors import STOCK_KEY
from dealer_pipeline.http import VendorBlocked, VendorUnavailable, list_blocks
from dealer_pipeline.store.schema import api_calls, dealers, sync_runs, vehicle_changes, vehicles
from dealer_pipeline.vendors.webmotors import WebmotorsRejected, WebmotorsUnauthorized
from tests.support.runs import failure_message, metadata_of
from tests.webmotors.conftest import STOCK_PATH, TOKEN_PATH, Harness, table

CAUSES = ("integration token is invalid", "deactivated the integration with our classified in Cockpit",
          "no active Cockpit user with the \"Integrador de API\" profile")


def _names_the_causes(text: str) -> bool:
    return all(cause in text for cause in CAUSES)


def _store(harness: Harness) -> tuple:
    return (table(harness.engine, vehicles, vehicles.c.vehicle_id),
            table(harness.engine, vehicle_changes, vehicle_changes.c.id),
            table(harness.engine, dealers, dealers.c.dealer_id))


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_wm_err_401_deactivated_integration_names_the_three_causes(harness: Harness) -> None:
    """The dealer deactivated our classified in Cockpit: the login is refused with 401."""
    cnpj = harness.cnpj(1)
    dealer = f"webmotors:{cnpj}"
    assert harness.dealers().success and harness.sync(cnpj).success
    before = _store(harness)
    runs_before = len(table(harness.engine, sync_runs, sync_runs.c.id))
    harness.set_access(cnpj, stock_integration=False, crm_integration=False)
    try:
        harness.mark()
        failed = harness.sync(cnpj)
        refused = harness.calls()
        harness.mark()
        again = harness.sync(cnpj)
        not_sent = harness.calls()
    finally:
        harness.set_access(cnpj, stock_integration=True, crm_integration=True)

    # The failure, the run log and the block all name the three causes.
    assert not failed.success and _names_the_causes(failure_message(failed))
    errors = [e.user_message for e in harness.instance.all_logs(failed.run_id) if e.level >= 40]
    assert any(_names_the_causes(message) for message in errors), errors
    (block,) = list_blocks(harness.engine, vendor="webmotors")
    assert (block.dealer_id, block.reason, block.service) == (dealer, "401", None)
    assert _names_the_causes(block.action or "")
    assert block.message and "Integrador de API" in block.message  # the vendor's own text, kept as said
    # The cached token met a 401, the one new grant was refused: nothing else was sent (and both are
    # in api_calls). The next run is stopped by the block before any call.
    with harness.engine.connect() as conn:
        logged = conn.execute(sa.select(api_calls.c.path, api_calls.c.status).where(
            api_calls.c.dealer_id == dealer, api_calls.c.status == 401).order_by(api_calls.c.id)).all()
    assert [(path.split("?")[0], status) for path, status in logged] == [(STOCK_PATH, 401), (TOKEN_PATH, 401)]
    assert [(c["path"], c["status"]) for c in refused] == [(STOCK_PATH, 401), (TOKEN_PATH, 401)]
    # Known now: the next run skips the dealer (succeeds) with the block's id and action, sending nothing.
    assert again.success, failure_message(again)
    skipped = metadata_of(again, STOCK_KEY)
    assert (skipped["skipped"], skipped["block_id"], skipped["dealer"]) == ("blocked", block.id, dealer)
    assert _names_the_causes(skipped["block_action"]) and not_sent == []
    warnings = [e.user_message for e in harness.instance.all_logs(again.run_id) if e.level == 30]
    assert any(f"block {block.id}" in message and _names_the_causes(message) for message in warnings), warnings
    # Nothing else changed: vehicles, their history and the dealer row are as before; the attempt is a run row.
    assert _store(harness) == before
    runs = table(harness.engine, sync_runs, sync_runs.c.id)
    assert len(runs) == runs_before + 2 and not runs[-1]["complete"] and not runs[-2]["complete"]
    assert _names_the_causes(runs[-2]["error"])


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_wm_err_401_stock_integration_off_regranted_once_then_blocked(harness: Harness) -> None:
    """Login works (CRM still on) but the stock API answers 401: one new token, one retry, then a block
    on the stock service only; the dealer's CRM calls go on."""
    cnpj = harness.cnpj(2)
    harness.set_access(cnpj, stock_integration=False)
    try:
        with harness.client(cnpj) as client:
            with pytest.raises(WebmotorsUnauthorized) as caught:
                client.list_stock()
            crm_id = client.insert_crm_lead(nome="Maria Souza", email="maria@example.com")
    finally:
        harness.set_access(cnpj, stock_integration=True)
    assert _names_the_causes(str(caught.value)) and "Integrador de API" in str(caught.value)
    assert [(c["path"], c["status"]) for c in harness.calls()] == [
        (TOKEN_PATH, 201), (STOCK_PATH, 401), (TOKEN_PATH, 201), (STOCK_PATH, 401), ("/crm/v1/leads", 201)]
    (block,) = list_blocks(harness.engine, vendor="webmotors")
    assert (block.dealer_id, block.reason, block.service, block.id) == (
        f"webmotors:{cnpj}", "401", "site", caught.value.block_id)
    assert _names_the_causes(block.action or "") and isinstance(crm_id, int)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_get_retried_on_429_and_500_never_on_400_413_422(harness: Harness) -> None:
    cnpj = harness.cnpj(0)
    fault = harness.sandbox.fault
    fault(vendor="webmotors", path=STOCK_PATH, query={"p": "1"}, dealer=cnpj, status=429, retry_after=0.3)
    fault(vendor="webmotors", path=STOCK_PATH, query={"p": "2"}, dealer=cnpj, status=500)
    with harness.client(cnpj, stock_page_size=10, policy_overrides={"backoff_base_seconds": 0.05}) as client:
        listing = client.list_stock()
        assert listing.consistent and len(listing.hits) == 25
        assert [(c["query"]["p"], c["status"]) for c in harness.calls(STOCK_PATH)] == [
            ("1", 429), ("1", 200), ("2", 500), ("2", 200), ("3", 200)]
        for status in (400, 413, 422):
            harness.mark()
            fault(vendor="webmotors", path=STOCK_PATH, dealer=cnpj, status=status, times=None)
            with pytest.raises(WebmotorsRejected) as caught:
                client.stock_page(1)
            harness.sandbox.clear_faults()
            assert caught.value.status == status and caught.value.vendor_message
            assert [c["status"] for c in harness.calls(STOCK_PATH)] == [status]  # sent once, not retried
        # A 500 that does not clear is retried a bounded number of times, then fails.
        harness.mark()
        fault(vendor="webmotors", path=STOCK_PATH, dealer=cnpj, status=500, times=None)
        with pytest.raises(VendorUnavailable):
            client.stock_page(1)
    assert [c["status"] for c in harness.calls(STOCK_PATH)] == [500] * 5
    with harness.engine.connect() as conn:
        recorded = [s for (s,) in conn.execute(sa.select(api_calls.c.status).order_by(api_calls.c.id))]
    assert [s for s in recorded if s in (400, 413, 422)] == [400, 413, 422]  # recorded in api_calls
    assert list_blocks(harness.engine, vendor="webmotors") == []  # our input, not a dealer to stop


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_refused_login_blocks_that_dealer_only(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong password (400 at the token path) stops that dealer, never the token path every dealer shares."""
    bad, good = harness.dealer(0), harness.dealer(1)
    monkeypatch.setenv(bad["password_env"], "not-the-password")
    with harness.client(bad["cnpj"]) as client:
        for _ in range(2):
            with pytest.raises(VendorBlocked) as caught:
                client.list_stock()
            assert caught.value.reason == "login" and bad["password_env"] in str(caught.value)
            assert "not-the-password" not in str(caught.value)
    with harness.client(good["cnpj"]) as client:
        assert len(client.list_stock().hits) == 25
    assert [c["status"] for c in harness.calls(TOKEN_PATH)] == [400, 201]  # the bad login was sent once
    (block,) = list_blocks(harness.engine, vendor="webmotors")
    assert (block.dealer_id, block.reason, block.service) == (bad["dealer_id"], "login", None)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_403_api_not_released_blocks_the_service(harness: Harness) -> None:
    cnpj = harness.cnpj(0)
    harness.sandbox.fault(vendor="webmotors", path=STOCK_PATH, dealer=cnpj, status=403)
    with harness.client(cnpj) as client:
        with pytest.raises(VendorBlocked) as first:
            client.stock_page(1)
        with pytest.raises(VendorBlocked) as second:
            client.stock_page(1)  # not sent: the block holds
        lead = harness.sandbox.control("POST", "/webmotors/leads", {"cnpj": cnpj, "deliver": False})
        assert client.get_lead(lead["IdLead"], lead["notice"]["IdTipoLead"]) == lead["detail"]
    assert first.value.reason == "403" and "support ticket" in str(first.value)
    assert second.value.block_id == first.value.block_id
    assert [c["status"] for c in harness.calls(STOCK_PATH)] == [403]
    (block,) = list_blocks(harness.engine, vendor="webmotors")
    assert (block.dealer_id, block.service) == (f"webmotors:{cnpj}", "site")
