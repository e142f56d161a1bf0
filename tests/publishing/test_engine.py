"""The publishing engine's one failure semantics: which vendor answer means which outcome, for every target."""

from __future__ import annotations

import pytest

from dealer_pipeline.http import AuthFailed, MalformedResponse, VendorBlocked, VendorError, WaitBudgetExceeded
from dealer_pipeline.publishing.engine import Outcome, Report, classify


@pytest.mark.parametrize(("error", "outcome"), [
    (VendorError("bad field", vendor="autochat", status=400), Outcome.REFUSED),
    (VendorError("gone", vendor="autocosmos", status=404), Outcome.REFUSED),
    (VendorError("archived", vendor="autocosmos", status=409), Outcome.REFUSED),
    (VendorError("media type", vendor="autocosmos", status=415), Outcome.REFUSED),
    (VendorError("unprocessable", vendor="webmotors", status=422), Outcome.REFUSED),
    (VendorError("throttled", vendor="webmotors", status=429), Outcome.TRANSIENT),
    (VendorError("timeout", vendor="autochat", status=408), Outcome.TRANSIENT),
    (VendorError("forbidden, no block", vendor="autochat", status=403), Outcome.TRANSIENT),
    (VendorError("unavailable", vendor="autochat", status=503), Outcome.TRANSIENT),
    (VendorError("no answer", vendor="webmotors", status=None), Outcome.TRANSIENT),
    (MalformedResponse("unreadable 2xx", vendor="webmotors", status=201), Outcome.TRANSIENT),
    (AuthFailed("credentials", vendor="autocosmos", status=401), Outcome.TRANSIENT),
    (WaitBudgetExceeded("wait", vendor="autotrader", status=429), Outcome.TRANSIENT),
    (VendorBlocked("blocked", vendor="autochat", status=403, block_id=7, reason="403", action="enable"),
     Outcome.BLOCKED),
])
def test_one_classification_for_every_target(error: VendorError, outcome: Outcome) -> None:
    assert classify(error) is outcome


def test_a_stop_says_why_and_whether_a_person_must_act() -> None:
    report = Report("autochat", "autotrader:1")
    report.stop(VendorError("unavailable", vendor="autochat", status=503))
    assert report.stopped and not report.credentials_refused and not report.blocks
    refused = Report("autocosmos", "autotrader:1")
    refused.stop(AuthFailed("signature", vendor="autocosmos", status=401))
    assert refused.credentials_refused
    blocked = Report("autochat", "autotrader:1")
    blocked.stop(VendorBlocked("integration off", vendor="autochat", status=403, block_id=7, reason="403",
                               action="enable it in the dashboard"))
    assert blocked.blocks == [{"id": 7, "reason": "403", "action": "enable it in the dashboard"}]
    assert "block 7" in blocked.stopped and blocked.metadata()["blocked"]
    assert set(blocked.metadata()["outcomes"]) == {o.value for o in Outcome}
