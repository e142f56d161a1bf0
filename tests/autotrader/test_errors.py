"""AT-ERR and AT-BASE-4: 400 flagged, 401 re-authenticates once, 403 A/B block exactly their scope."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from dealer_pipeline.cli import cli
from dealer_pipeline.definitions import defs
from dealer_pipeline.defs.sources import autotrader as at
from dealer_pipeline.http import VendorBlocked
from dealer_pipeline.store.schema import api_blocks, api_calls, vehicles
from tests.autotrader.conftest import Harness
from tests.support.runs import failure_message, metadata_of


def _blocks(harness: Harness) -> list[dict]:
    with harness.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(api_blocks).order_by(api_blocks.c.id)).mappings()]


def _run_job(harness: Harness, advertiser_id: str):  # the scheduled job, with its run-level retry policy
    if advertiser_id not in harness.instance.get_dynamic_partitions(at.ADVERTISER_PARTITIONS.name):
        harness.instance.add_dynamic_partitions(at.ADVERTISER_PARTITIONS.name, [advertiser_id])
    job = defs.resolve_job_def("autotrader_stock_job")
    return job.execute_in_process(instance=harness.instance, partition_key=advertiser_id, raise_on_error=False,
                                  resources=harness.resources())


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_at_err_400_flagged_with_the_vendors_message_never_retried(harness: Harness) -> None:
    a, b = harness.advertiser_ids()[:2]
    message = "pageSize must be between 1 and 200"
    harness.sandbox.fault(vendor="autotrader", path="/stock", advertiser_id=a, status=400, times=1,
                          body={"warnings": [{"type": "ERROR", "feature": "pageSize", "message": message}]})
    first = _run_job(harness, a)
    assert not first.success and message in failure_message(first)
    assert [c["status"] for c in harness.calls("/stock")] == [400], "not retried by the client nor the job"
    (block,) = _blocks(harness)
    assert (block["reason"], block["dealer_id"], block["service"]) == ("400", f"autotrader:{a}", "stock")
    assert block["message"] == message and block["cf_ray"] == harness.calls("/stock")[0]["cf_ray"]
    assert block["path"].startswith(f"/stock?advertiserId={a}&page=1") and block["method"] == "GET"
    # The next scheduled run does not send the same bad request: it skips the advertiser, naming the
    # block and what to do, instead of failing again; another advertiser is unaffected.
    second = _run_job(harness, a)
    assert second.success, failure_message(second)
    skipped = metadata_of(second, at.STOCK_KEY)
    assert (skipped["skipped"], skipped["block_id"], skipped["block_reason"]) == ("blocked", block["id"], "400")
    assert skipped["block_action"] == block["action"] and skipped["vendor_message"] == message
    assert len(harness.calls("/stock")) == 1
    assert harness.sync(b, [at.stock]).success
    listing = CliRunner().invoke(cli, ["blocks", "list"])
    assert listing.exit_code == 0 and f"#{block['id']} OPEN" in listing.output and message in listing.output


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_at_err_401_reauthenticates_once_then_retries(harness: Harness) -> None:
    a = harness.advertiser_ids()[0]
    assert harness.sync(a, [at.stock]).success
    harness.mark()
    harness.sandbox.fault(vendor="autotrader", path="/stock", query={"page": "2"}, expire_token=True, times=1)
    assert harness.sync(a, [at.stock], stock_page_size=10).success
    steps = [(c["path"], c["query"].get("page"), c["status"]) for c in harness.calls()]
    assert steps == [("/stock", "1", 200), ("/stock", "2", 401), ("/authenticate", None, 200),
                     ("/stock", "2", 200), ("/stock", "3", 200)], "nothing is sent between the 401 and the new token"
    tokens = [c["token"] for c in harness.calls("/stock")]
    assert tokens[0] == tokens[1] != tokens[2] == tokens[3]
    # A second 401 in a row fails the run (no retry policy kicks in either).
    harness.mark()
    harness.sandbox.fault(vendor="autotrader", path="/stock", status=401, times=2)
    failed = _run_job(harness, a)
    assert not failed.success and "second 401" in failure_message(failed)
    assert [c["status"] for c in harness.calls("/stock")] == [401, 401]
    assert [c["path"] for c in harness.calls()].count("/authenticate") == 1


def test_at_err_403a_stops_everything_for_that_advertiser_only(harness: Harness) -> None:
    a, b = harness.advertiser_ids()[:2]
    assert harness.sync(a).success and harness.sync(b, [at.stock]).success
    harness.mark()
    harness.set_access(a, on_integration=False)
    try:
        failed = harness.sync(a)
        assert not failed.success
        (block,) = _blocks(harness)
        assert (block["reason"], block["dealer_id"], block["service"]) == ("403A", f"autotrader:{a}", None)
        assert "contact Autotrader" in block["action"] and a in block["action"]
        assert block["message"] == f"Advertiser {a} is not on your integration"
        with harness.client() as client:
            with pytest.raises(VendorBlocked):
                client.get_advertiser(a)  # another service, same advertiser: not sent either
            with pytest.raises(VendorBlocked):
                client.get_stock_features("any", a)
        assert harness.sync(b, [at.stock]).success, "other advertisers continue"
        seen = harness.calls()
        assert [(c["path"], c["status"]) for c in seen if c["dealer"] == f"autotrader:{a}"] == [("/stock", 403)]
        assert block["cf_ray"] == seen[0]["cf_ray"]
    finally:
        harness.set_access(a, on_integration=True)
    # Resolved by an operator: calls resume.
    resolved = CliRunner().invoke(cli, ["blocks", "resolve", str(block["id"]), "--note", "re-added by Autotrader"])
    assert resolved.exit_code == 0, resolved.output
    harness.mark()
    assert harness.sync(a, [at.stock]).success
    assert harness.calls("/stock")[0]["status"] == 200


def test_at_err_403b_stops_that_service_for_that_advertiser_only(harness: Harness) -> None:
    a, b = harness.advertiser_ids()[:2]
    assert harness.sync(a, [at.stock]).success
    harness.mark()
    harness.set_access(a, stock_sync=False)
    try:
        failed = harness.sync(a)
        assert not failed.success
        (block,) = _blocks(harness)
        assert (block["reason"], block["dealer_id"], block["service"]) == ("403B", f"autotrader:{a}", "stock")
        assert "Stock Sync product" in block["action"] and "contact Autotrader" in block["action"]
        with harness.client() as client:
            assert client.get_advertiser(a)["advertiserId"] == a  # the advertisers service continues
            with pytest.raises(VendorBlocked):
                client.get_stock_features("any", a)
        assert harness.sync(b, [at.stock]).success
        mine = [(c["path"], c["status"]) for c in harness.calls() if c["dealer"] == f"autotrader:{a}"]
        assert mine == [("/stock", 403), ("/advertisers", 200)]
    finally:
        harness.set_access(a, stock_sync=True)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_at_base_4_stock_403_never_retried_and_logged_with_an_action(harness: Harness) -> None:
    a = harness.advertiser_ids()[0]
    harness.set_access(a, on_integration=False)
    try:
        # two scheduled runs: the first opens the block and fails, the second skips the blocked dealer
        opened, skipped = _run_job(harness, a), _run_job(harness, a)
        assert not opened.success
        assert skipped.success and metadata_of(skipped, at.STOCK_KEY)["block_reason"] == "403A"
    finally:
        harness.set_access(a, on_integration=True)
    assert [(c["path"], c["status"]) for c in harness.calls() if c["path"] != "/authenticate"] == [("/stock", 403)]
    (block,) = _blocks(harness)
    assert block["action"].startswith("contact Autotrader")
    listing = CliRunner().invoke(cli, ["blocks", "list", "--vendor", "autotrader"])
    assert "403A" in listing.output and "contact Autotrader" in listing.output
    with harness.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(vehicles)).scalar_one() == 0


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_at_err_cfray_stored_with_every_failure(harness: Harness) -> None:
    a, b = harness.advertiser_ids()[:2]
    for status, extra in ((429, {"retry_after": 0.2}), (503, {}), (500, {}), (404, {})):
        harness.sandbox.fault(vendor="autotrader", path="/stock", advertiser_id=a, status=status, times=1, **extra)
    harness.set_access(b, stock_sync=False)
    try:
        assert harness.sync(a, [at.stock], retry_backoff_seconds=0.05).success is False  # the 404 is not a page
        assert not harness.sync(b, [at.stock]).success
    finally:
        harness.set_access(b, stock_sync=True)
    failed_at_vendor = {c["cf_ray"]: c["status"] for c in harness.calls() if c["status"] >= 400}
    assert set(failed_at_vendor.values()) == {429, 503, 500, 404, 403}
    with harness.engine.connect() as conn:
        logged = {r.cf_ray: (r.status, r.error) for r in conn.execute(
            sa.select(api_calls.c.cf_ray, api_calls.c.status, api_calls.c.error).where(api_calls.c.status >= 400))}
    assert set(logged) == set(failed_at_vendor)
    assert all(error for _, error in logged.values())
    (block,) = _blocks(harness)
    assert block["cf_ray"] in failed_at_vendor and failed_at_vendor[block["cf_ray"]] == 403
