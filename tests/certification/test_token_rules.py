"""Which 401 excuses a second token request: only a refusal of the token the previous request obtained."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dealer_pipeline.certification.calls import Call
from dealer_pipeline.certification.rules.common import Lifetime, extra_grants

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
LIFE = Lifetime(900.0, 840.0, "test")


def _at(seconds: float, path: str = "/stock", status: int = 200, token: str | None = None,
        ms: float = 40.0) -> Call:
    return Call(ts=T0 + timedelta(seconds=seconds), vendor="autotrader", method="GET" if path != "/authenticate"
                else "POST", path=path, status=status, token=token, duration_ms=ms)


def _grant(seconds: float) -> Call:
    return _at(seconds, "/authenticate", ms=300.0)


def test_a_refusal_of_the_previous_token_excuses_the_next_request() -> None:
    grants = [_grant(0), _grant(10)]
    calls = [grants[0], _at(1), _at(9.5, status=401), grants[1], _at(10.4)]
    assert extra_grants(grants, calls, LIFE) == []


def test_a_call_in_flight_with_an_older_token_does_not_excuse_a_later_request() -> None:
    grants = [_grant(0), _grant(10), _grant(30)]
    # 10.1 s: sent while the second grant was being answered, so it carried the first token.
    calls = [grants[0], _at(9.5, status=401), grants[1], _at(10.1, status=401), _at(10.4), grants[2]]
    found = extra_grants(grants, calls, LIFE)
    assert [row["ts"] for row in found] == [grants[2].ts]
    assert "20.0 s after the previous one" in found[0]["why"]


def test_a_late_refusal_of_the_newer_token_excuses_the_next_request() -> None:
    grants = [_grant(0), _grant(10), _grant(30)]
    calls = [grants[0], _at(9.5, status=401), grants[1], _at(10.4), _at(29.0, status=401), grants[2]]
    assert extra_grants(grants, calls, LIFE) == []


def test_the_vendor_log_judges_a_refusal_by_the_token_it_carried() -> None:
    grants = [_grant(0), _grant(10), _grant(30)]
    old, new = "aaaa", "bbbb"
    stale = [grants[0], _at(1, token=old), _at(9.5, status=401, token=old), grants[1], _at(10.5, token=new),
             _at(25.0, status=401, token=old), grants[2]]
    assert [row["ts"] for row in extra_grants(grants, stale, LIFE)] == [grants[2].ts]
    refused = stale[:-2] + [_at(25.0, status=401, token=new), grants[2]]
    assert extra_grants(grants, refused, LIFE) == []


def test_the_process_that_obtained_a_token_may_have_it_refused_at_once() -> None:
    grants = [_grant(0), _grant(0.4)]
    grants = [Call(**{**g.__dict__, "run_id": "run-a"}) for g in grants]
    at_once = Call(**{**_at(0.35, status=401).__dict__, "run_id": "run-a"})
    elsewhere = Call(**{**_at(0.35, status=401).__dict__, "run_id": "run-b"})
    assert extra_grants(grants, [grants[0], at_once, grants[1]], LIFE) == []
    assert len(extra_grants(grants, [grants[0], elsewhere, grants[1]], LIFE)) == 1
