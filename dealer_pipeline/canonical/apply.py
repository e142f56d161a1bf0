"""Applying canonical rows to the store: current state in `vehicles`, history in `vehicle_changes`.

Ordering rule (the vendors deliver out of order and repeat themselves):
* both rows carry `source_version` (Autotrader versionNumber): the incoming row applies only
  when its version is higher; an equal version is a duplicate. One exception: a vehicle we
  marked removed because a complete baseline no longer listed it comes back when the vendor
  lists it again, even at the same version (the vendor's record did not change; our view did);
* otherwise, both carry `source_updated_at` (Webmotors `updated_at`): an older timestamp is
  stale; an equal one applies (second resolution cannot order two edits, and applying the
  same content twice changes nothing);
* otherwise the row applies. A row without a version or timestamp never erases the stored one.

Rows are read in batches with row locks (PostgreSQL `FOR UPDATE`; SQLite write transactions
are exclusive), diffed in Python, and written with one guarded upsert per batch: the SQL
guard repeats the ordering rule so a concurrent writer that slipped in still cannot make an
older version win. Rows for the same vehicle within one call apply in order, so a batch
holding v7 then v8 records both transitions.

Speed (bench/normalize_bench.py): the locked read leaves out `raw` (a few kB of JSON per
vehicle) unless a row has no version to decide by, and on PostgreSQL large batches go
through `COPY` into a temporary table and one `INSERT ... SELECT ... ON CONFLICT`, because
an `ON CONFLICT` executemany is sent one row per round trip (SQLAlchemy 2.1 does not batch
upserts without RETURNING). Small batches (notifications) use `repository.upsert`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Iterable, Mapping, Sequence

import sqlalchemy as sa

from dealer_pipeline.canonical import bulk
from dealer_pipeline.canonical.model import REQUIRED_COLUMNS, ROW_COLUMNS, TRACKED_COLUMNS
from dealer_pipeline.store import repository
from dealer_pipeline.store.engine import is_postgres
from dealer_pipeline.store.schema import dealers, vehicle_changes, vehicles

BATCH_ROWS = 2_000
#: From this many rows a PostgreSQL write goes through COPY (see module docstring).
COPY_MIN_ROWS = 200
REMOVED = "removed"

_ROW_COLUMN_SET = frozenset(ROW_COLUMNS)
_VEHICLE_UPDATE_COLUMNS = tuple(c.name for c in vehicles.columns if c.name not in {"vehicle_id", "first_seen_at"})
_EMPTY_VEHICLE = {c.name: None for c in vehicles.columns}
_READ_COLUMNS = tuple(c for c in vehicles.columns if c.name != "raw")
_HEAD_COLUMNS = ("source_version", "source_updated_at", "availability")  # what `_ordering` reads
_ORDERING = ("source_version", "source_updated_at")

_DEALER_COLUMNS = frozenset(c.name for c in dealers.columns)
_DEALER_REQUIRED = ("dealer_id", "source", "source_dealer_id", "status")
_EMPTY_DEALER = {c.name: None for c in dealers.columns}


@dataclass
class ApplyResult:
    """What one `apply_vehicles` call did; the counters add up to the rows given."""

    created: int = 0
    updated: int = 0  # at least one tracked field changed
    unchanged: int = 0  # applied, no tracked field changed (raw or version may have been refreshed)
    stale: int = 0  # not applied: older version, or an equal one (duplicate)
    changes: int = 0  # vehicle_changes rows written
    #: vehicle_id -> fields that changed; for a created vehicle, every field it arrived with.
    #: Callers test e.g. {"derivative_id", "features"} & fields to decide on refetching enrichments.
    changed_fields: dict[str, set[str]] = field(default_factory=dict)
    created_ids: set[str] = field(default_factory=set)
    duplicates: int = 0  # the part of `stale` whose version equals the stored one
    outcomes: list[str] = field(default_factory=list)  # per given row: created, updated, unchanged, stale


def apply_vehicles(
    conn: sa.Connection,
    rows: Sequence[Mapping[str, Any]],
    *,
    cause: str,
    now: datetime,
    seen_in_baseline: bool = False,
) -> ApplyResult:
    """Insert new vehicles, update changed ones with one `vehicle_changes` row per changed field.

    `cause` labels the change rows (baseline, notification, ...). `seen_in_baseline` stamps
    `last_seen_in_baseline_at=now` on every given vehicle, stale ones included (they were listed).
    Runs inside the caller's transaction; raises ValueError for a row that is not a `vehicles` row.
    """
    _require_aware(now)
    result = ApplyResult()
    for start in range(0, len(rows), BATCH_ROWS):
        _apply_batch(conn, rows[start : start + BATCH_ROWS], cause, now, seen_in_baseline, result)
    return result


def _apply_batch(
    conn: sa.Connection,
    rows: Sequence[Mapping[str, Any]],
    cause: str,
    now: datetime,
    seen_in_baseline: bool,
    result: ApplyResult,
) -> None:
    for row in rows:
        _check_row(row)
    state = _read_current(conn, rows)
    writes: dict[str, dict[str, Any]] = {}
    changes: list[dict[str, Any]] = []
    seen_only: set[str] = set()

    for row in rows:
        vid = row["vehicle_id"]
        current = state.get(vid)
        if current is None:
            new = {**_EMPTY_VEHICLE, **row, "first_seen_at": now, "updated_at": now}
            new["last_seen_in_baseline_at"] = now if seen_in_baseline else None
            state[vid] = writes[vid] = new
            result.created += 1
            result.created_ids.add(vid)
            result.changed_fields.setdefault(vid, set()).update(f for f in TRACKED_COLUMNS if new[f] is not None)
            result.outcomes.append("created")
            continue

        verdict = _ordering(current, row)
        if verdict != "apply":
            result.stale += 1
            result.duplicates += verdict == "duplicate"
            result.outcomes.append("stale")
            if seen_in_baseline:
                seen_only.add(vid)
            continue

        changed = [f for f in TRACKED_COLUMNS if f in row and not _same(current[f], row[f])]
        refreshed = any(row.get(f) is not None and not _same(current[f], row[f]) for f in _ORDERING) or (
            "raw" in current and not _same(current["raw"], row["raw"])
        )
        if not changed and not refreshed:
            result.unchanged += 1
            result.outcomes.append("unchanged")
            if seen_in_baseline:
                seen_only.add(vid)
            continue

        new = dict(current)
        new.update((k, v) for k, v in row.items() if v is not None or k not in _ORDERING)
        if changed:
            new["updated_at"] = now
        if seen_in_baseline:
            new["last_seen_in_baseline_at"] = now
        for name in changed:
            changes.append(_change(vid, name, current[name], row[name], cause, now, new["source_version"]))
        state[vid] = writes[vid] = new
        if changed:
            result.updated += 1
            result.changed_fields.setdefault(vid, set()).update(changed)
            result.outcomes.append("updated")
        else:
            result.unchanged += 1
            result.outcomes.append("unchanged")

    _write(conn, list(writes.values()))
    if changes:
        repository.insert_many(conn, vehicle_changes, changes)
        result.changes += len(changes)
    _stamp_seen(conn, seen_only - writes.keys(), now)


def _read_current(conn: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Stored state of these vehicles, locked, read in two steps to skip what will not be used.

    First the ordering columns of every vehicle (with the row lock); then the other columns only
    for vehicles that some incoming row may change (a re-run baseline is mostly duplicates), and
    `raw` only where a row has no version to decide by. A vehicle whose rows are all stale keeps
    just its ordering columns. (Not `repository.get_by_keys`: that reads every column, and `raw`
    is most of the bytes.)
    """
    c = vehicles.c
    ids = list(dict.fromkeys(row["vehicle_id"] for row in rows))
    heads = sa.select(c.vehicle_id, *(c[name] for name in _HEAD_COLUMNS)).where(c.vehicle_id.in_(ids))
    if is_postgres(conn):
        heads = heads.with_for_update()
    state = {row["vehicle_id"]: dict(row) for row in conn.execute(heads).mappings()}
    wanted = {row["vehicle_id"] for row in rows if row["vehicle_id"] in state
              and _ordering(state[row["vehicle_id"]], row) == "apply"}
    if not wanted:
        return state
    for row in conn.execute(sa.select(*_READ_COLUMNS).where(c.vehicle_id.in_(wanted))).mappings():
        state[row["vehicle_id"]] = dict(row)
    unversioned = {row["vehicle_id"] for row in rows if row.get("source_version") is None} & wanted
    if unversioned:
        for vid, raw in conn.execute(sa.select(c.vehicle_id, c.raw).where(c.vehicle_id.in_(unversioned))):
            state[vid]["raw"] = raw
    return state


def _write(conn: sa.Connection, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    if len(rows) >= COPY_MIN_ROWS and bulk.supports_copy(conn):
        bulk.copy_upsert(conn, vehicles, rows, update_columns=_VEHICLE_UPDATE_COLUMNS, only_if=_not_older)
    else:
        repository.upsert(conn, vehicles, rows, update_columns=_VEHICLE_UPDATE_COLUMNS, only_if=_not_older)


def _ordering(current: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    """'apply', 'stale' or 'duplicate' for an incoming row against the current state."""
    old_version, new_version = current["source_version"], row.get("source_version")
    if old_version is not None and new_version is not None:
        if new_version > old_version:
            return "apply"
        if new_version == old_version:
            revived = current["availability"] == REMOVED and row.get("availability") not in (None, REMOVED)
            return "apply" if revived else "duplicate"
        return "stale"
    old_time, new_time = current["source_updated_at"], row.get("source_updated_at")
    if old_time is not None and new_time is not None and new_time < old_time:
        return "stale"
    return "apply"


def _not_older(new: Any) -> sa.ColumnElement[bool]:
    """The ordering rule in SQL, stored row (`vehicles.c`) against the incoming one (`new`)."""
    stored = vehicles.c
    both_versions = sa.and_(stored.source_version.is_not(None), new.source_version.is_not(None))
    return sa.or_(
        sa.and_(both_versions, stored.source_version <= new.source_version),
        sa.and_(
            sa.not_(both_versions),
            sa.or_(
                stored.source_updated_at.is_(None),
                new.source_updated_at.is_(None),
                stored.source_updated_at <= new.source_updated_at,
            ),
        ),
    )


def _stamp_seen(conn: sa.Connection, vehicle_ids: Iterable[str], now: datetime) -> None:
    ids = sorted(vehicle_ids)
    for start in range(0, len(ids), BATCH_ROWS):
        conn.execute(
            sa.update(vehicles)
            .where(vehicles.c.vehicle_id.in_(ids[start : start + BATCH_ROWS]))
            .values(last_seen_in_baseline_at=now)
        )


def mark_missing_removed(
    conn: sa.Connection,
    *,
    dealer_id: str,
    source: str,
    present_vehicle_ids: set[str],
    cause: str,
    now: datetime,
) -> int:
    """Mark that dealer's vehicles absent from a complete download as removed; returns how many.

    Call only after a download that ended normally: a partial listing would remove live stock.
    The vendor's `lifecycle_state` is left as it was (it is the vendor's last word); each
    removal writes an `availability` change row.
    """
    _require_aware(now)
    c = vehicles.c
    query = sa.select(c.vehicle_id, c.availability, c.source_version).where(
        c.dealer_id == dealer_id, c.source == source, c.availability != REMOVED
    )
    if is_postgres(conn):
        query = query.with_for_update()
    missing = [row for row in conn.execute(query) if row.vehicle_id not in present_vehicle_ids]
    for start in range(0, len(missing), BATCH_ROWS):
        ids = [row.vehicle_id for row in missing[start : start + BATCH_ROWS]]
        conn.execute(
            sa.update(vehicles)
            .where(c.vehicle_id.in_(ids), c.availability != REMOVED)
            .values(availability=REMOVED, updated_at=now)
        )
    repository.insert_many(
        conn,
        vehicle_changes,
        [_change(row.vehicle_id, "availability", row.availability, REMOVED, cause, now, row.source_version)
         for row in missing],
    )
    return len(missing)


def upsert_dealers(conn: sa.Connection, rows: Sequence[Mapping[str, Any]], *, now: datetime) -> int:
    """Insert or update `dealers` rows; returns how many were inserted or applied.

    A row whose `source_updated_at` is not later than the stored one is skipped (an
    `ADVERTISER` notification is applied only if its time is later), so a late, older record
    never overwrites a newer one. `first_seen_at` is set once; `left_at` only when given.
    """
    _require_aware(now)
    for row in rows:
        unknown = set(row) - _DEALER_COLUMNS
        missing = [name for name in _DEALER_REQUIRED if row.get(name) is None]
        if unknown or missing:
            raise ValueError(f"dealer row {row.get('dealer_id')!r}: unknown columns {sorted(unknown)}, "
                             f"missing {missing}")
    stored = repository.get_by_keys(conn, dealers, (row["dealer_id"] for row in rows), for_update=True)
    state: dict[str, dict[str, Any]] = {key: dict(value) for key, value in stored.items()}
    writes: dict[str, dict[str, Any]] = {}
    applied = 0
    for row in rows:
        current = state.get(row["dealer_id"])
        if current is not None:
            old, new_time = current["source_updated_at"], row.get("source_updated_at")
            if old is not None and new_time is not None and new_time <= old:
                continue
        base = current if current is not None else {**_EMPTY_DEALER, "first_seen_at": now}
        merged = {**base, **row, "updated_at": now}
        if row.get("source_updated_at") is None:
            merged["source_updated_at"] = base["source_updated_at"]
        state[row["dealer_id"]] = writes[row["dealer_id"]] = merged
        applied += 1
    if writes:
        stored_c = dealers.c
        repository.upsert(
            conn,
            dealers,
            list(writes.values()),
            update_columns=[c.name for c in dealers.columns if c.name not in {"dealer_id", "first_seen_at"}],
            only_if=lambda new: sa.or_(
                stored_c.source_updated_at.is_(None),
                new.source_updated_at.is_(None),
                stored_c.source_updated_at <= new.source_updated_at,
            ),
        )
    return applied


def _change(
    vehicle_id: str, name: str, old: Any, new: Any, cause: str, now: datetime, version: int | None
) -> dict[str, Any]:
    return {
        "vehicle_id": vehicle_id,
        "field": name,
        "old_value": json_text(old),
        "new_value": json_text(new),
        "changed_at": now,
        "cause": cause,
        "source_version": version,
    }


def json_text(value: Any) -> str | None:
    """A column value as JSON text for `vehicle_changes`; SQL NULL for None.

    Money and power stay JSON numbers (`11194.00`), so `new_value::numeric` works in SQL.
    """
    if value is None:
        return None
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, (datetime, date)):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False, default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, bool) or isinstance(new, bool):
        return old is new  # True == 1, but a flag turning into a number is a change
    return old == new


def _check_row(row: Mapping[str, Any]) -> None:
    unknown = set(row) - _ROW_COLUMN_SET
    missing = [name for name in REQUIRED_COLUMNS if row.get(name) is None]
    if unknown or missing:
        raise ValueError(
            f"vehicle row {row.get('vehicle_id')!r} is not a vehicles row: unknown columns {sorted(unknown)}, "
            f"missing {missing}"
        )


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
