"""The publishing core: ExternalIds, payload hashes, desired states and the diff, outcomes in `publications`."""

from __future__ import annotations

import random
import string
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from dealer_pipeline.publishing import core
from dealer_pipeline.publishing.core import Desired, Draft, Op, State
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.schema import publications, vehicles
from tests.quality.factories import UK_DEALER, br_vehicle, insert_vehicles, uk_vehicle

TODAY = date(2026, 6, 2)
TARGET = "testtarget"
ACCOUNT = "admin@agencia.com.ar"
PRICE_KEYS = ("Precio",)
SAFE = set(string.ascii_letters + string.digits + "-_.~")


# ---- external ids --------------------------------------------------------------------------------


def test_external_id_is_prefixed_and_path_safe() -> None:
    assert core.external_id_for("autotrader:8a46844d9e4aa706") == "at-8a46844d9e4aa706"
    assert core.external_id_for("webmotors:51234567") == "wm-51234567"
    odd = core.external_id_for("webmotors:Ab/ç~ 1")
    assert set(odd) <= SAFE and 2 <= len(odd) <= 255


def test_external_ids_stay_distinct_when_compared_case_insensitively() -> None:
    rng = random.Random(5)
    alphabet = "aAbBzZ09-_.~/ é"
    ids = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(5000)}
    folded = {core.external_id_for(f"autotrader:{i}").lower() for i in ids}
    assert len(folded) == len(ids)


def test_external_id_refuses_unknown_source_and_overlong_ids() -> None:
    with pytest.raises(core.ExternalIdError, match="not '<autotrader"):
        core.external_id_for("mobile:123")
    with pytest.raises(core.ExternalIdError, match="at most 255"):
        core.external_id_for("autotrader:" + "x" * 260)


# ---- payload hashes -------------------------------------------------------------------------------


def test_payload_hash_separates_price_from_content() -> None:
    body = {"Marca": "/v3/marcas/1", "Kilometraje": 1000, "Precio": {"Moneda": "GBP", "Monto": 100}, "Activa": True}
    reordered = dict(reversed(list(body.items())))
    base = core.payload_hash(body, PRICE_KEYS, ("Activa",))
    assert core.payload_hash(reordered, PRICE_KEYS, ("Activa",)) == base
    assert core.payload_hash({**body, "Activa": False}, PRICE_KEYS, ("Activa",)) == base
    priced = core.payload_hash({**body, "Precio": {"Moneda": "GBP", "Monto": 90}}, PRICE_KEYS, ("Activa",))
    assert priced.content == base.content and priced.price != base.price
    moved = core.payload_hash({**body, "Kilometraje": 2000}, PRICE_KEYS, ("Activa",))
    assert moved.content != base.content and moved.price == base.price
    assert core.PayloadHash.decode(base.encode()) == base
    assert core.PayloadHash.decode("garbage") is None


# ---- the store round trip ---------------------------------------------------------------------------


def _draft(intent: core.Intent) -> Draft:
    v = intent.vehicle
    assert v is not None
    return Draft({"ExternalId": intent.external_id, "Marca": v["make"], "Kilometraje": v["mileage_km"],
                  "Precio": {"Moneda": v["price_currency"], "Monto": str(v["price_amount"])},
                  "Activa": intent.desired is Desired.PUBLISH}, flags={"dropped": []})


def _plan(store: sa.Engine, draft=_draft) -> dict[str, core.Change]:
    with store.connect() as conn:
        intents = core.desired_states(conn, TARGET, UK_DEALER, ACCOUNT, reusable_after_removal=False, today=TODAY)
    return {c.vehicle_id: c for c in core.plan(intents, draft, price_keys=PRICE_KEYS, ignore_keys=("Activa",))}


def _apply(store: sa.Engine, changes: dict[str, core.Change], status: int = 200) -> None:
    """What a target does after the vendor accepted every planned operation."""
    with transaction(store) as conn:
        for change in changes.values():
            if change.op is Op.HOLD:
                core.record_hold(conn, change)
            elif change.op is not Op.NOTHING:
                core.record_success(conn, change, status=status)


def _update(store: sa.Engine, vehicle_id: str, **values: Any) -> None:
    with transaction(store) as conn:
        conn.execute(sa.update(vehicles).where(vehicles.c.vehicle_id == vehicle_id).values(**values))


def _pub(store: sa.Engine, vehicle_id: str) -> sa.RowMapping:
    with store.connect() as conn:
        return conn.execute(sa.select(publications).where(publications.c.vehicle_id == vehicle_id)).mappings().one()


def _ops(changes: dict[str, core.Change]) -> dict[str, str]:
    return {vid: c.op.value for vid, c in changes.items()}


def test_lifecycle_create_price_suspend_reactivate_archive(store: sa.Engine) -> None:
    rows = [uk_vehicle(i) for i in range(3)]
    insert_vehicles(store, rows)
    a, b, c = (r["vehicle_id"] for r in rows)

    first = _plan(store)
    assert _ops(first) == {a: "create", b: "create", c: "create"}
    assert first[a].external_id == core.external_id_for(a) and first[a].active
    _apply(store, first, 201)
    assert _pub(store, a)["state"] == "active" and _pub(store, a)["published_at"] is not None

    assert set(_ops(_plan(store)).values()) == {"nothing"}, "a re-run of unchanged stock plans nothing"

    _update(store, a, price_amount=Decimal("9999.00"))
    _update(store, b, availability="reserved", reservation_status="RESERVED")
    _update(store, c, mileage_km=99_000)
    second = _plan(store)
    assert _ops(second) == {a: "price", b: "suspend", c: "replace"}
    assert "reserved" in second[b].why and not second[b].active
    _apply(store, second)
    assert _pub(store, b)["state"] == "suspended"
    assert set(_ops(_plan(store)).values()) == {"nothing"}

    _update(store, b, availability="available", reservation_status=None)
    _update(store, c, shown_on_dealer_site=False)
    third = _plan(store)
    assert _ops(third) == {a: "nothing", b: "reactivate", c: "suspend"}
    assert "hidden from the dealer site" in third[c].why
    _apply(store, third)

    _update(store, a, availability="sold", lifecycle_state="SOLD")
    fourth = _plan(store)
    assert fourth[a].op is Op.REMOVE
    _apply(store, fourth)
    assert _pub(store, a)["state"] == "archived"
    assert _plan(store)[a].op is Op.NOTHING, "archived once; nothing sent again"

    _update(store, a, availability="available", lifecycle_state="FORECOURT")
    again = _plan(store)[a]
    assert again.op is Op.HOLD and "cannot be used again" in again.why
    assert again.external_id == core.external_id_for(a)


def test_blocked_vehicle_is_held_or_suspended_with_the_finding(store: sa.Engine) -> None:
    good, bad = uk_vehicle(0), uk_vehicle(1, images=[])
    insert_vehicles(store, [good, bad])
    first = _plan(store)
    assert first[bad["vehicle_id"]].op is Op.HOLD
    assert "quality: required_fields: no images" in first[bad["vehicle_id"]].why
    _apply(store, first)
    held = _pub(store, bad["vehicle_id"])
    assert held["state"] == "error" and held["last_op"] == "hold" and "no images" in held["last_error"]
    with transaction(store) as conn:
        assert core.record_hold(conn, _plan(store)[bad["vehicle_id"]]) is False, "same reason: no write"

    _update(store, good["vehicle_id"], model_year=1890)
    second = _plan(store)[good["vehicle_id"]]
    assert second.op is Op.SUSPEND and "model_year" in second.why and second.intent.blocked


def test_refused_payload_is_not_resent_until_the_data_changes(store: sa.Engine) -> None:
    row = uk_vehicle(0)
    insert_vehicles(store, [row])
    vid = row["vehicle_id"]
    change = _plan(store)[vid]
    with transaction(store) as conn:
        core.record_failure(conn, change, status=400, error="Errors: Color: required", refused=True)
    stored = _pub(store, vid)
    assert stored["state"] == "error" and stored["last_status"] == 400 and stored["payload_hash"] is None
    assert _plan(store)[vid].op is Op.NOTHING
    _update(store, vid, mileage_km=12_345)
    assert _plan(store)[vid].op is Op.CREATE


def test_failure_keeps_the_previous_state_so_the_rerun_repeats_it(store: sa.Engine) -> None:
    row = uk_vehicle(0)
    insert_vehicles(store, [row])
    vid = row["vehicle_id"]
    _apply(store, _plan(store))
    _update(store, vid, mileage_km=55_555)
    change = _plan(store)[vid]
    assert change.op is Op.REPLACE
    with transaction(store) as conn:
        core.record_failure(conn, change, status=None, error="timeout")
    assert _pub(store, vid)["state"] == "active"
    assert _plan(store)[vid].op is Op.REPLACE


def test_vendor_suspension_is_recorded_and_not_fought_with_the_same_payload(store: sa.Engine) -> None:
    row = uk_vehicle(0)
    insert_vehicles(store, [row])
    vid = row["vehicle_id"]
    _apply(store, _plan(store))
    with transaction(store) as conn:
        core.record_state(conn, TARGET, vid, state=State.SUSPENDED, note="suspended by the vendor",
                          vendor_suspended={"estado": "Suspendida"})
    assert _pub(store, vid)["state"] == "suspended"
    assert _plan(store)[vid].op is Op.NOTHING
    _update(store, vid, mileage_km=1)
    assert _plan(store)[vid].op is Op.REACTIVATE


def test_draft_can_hold_or_suspend(store: sa.Engine) -> None:
    rows = [uk_vehicle(0), uk_vehicle(1)]
    insert_vehicles(store, rows)
    a, b = rows[0]["vehicle_id"], rows[1]["vehicle_id"]

    def unresolved(intent: core.Intent) -> Draft:
        if intent.vehicle_id == a:
            return Draft(None, hold_reason="catalogue: unresolved")
        return Draft(_draft(intent).payload, suspend_reason="no valid photo")

    changes = _plan(store, unresolved)
    assert changes[a].op is Op.HOLD and "catalogue" in changes[a].why
    assert changes[b].op is Op.HOLD and "no valid photo" in changes[b].why
    _apply(store, _plan(store))
    changes = _plan(store, unresolved)
    assert changes[b].op is Op.SUSPEND and "no valid photo" in changes[b].why


def test_vehicle_gone_from_the_store_is_removed(store: sa.Engine) -> None:
    row = br_vehicle(0, dealer_id=UK_DEALER)
    insert_vehicles(store, [row])
    _apply(store, _plan(store))
    with transaction(store) as conn:
        conn.execute(sa.delete(vehicles))
    change = _plan(store)[row["vehicle_id"]]
    assert change.op is Op.REMOVE and change.external_id == "wm-" + row["source_vehicle_id"]


# ---- the target's own view, read back (AC-STATE-1) ----------------------------------------------------


def test_read_back_records_vendor_changes_and_plans_a_recreate_after_a_deletion(store: sa.Engine) -> None:
    """Suspended, archived and deleted on the target's side; another restored: each is stored with its
    reason (publications and `v_vendor_state_changes`); a deleted publication is planned as a create of the
    same external id, and its re-creation keeps the first publication time."""
    from dealer_pipeline.publishing import readback

    rows = [uk_vehicle(i) for i in range(4)]
    insert_vehicles(store, rows)
    _apply(store, _plan(store), 201)
    ids = [r["vehicle_id"] for r in rows]
    first_published = _pub(store, ids[2])["published_at"]
    with store.connect() as conn:
        pubs = core.load_publications(conn, TARGET, dealer_id=UK_DEALER)
    ext = {v: pubs[v].external_id.lower() for v in ids}
    seen = {ext[ids[0]]: readback.Seen(State.SUSPENDED, "Suspendida", "no photo kept", readback.Heal.REPLACE),
            ext[ids[1]]: readback.Seen(State.ARCHIVED, "Archivada", "archived by them"),
            ext[ids[3]]: readback.Seen(State.ACTIVE, "Activa", "fine")}
    changes = readback.compare(pubs.values(), seen, gone_reason="gone", gone_heal=readback.Heal.RECREATE,
                               written={ext[ids[0]]})
    kinds = {c.publication.vehicle_id: (c.change.value, c.heal) for c in changes}
    assert kinds == {ids[0]: ("suspended", None), ids[1]: ("archived", None),
                     ids[2]: ("deleted", readback.Heal.RECREATE)}, "no heal for what this run just wrote"
    with transaction(store) as conn:
        for change in changes:
            readback.record(conn, change, healing="none: test")
    assert [_pub(store, v)["state"] for v in ids] == ["suspended", "archived", "deleted", "active"]
    assert _pub(store, ids[0])["last_error"] == "no photo kept" and _pub(store, ids[0])["flags"]["vendor_suspended"]
    with store.connect() as conn:
        view = {r["vehicle_id"]: dict(r) for r in conn.execute(sa.text(
            "SELECT vehicle_id, change, vendor_state, state_now, healed FROM v_vendor_state_changes")).mappings()}
    assert view[ids[2]] == {"vehicle_id": ids[2], "change": "deleted", "vendor_state": None,
                            "state_now": "deleted", "healed": 0}

    planned = _plan(store)
    assert planned[ids[2]].op is Op.CREATE and planned[ids[1]].op is Op.HOLD, "archived: final, an operator decides"
    assert planned[ids[0]].op is Op.NOTHING, "a vendor suspension is not fought with the same payload"
    with transaction(store) as conn:
        core.record_success(conn, planned[ids[2]], status=201, op_label="recreate")
    again = _pub(store, ids[2])
    assert again["state"] == "active" and again["published_at"] == first_published
    assert "vendor_deleted" not in again["flags"]


def test_read_back_does_not_take_a_publication_just_sent_for_deleted(store: sa.Engine) -> None:
    """The target's list may not show yet what this run created: that is no deletion (a recreate would
    then answer 409 and cost a third request for the publication, AC-MATCH-2)."""
    from dealer_pipeline.publishing import readback

    rows = [uk_vehicle(i) for i in range(2)]
    insert_vehicles(store, rows)
    _apply(store, _plan(store), 201)
    with store.connect() as conn:
        pubs = core.load_publications(conn, TARGET, dealer_id=UK_DEALER)
    just_sent, older = (pubs[r["vehicle_id"]].external_id.lower() for r in rows)
    changes = readback.compare(pubs.values(), {}, gone_reason="gone", gone_heal=readback.Heal.RECREATE,
                               written={just_sent})
    assert [(c.publication.external_id.lower(), c.change.value) for c in changes] == [(older, "deleted")]
