"""Resolving specs through `versiones/bestmatch`, once per distinct spec, cached in `catalog_matches`.

A spec is asked exactly once; the answer is kept whatever it says (matched, ranked or
unresolved) and never asked again on a schedule. It is asked again only when an operator
sends it back (`catalog_matches.recheck_requested_at` newer than `resolved_at`). A transient
failure (outage, pause) caches nothing: the spec is simply asked on the next run. A 400 (the
catalogue refused our parameters) is cached as unresolved, so it goes to review instead of
being re-sent.
"""

from __future__ import annotations

import logging
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Iterable, Iterator, Mapping, Protocol

import sqlalchemy as sa

from dealer_pipeline.catalogue.ranking import DEFAULT_THRESHOLD, rank_candidates
from dealer_pipeline.catalogue.spec import DEFAULT_VOCABULARY, Vocabulary, spec_key, spec_params
from dealer_pipeline.http import AuthFailed, VendorBlocked, VendorError, WaitBudgetExceeded
from dealer_pipeline.store.engine import is_postgres, transaction
from dealer_pipeline.store.repository import upsert
from dealer_pipeline.store.schema import catalog_matches, vehicle_specs
from dealer_pipeline.store.types import utcnow

log = logging.getLogger(__name__)
#: Advisory-lock namespace of catalogue specs (the first key of pg_advisory_lock(int, int)).
_LOCK_NAMESPACE = 0x4341_5431  # "CAT1"

MATCHED, RANKED, UNRESOLVED = "matched", "ranked", "unresolved"
_VERSION_HREF = "/versiones/"


class BestMatch(Protocol):
    def bestmatch(self, params: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class CatalogMatch:
    """A cached answer: what to publish a vehicle of this spec as (when usable)."""

    spec_key: str
    status: str
    params: Mapping[str, str]
    make_href: str | None
    model_href: str | None
    version_href: str | None
    fuel_type: str | None
    transmission: str | None
    body: str | None
    confidence: float | None
    reason: str | None

    @property
    def usable(self) -> bool:
        return self.status in (MATCHED, RANKED) and bool(self.make_href and self.model_href and self.version_href)


@dataclass
class ResolveReport:
    vehicles: int = 0
    without_spec: int = 0
    specs: int = 0
    cache_hits: int = 0
    asked: int = 0
    rechecked: int = 0
    outcomes: Counter = field(default_factory=Counter)   # status -> specs newly resolved
    failed: list[str] = field(default_factory=list)      # transient failures (asked again next run)

    def metadata(self) -> dict[str, Any]:
        return {"vehicles": self.vehicles, "vehicles_without_make_model": self.without_spec, "specs": self.specs,
                "new_specs": self.asked, "cache_hits": self.cache_hits, "rechecked": self.rechecked,
                "matched": self.outcomes[MATCHED], "ranked": self.outcomes[RANKED],
                "unresolved": self.outcomes[UNRESOLVED], "failed": len(self.failed)}


# ---- classifying one answer ---------------------------------------------------------------------------
def _body_of(entry: Mapping[str, Any] | None) -> str | None:
    value = (entry or {}).get("Carroceria")
    return value if isinstance(value, str) and value else None


def classify(params: Mapping[str, str], response: Mapping[str, Any], *, threshold: float) -> dict[str, Any]:
    """`catalog_matches` values for one best-match answer (2.2)."""
    make, model, trim = response.get("Make"), response.get("Model"), response.get("Trim")
    match = response.get("Match")
    candidates = response.get("Candidates") or []
    values: dict[str, Any] = {"make_href": make if isinstance(make, str) else None,
                              "model_href": model if isinstance(model, str) else None,
                              "version_href": None, "fuel_type": None, "transmission": None,
                              "confidence": None, "candidates": None, "response": dict(response)}
    if isinstance(match, Mapping) and isinstance(trim, str) and _VERSION_HREF in trim:
        values.update(status=MATCHED, version_href=trim, fuel_type=response.get("FuelType"),
                      transmission=response.get("TransmisionType"), confidence=Decimal("1.000"))
        values["response"]["_resolution"] = {"body": _body_of(match)}
        return values
    if not values["make_href"] or not values["model_href"]:
        missing = "make" if not values["make_href"] else "model"
        values.update(status=UNRESOLVED)
        values["response"]["_resolution"] = {"reason": f"the catalogue has no such {missing}"}
        return values
    if not isinstance(candidates, list) or not candidates:
        values.update(status=UNRESOLVED)
        values["response"]["_resolution"] = {"reason": "no version matched and no candidates: adjust the spec"}
        return values
    ranking = rank_candidates(params, [c for c in candidates if isinstance(c, Mapping)])
    values["candidates"] = [c.as_json() for c in ranking.candidates]
    values["confidence"] = Decimal(str(ranking.confidence)).quantize(Decimal("0.001"))
    top = ranking.accepted(threshold)
    if top is None:
        reason = ranking.reason or f"top candidate confidence {ranking.confidence:.3f} below {threshold:.3f}"
        values.update(status=UNRESOLVED)
        values["response"]["_resolution"] = {"reason": reason}
        return values
    values.update(status=RANKED, version_href=top.href, fuel_type=top.fuel or response.get("FuelType"),
                  transmission=top.transmission or response.get("TransmisionType"))
    values["response"]["_resolution"] = {"body": top.body, "accepted": top.href}
    return values


def _match(row: Mapping[str, Any]) -> CatalogMatch:
    resolution = (row["response"] or {}).get("_resolution") or {}
    confidence = row["confidence"]
    return CatalogMatch(row["spec_key"], row["status"], dict(row["params"] or {}), row["make_href"],
                        row["model_href"], row["version_href"], row["fuel_type"], row["transmission"],
                        resolution.get("body"), float(confidence) if confidence is not None else None,
                        resolution.get("reason") or row.get("review_note"))


def load_matches(conn: sa.Connection, keys: Iterable[str]) -> dict[str, CatalogMatch]:
    wanted = list(dict.fromkeys(keys))
    found: dict[str, CatalogMatch] = {}
    for start in range(0, len(wanted), 1000):
        stmt = sa.select(catalog_matches).where(catalog_matches.c.spec_key.in_(wanted[start:start + 1000]))
        for row in conn.execute(stmt).mappings():
            found[row["spec_key"]] = _match(row)
    return found


def _due(conn: sa.Connection, keys: list[str]) -> tuple[set[str], set[str]]:
    """(keys never asked, keys an operator sent back)."""
    cached: dict[str, tuple[datetime, datetime | None]] = {}
    for start in range(0, len(keys), 1000):
        stmt = sa.select(catalog_matches.c.spec_key, catalog_matches.c.resolved_at,
                         catalog_matches.c.recheck_requested_at).where(
            catalog_matches.c.spec_key.in_(keys[start:start + 1000]))
        cached.update({k: (r, q) for k, r, q in conn.execute(stmt)})
    new = {k for k in keys if k not in cached}
    recheck = {k for k, (resolved, requested) in cached.items() if requested is not None and requested >= resolved}
    return new, recheck


def specs_of(vehicles: Iterable[Mapping[str, Any]], vocabulary: Vocabulary = DEFAULT_VOCABULARY, *,
             into: dict[str, tuple[str, dict[str, str]] | None] | None = None
             ) -> dict[str, tuple[str, dict[str, str]] | None]:
    """vehicle_id -> (spec_key, params), or None for a vehicle without make and model (added to `into`
    when given). Vehicles of one spec share one (key, params) pair: a dealer group's table maps to a
    few thousand specs, so the map stays small after the vehicles themselves are dropped."""
    out: dict[str, tuple[str, dict[str, str]] | None] = {} if into is None else into
    shared: dict[str, tuple[str, dict[str, str]]] = {}
    for vehicle in vehicles:
        params = spec_params(vehicle, vocabulary)
        if params is None:
            out[vehicle["vehicle_id"]] = None
            continue
        key = spec_key(params)
        out[vehicle["vehicle_id"]] = shared.setdefault(key, (key, params))
    return out


def resolve_specs(engine: sa.Engine, client: BestMatch, vehicles: Iterable[Mapping[str, Any]] = (), *,
                  threshold: float = DEFAULT_THRESHOLD, vocabulary: Vocabulary = DEFAULT_VOCABULARY,
                  now: datetime | None = None,
                  specs: Mapping[str, tuple[str, dict[str, str]] | None] | None = None) -> ResolveReport:
    """Make sure every vehicle's spec has an answer in `catalog_matches`; one call per spec never asked.
    The vehicles may come as their `specs` (`specs_of`) instead.

    Records which spec each vehicle maps to (`vehicle_specs`). A vendor block or an exhausted
    wait budget stops the loop (the rest is asked next run); other transient failures skip
    that spec only.
    """
    report = ResolveReport()
    specs = specs if specs is not None else specs_of(vehicles, vocabulary)
    report.vehicles = len(specs)
    report.without_spec = sum(1 for s in specs.values() if s is None)
    params_by_key = {key: params for key, params in (s for s in specs.values() if s is not None)}
    report.specs = len(params_by_key)
    stamp = now or utcnow()
    with transaction(engine) as conn:
        _remember_specs(conn, {vid: s[0] for vid, s in specs.items() if s is not None}, stamp)
        new, recheck = _due(conn, list(params_by_key))
    report.cache_hits = len(params_by_key) - len(new) - len(recheck)
    report.rechecked = len(recheck)
    for key in sorted(new | recheck):
        params = params_by_key[key]
        with _spec_claim(engine, key) as still_due:
            if not still_due:  # another run asked while we waited for the claim
                report.cache_hits += 1
                continue
            if not _ask(engine, client, key, params, threshold, report):
                break
    return report


@contextmanager
def _spec_claim(engine: sa.Engine, key: str) -> Iterator[bool]:
    """Hold the spec while it is asked, so concurrent runs ask the vendor once (AC-MATCH-1).

    PostgreSQL: a session advisory lock per spec; whoever waited re-reads the cache and finds
    the answer. SQLite (one machine, the local default): no lock across the vendor call,
    which would hold the database's single write lock; the cache is re-read instead.
    """
    with engine.connect() as conn:
        locked = is_postgres(conn)
        if locked:
            conn.execute(sa.select(sa.func.pg_advisory_lock(_LOCK_NAMESPACE, _lock_id(key))))
            conn.commit()
        try:
            new, recheck = _due(conn, [key])
            conn.commit()
            yield key in new or key in recheck
        finally:
            if locked:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(_LOCK_NAMESPACE, _lock_id(key))))
                conn.commit()


def _lock_id(key: str) -> int:
    """A signed 32-bit id from the spec key (a hex digest)."""
    return int(key[:8], 16) - 2**31


def _ask(engine: sa.Engine, client: BestMatch, key: str, params: dict[str, str], threshold: float,
         report: ResolveReport) -> bool:
    """One bestmatch call for `key`, its answer cached; False when the loop must stop."""
    try:
        values = classify(params, client.bestmatch(params), threshold=threshold)
    except AuthFailed:
        raise
    except (VendorBlocked, WaitBudgetExceeded) as exc:
        report.failed.append(f"{key}: {exc}")
        log.warning("catalogue resolution stopped: %s", exc)
        return False
    except VendorError as exc:
        if exc.status != 400:
            report.failed.append(f"{key}: {exc}")
            return True
        values = {"status": UNRESOLVED, "make_href": None, "model_href": None, "version_href": None,
                  "fuel_type": None, "transmission": None, "confidence": None, "candidates": None,
                  "response": {"_resolution": {"reason": f"the catalogue refused the parameters: {exc}"}}}
    report.asked += 1
    report.outcomes[values["status"]] += 1
    row = {"spec_key": key, "params": params, **values, "resolved_at": utcnow(), "reviewed_at": None,
           "review_note": None}
    with transaction(engine) as conn:
        upsert(conn, catalog_matches, [row])
    return True


def _remember_specs(conn: sa.Connection, by_vehicle: Mapping[str, str], now: datetime) -> None:
    """Upsert `vehicle_specs` only where the spec changed (so a steady fleet writes nothing)."""
    if not by_vehicle:
        return
    known: dict[str, str] = {}
    ids = list(by_vehicle)
    for start in range(0, len(ids), 1000):
        stmt = sa.select(vehicle_specs.c.vehicle_id, vehicle_specs.c.spec_key).where(
            vehicle_specs.c.vehicle_id.in_(ids[start:start + 1000]))
        known.update(dict(conn.execute(stmt).all()))
    changed = [{"vehicle_id": vid, "spec_key": key, "updated_at": now}
               for vid, key in by_vehicle.items() if known.get(vid) != key]
    upsert(conn, vehicle_specs, changed)
