"""The review queue (`v_catalog_review`): specs an operator must look at, and what they can do.

An operator either resolves a spec by hand (names the version to publish it as) or sends it
back to be asked again (after correcting the vehicle data, or when the catalogue has grown).
Both are recorded in `catalog_matches`; nothing else ever re-asks a spec.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.catalogue.resolve import MATCHED
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.schema import catalog_matches
from dealer_pipeline.store.types import utcnow

_HREF = re.compile(r"^/v3/(marcas|modelos|versiones)/\d+$")


class ReviewError(ValueError):
    """The spec or the hrefs given do not allow the requested review action."""


def review_queue(conn: sa.Connection, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Rows of `v_catalog_review`, the specs most vehicles wait on first."""
    sql = "SELECT * FROM v_catalog_review ORDER BY vehicles DESC, spec_key"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [dict(row) for row in conn.exec_driver_sql(sql).mappings()]


def review_queue_size(conn: sa.Connection) -> int:
    return int(conn.exec_driver_sql("SELECT count(*) FROM v_catalog_review").scalar_one())


def _check_href(kind: str, href: str | None) -> str | None:
    if href is None:
        return None
    match = _HREF.match(href.strip())
    if match is None or match.group(1) != kind:
        raise ReviewError(f"{href!r} is not a /v3/{kind}/<id> href")
    return href.strip()


def resolve_by_hand(engine: sa.Engine, spec_key: str, version_href: str, *, make_href: str | None = None,
                    model_href: str | None = None, note: str | None = None, now: datetime | None = None) -> dict:
    """Publish vehicles of `spec_key` as `version_href` (status matched, reviewed_at set).

    Make and model come from the catalogue's answer unless given; fuel, transmission and body
    from the candidate with that href when the answer listed it.
    """
    version_href = _check_href("versiones", version_href)  # type: ignore[assignment]
    make_href, model_href = _check_href("marcas", make_href), _check_href("modelos", model_href)
    when = now or utcnow()
    with transaction(engine) as conn:
        row = conn.execute(sa.select(catalog_matches).where(catalog_matches.c.spec_key == spec_key)
                           ).mappings().first()
        if row is None:
            raise ReviewError(f"no catalogue spec {spec_key!r}")
        make_href = make_href or row["make_href"]
        model_href = model_href or row["model_href"]
        if not make_href or not model_href:
            raise ReviewError(f"spec {spec_key} has no make/model from the catalogue: give --make and --model hrefs")
        candidate = next((c for c in row["candidates"] or [] if c.get("href") == version_href), {})
        response = dict(row["response"] or {})
        response["_resolution"] = {"body": candidate.get("Carroceria"), "accepted": version_href,
                                   "by": "operator"}
        values = {"status": MATCHED, "make_href": make_href, "model_href": model_href, "version_href": version_href,
                  "fuel_type": candidate.get("Propulsion") or row["fuel_type"],
                  "transmission": candidate.get("Transmision") or row["transmission"],
                  "response": response, "reviewed_at": when, "review_note": note or "resolved by an operator",
                  "recheck_requested_at": None}
        conn.execute(sa.update(catalog_matches).where(catalog_matches.c.spec_key == spec_key).values(**values))
    return {"spec_key": spec_key, **{k: values[k] for k in ("status", "make_href", "model_href", "version_href")}}


def send_back(engine: sa.Engine, spec_key: str, *, note: str | None = None, now: datetime | None = None) -> None:
    """Ask the catalogue about `spec_key` again on the next resolution run."""
    when = now or utcnow()
    with transaction(engine) as conn:
        updated = conn.execute(sa.update(catalog_matches).where(catalog_matches.c.spec_key == spec_key).values(
            recheck_requested_at=when, review_note=note or "sent back for another best match")).rowcount
    if not updated:
        raise ReviewError(f"no catalogue spec {spec_key!r}")
