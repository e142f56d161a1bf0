"""`certify` on the store a real pipeline run left (SQLite and PostgreSQL): the exercised checks pass,
the evidence is written, and each rule fails on a crafted violation with the offending rows shown."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from dealer_pipeline.certification import CHECKS, Context, Verdict, all_rules, certify
from dealer_pipeline.certification import report as report_module
from dealer_pipeline.store.types import utcnow
from tests.certification.conftest import Pipeline
from tests.certification.violations import MUTATIONS

#: What the scenario cannot provoke: nothing (a create answered 409 is arranged on the vendor's side).
NOT_PROVOKED: set[str] = set()


def _verdicts(cert) -> dict[str, Verdict]:  # type: ignore[no-untyped-def]
    return {e.id: e.verdict for e in cert.evidence}


def test_exercised_checks_pass_judged_by_the_vendor_call_log(pipeline: Pipeline) -> None:
    cert = certify(pipeline.engine, sandbox_url=pipeline.scenario.sandbox.base_url)
    verdicts = _verdicts(cert)
    failed = {e.id: (e.summary, e.rows[:3]) for e in cert.failed}
    assert not failed, failed
    assert {i for i, v in verdicts.items() if v is Verdict.NOT_EXERCISED} == NOT_PROVOKED, pipeline.scenario.report
    call_log = [e for e in cert.evidence if e.judged_by == "call log" and e.id not in NOT_PROVOKED]
    assert all("vendor" in e.basis for e in call_log if e.id not in ("AT-ADVN-1", "AT-NOTIF-1", "AT-NOTIF-2"))
    assert cert.crosscheck and all(c.agrees for c in cert.crosscheck), [c.as_dict() for c in cert.crosscheck]
    assert sum(c.matched for c in cert.crosscheck) > 100
    # Beside each verdict from the vendor's log, our own api_calls alone gives the same one.
    sign = next(e for e in cert.evidence if e.id == "AC-SIGN-1")
    assert sign.verdict is Verdict.PASSED and sign.ours is not None and sign.ours.verdict is Verdict.PASSED
    assert {e.id for e in cert.judged_twice} >= {e.id for e in call_log if "vendor" in e.basis}
    assert not cert.differing(), {e.id: (e.verdict, e.ours and e.ours.summary) for e in cert.differing()}
    assert {i for i, v in verdicts.items() if v is not Verdict.PASSED} == NOT_PROVOKED
    assert all(e.ours.verdict is Verdict.PASSED for e in cert.judged_twice if e.ours and e.id not in NOT_PROVOKED)


def test_ac_pub_5_the_create_the_vendor_answered_409_is_read_back_and_replaced(pipeline: Pipeline) -> None:
    """The publication Autocosmos held for a vehicle our store did not know: one POST answered 409, then a
    GET and a PUT under the same ExternalId, judged the same from the vendor's log and from ours."""
    held = next(line.rsplit(" ", 1)[1] for line in pipeline.scenario.report if line.startswith("held by Autocosmos"))
    for cert in (certify(pipeline.engine, sandbox_url=pipeline.scenario.sandbox.base_url), certify(pipeline.engine)):
        evidence = next(e for e in cert.evidence if e.id == "AC-PUB-5")
        assert evidence.verdict is Verdict.PASSED, evidence.summary
        assert [(r["external_id"], r["replaced_with"]) for r in evidence.rows] == [(held.lower(), "PUT 200")]
    with pipeline.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT external_id, state, last_op FROM publications WHERE target = 'autocosmos' "
                                   "AND external_id = :e"), {"e": held}).one()
    assert tuple(row) == (held, "active", "reconcile")


def test_the_same_verdicts_from_our_own_call_log(pipeline: Pipeline) -> None:
    cert = certify(pipeline.engine)
    assert not cert.failed, {e.id: e.summary for e in cert.failed}
    assert {e.id for e in cert.evidence if e.verdict is Verdict.NOT_EXERCISED} == NOT_PROVOKED
    assert all(e.basis != "the vendor's call log (sandbox)" for e in cert.evidence)
    assert not cert.crosscheck


def test_a_window_after_the_run_has_nothing_to_judge_from_calls(pipeline: Pipeline) -> None:
    later = certify(pipeline.engine, since=utcnow() + timedelta(days=1))
    verdicts = _verdicts(later)
    assert not later.failed
    assert verdicts["AT-AUTH-1"] is Verdict.NOT_EXERCISED and verdicts["AT-NOTIF-1"] is Verdict.NOT_EXERCISED
    assert verdicts["AT-CREATE-2"] is Verdict.PASSED  # judged from the vehicles as stored, whenever synced


def test_the_certify_command_writes_the_evidence(pipeline: Pipeline, tmp_path: Path) -> None:
    sandbox = pipeline.scenario.sandbox
    env = {**os.environ, **sandbox.env(), "DEALER_PIPELINE_DATABASE_URL": pipeline.store_url,
           "DAGSTER_HOME": str(tmp_path / "home")}
    exe = Path(sys.executable).with_name("dealer-pipeline")
    out = tmp_path / "evidence"
    done = subprocess.run([str(exe), "certify", "--out", str(out), "--sandbox-url", sandbox.base_url], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "62 passed, 0 failed, 0 not exercised of 62 checks" in done.stdout
    assert "AT-AUTH-3          passed" in done.stdout and "both logs agree" in done.stdout
    assert "verdicts: our own api_calls alone gives the same verdict on all" in done.stdout
    evidence = json.loads((out / "evidence.json").read_text())
    assert [c["id"] for c in evidence["checks"]] == [c.id for c in CHECKS]
    assert evidence["counts"] == {"passed": 62, "failed": 0, "not exercised": 0}
    markdown = (out / "certification.md").read_text()
    assert "| [AT-FAIR-429](#at-fair-429) |" in markdown and "## WM-ERR-401" in markdown
    grants = next(c for c in evidence["checks"] if c["id"] == "AT-AUTH-1")["rows"]
    assert grants and all(r["cf_ray"] and r["cf_ray"].endswith("-LHR") and r["ts"] for r in grants)
    secrets = [v for k, v in sandbox.env().items() if "SECRET" in k or "PASSWORD" in k or "TOKEN" in k]
    for text in (markdown, json.dumps(evidence), done.stdout):
        assert not [s for s in secrets if s in text]
    assert "ciphertext" not in markdown


@pytest.mark.parametrize("check_id", sorted(MUTATIONS))
def test_a_crafted_violation_fails_its_check(pipeline: Pipeline, check_id: str) -> None:
    rules = all_rules()
    with pipeline.engine.connect() as conn, conn.begin() as tx:
        before = rules[check_id](conn, Context(now=utcnow()))
        assert before.verdict is not Verdict.FAILED, before.summary
        expected = MUTATIONS[check_id](conn)
        after = rules[check_id](conn, Context(now=utcnow()))
        tx.rollback()
    assert after.verdict is Verdict.FAILED, f"{check_id} still {after.verdict.value}: {after.summary}"
    shown = after.summary + " " + " ".join(str(r.get("why", "")) for r in after.rows)
    assert expected in shown, (expected, after.summary, after.rows[:3])
    assert after.rows, "a failed check shows the offending rows"


def test_every_check_has_a_crafted_violation() -> None:
    assert set(MUTATIONS) == {c.id for c in CHECKS}


def test_known_secrets_never_reach_the_report() -> None:
    text, found = report_module.redact("token abc-secret-123 and abc-secret-123 again; short ab",
                                       ["abc-secret-123", "ab"])
    assert found == 2 and "abc-secret-123" not in text and "short ab" in text


def test_a_store_that_is_not_migrated_is_refused(tmp_path: Path) -> None:
    from dealer_pipeline.certification import CertificationError, open_store

    with pytest.raises(CertificationError, match="no store at"):
        open_store(f"sqlite:///{tmp_path / 'missing.sqlite'}")
    empty = sa.create_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    with empty.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE something (x INTEGER)")
    with pytest.raises(CertificationError, match="no api_calls table"):
        certify(open_store(f"sqlite:///{tmp_path / 'empty.sqlite'}"))


def _first(records: list[dict], **match: object) -> dict:
    return next(r for r in records if all(r.get(k) == v for k, v in match.items()))


def _later(record: dict, seconds: float, **changes: object) -> dict:
    return {**record, "ts": record["ts"] + seconds, "seq": record["seq"] + 100_000, **changes}


def _extra_token(records: list[dict]) -> list[dict]:
    """A second token request after the vendor's last call, where no 401 can excuse it."""
    grant = _first(records, vendor="autotrader", path="/authenticate")
    last = max(r["ts"] for r in records if r["vendor"] == "autotrader")
    return records + [_later(grant, last - grant["ts"] + 1)]


def _token_past_lifetime(records: list[dict]) -> list[dict]:
    used = _first(records, vendor="autotrader", path="/advertisers")
    return records + [_later(used, 2000)]


def _refused_signature(records: list[dict]) -> list[dict]:
    return records + [_later(_first(records, vendor="autocosmos", method="POST"), 600, status=401)]


def _features_again(records: list[dict]) -> list[dict]:
    fetched = [r for r in records if r["vendor"] == "autotrader" and r["path"].endswith("/features")]
    once = [r for r in fetched if sum(f["path"] == r["path"] for f in fetched) == 1]  # items nothing changed
    return records + [_later(once[0], 600)]


def _second_dealer_token(records: list[dict]) -> list[dict]:
    used = [r for r in records if r["vendor"] == "webmotors" and r["token"] and r["status"] == 200]
    return records + [_later(used[-1], 5, token="0123456789abcdef")]


def _dodged_conflict(records: list[dict]) -> list[dict]:
    """A create accepted right after the scenario's 409, before any read: another ExternalId dodging it."""
    conflict = _first(records, vendor="autocosmos", method="POST", status=409)
    return records + [_later(conflict, 0.0005, status=201)]


VENDOR_LOG_CASES = {
    "AT-AUTH-3": (_extra_token, "second token request"),
    "AT-AUTH-2": (_token_past_lifetime, "after its first use"),
    "AC-SIGN-1": (_refused_signature, "refused by the vendor"),
    "AT-FEAT-2": (_features_again, "fetched again without a change"),
    "WM-AUTH-1": (_second_dealer_token, "a new token"),
    "AC-PUB-5": (_dodged_conflict, "created again after a 409"),
}


@pytest.mark.parametrize("check_id", sorted(VENDOR_LOG_CASES))
def test_a_violation_in_the_vendor_call_log_fails_the_check(pipeline: Pipeline, check_id: str) -> None:
    records = pipeline.scenario.sandbox.calls()
    mutate, expected = VENDOR_LOG_CASES[check_id]
    rule = all_rules()[check_id]
    with pipeline.engine.connect() as conn:
        clean = rule(conn, Context(now=utcnow(), vendor_calls=records, deliveries=[]))
        broken = rule(conn, Context(now=utcnow(), vendor_calls=mutate(records), deliveries=[]))
    assert clean.verdict is Verdict.PASSED and "vendor" in clean.basis, clean.summary
    assert broken.verdict is Verdict.FAILED, broken.summary
    assert any(expected in str(r.get("why")) for r in broken.rows), broken.rows[:3]


def test_a_notification_the_vendor_saw_refused_fails_the_check(pipeline: Pipeline) -> None:
    deliveries = pipeline.scenario.sandbox.deliveries()
    rule = all_rules()["AT-NOTIF-1"]
    refused = {**_first(deliveries, vendor="autotrader"), "status": 403, "seq": 10_000}
    with pipeline.engine.connect() as conn:
        clean = rule(conn, Context(now=utcnow(), vendor_calls=[], deliveries=deliveries))
        broken = rule(conn, Context(now=utcnow(), vendor_calls=[], deliveries=[*deliveries, refused]))
    assert clean.verdict is Verdict.PASSED and "delivery log" in clean.basis
    assert broken.verdict is Verdict.FAILED and broken.rows[0]["status"] == 403


def test_the_cross_check_names_calls_only_one_log_has(pipeline: Pipeline) -> None:
    from dealer_pipeline.certification.crosscheck import compare

    records = pipeline.scenario.sandbox.calls()
    dropped = next(i for i, r in enumerate(records) if r["vendor"] == "autochat" and r["method"] == "POST")
    extra = _later(_first(records, vendor="webmotors", method="PUT"), 0.001, path="/marketplace/v1/anuncios/1/status")
    with pipeline.engine.connect() as conn:
        found = {c.vendor: c for c in compare(conn, Context(now=utcnow(), vendor_calls=[
            *records[:dropped], *records[dropped + 1:], extra]))}
    assert len(found["autochat"].only_ours) == 1 and found["autochat"].only_ours[0]["method"] == "POST"
    assert [x["path"] for x in found["webmotors"].only_theirs] == ["/marketplace/v1/anuncios/1/status"]
    assert found["autotrader"].agrees and found["autocosmos"].agrees


def test_certification_reads_through_a_connection_that_cannot_write(pipeline: Pipeline) -> None:
    from dealer_pipeline.certification.run import read_only
    from dealer_pipeline.store.schema import api_calls

    with pipeline.engine.connect() as raw, read_only(raw) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(api_calls)).scalar_one() > 0
        with pytest.raises(sa.exc.DBAPIError, match="(?i)read-only|readonly|query_only|attempt to write"):
            conn.execute(sa.delete(api_calls))


def test_ac_state_1_what_autocosmos_did_on_its_side_is_recorded_and_healed(pipeline: Pipeline) -> None:
    """The scenario's moderation, photo loss and deletion: each found by the next publishing round's read-back,
    stored with its reason; the photo loss lifted by a PUT and the deletion undone by a POST, the moderation
    left to Autocosmos."""
    with pipeline.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT change, vendor_state, reason, healing, healed, state_now "
                                    "FROM v_vendor_state_changes ORDER BY change, healed")).mappings().all()
    assert [(r["change"], r["healed"], r["state_now"]) for r in rows] == [
        ("deleted", 1, "active"), ("suspended", 0, "suspended"), ("suspended", 1, "active")]
    moderated, lost = rows[1], rows[2]
    assert "moderation" in moderated["reason"] and "no valid photo kept" in lost["reason"]
    assert lost["healing"].startswith("sent PUT") and rows[0]["healing"].startswith("sent POST")
