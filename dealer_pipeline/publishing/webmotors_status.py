"""Reporting each Webmotors vehicle's publication on our channels back to Webmotors (WM-STATUS-1).

After publishing runs, every Webmotors-sourced vehicle of a dealer gets a status from what
our channels (Autocosmos, Autochat) hold in `publications`:

* `Publicado` with our classified URL when at least one channel shows it;
* `Erro` with the reason when it is listed (available, shown on the dealer site) but no
  channel shows it and a channel says why (a quality finding that holds it back, the
  vendor's error on create);
* nothing while there is nothing to say (no attempt yet; reserved, hidden, sold or removed:
  Webmotors knows those states from Cockpit itself).

A report is sent (`PUT /marketplace/v1/anuncios/{id}/status`) only when it differs from the
last one Webmotors accepted, with the publishing engine's failure semantics (`engine.py`). The
last report is kept in `publications` under the target
`webmotors_status` (external_id = the ad id, account_id = the CNPJ, payload = the body,
state `active` for Publicado, `error` for Erro), so the rule survives restarts and is
queryable beside the channels' rows. A report Webmotors refuses (400, 404, 422) is not sent
again until its body changes.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import sqlalchemy as sa

from dealer_pipeline.dealers_file import DealerEntry
from dealer_pipeline.http import VendorError
from dealer_pipeline.publishing.core import LIVE_STATES, account_of
from dealer_pipeline.publishing.engine import NOT_SENT, Outcome, Report, run
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.repository import upsert
from dealer_pipeline.store.schema import publications, vehicles
from dealer_pipeline.store.types import utcnow
from dealer_pipeline.vendors.webmotors import WebmotorsClient

TARGET = "webmotors_status"
CHANNELS = ("autocosmos", "autochat")
PUBLISHED, ERROR = "Publicado", "Erro"
#: Our classified's ad page; placeholders: {external_id}, {vehicle_id}, {ad_id}, {dealer_id}.
DEFAULT_URL_TEMPLATE = "https://classificados.example.com/anuncio/{external_id}"
URL_FIELDS = frozenset({"external_id", "vehicle_id", "ad_id", "dealer_id"})
MAX_MESSAGE = 500


def check_url_template(template: str) -> str:
    """The template if it names only known placeholders and yields an absolute http(s) URL."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    unknown = names - URL_FIELDS
    if unknown:
        raise ValueError(f"classified URL template has unknown placeholders {sorted(unknown)}; "
                         f"known: {sorted(URL_FIELDS)}")
    if not template.startswith(("http://", "https://")):
        raise ValueError(f"classified URL template must be an absolute http(s) URL, got {template!r}")
    return template


@dataclass(frozen=True)
class StatusReport:
    """One vehicle's status report (what Webmotors is told)."""

    vehicle_id: str
    ad_id: int
    status: str
    url: str | None
    message: str | None

    def body(self) -> dict[str, Any]:
        return {"status": self.status, "url": self.url, "mensagem": self.message}

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.body(), sort_keys=True).encode()).hexdigest()[:32]


def _reason(channel_rows: Sequence[Mapping[str, Any]]) -> str | None:
    """Why the channels do not show the vehicle: their last error, else the reasons they took it down for."""
    parts = []
    for row in channel_rows:
        why = row["last_error"] or (row["flags"] or {}).get("reasons")
        if why and not why.startswith(NOT_SENT):   # a change waiting for the next run is no error yet
            parts.append(f"{row['target']}: {why}")
    return "; ".join(parts)[:MAX_MESSAGE] or None


def report_for(vehicle: Mapping[str, Any], channel_rows: Sequence[Mapping[str, Any]],
               url_template: str) -> StatusReport | None:
    """What to tell Webmotors about one vehicle given its channels' `publications` rows (pure)."""
    try:
        ad_id = int(vehicle["source_vehicle_id"])
    except (TypeError, ValueError):
        return None
    active = [row for row in channel_rows if row["state"] == "active"]
    if active:
        url = url_template.format_map({"external_id": active[0]["external_id"],
                                       "vehicle_id": vehicle["vehicle_id"], "ad_id": ad_id,
                                       "dealer_id": vehicle["dealer_id"]})
        return StatusReport(vehicle["vehicle_id"], ad_id, PUBLISHED, url, None)
    listed = vehicle["availability"] == "available" and vehicle["shown_on_dealer_site"] is not False
    if not listed or any(row["state"] in LIVE_STATES for row in channel_rows):
        return None
    message = _reason(channel_rows)
    return StatusReport(vehicle["vehicle_id"], ad_id, ERROR, None, message) if message else None


def desired_reports(conn: sa.Connection, dealer_id: str, channels: Iterable[str], url_template: str
                    ) -> list[StatusReport]:
    """The report each of the dealer's Webmotors vehicles should have now (those with one)."""
    channels = tuple(channels)
    rows = conn.execute(
        sa.select(vehicles.c.vehicle_id, vehicles.c.source_vehicle_id, vehicles.c.dealer_id, vehicles.c.availability,
                  vehicles.c.shown_on_dealer_site)
        .where(vehicles.c.dealer_id == dealer_id, vehicles.c.source == "webmotors")
        .order_by(vehicles.c.vehicle_id)
    ).mappings().all()
    by_vehicle: dict[str, list[Mapping[str, Any]]] = {}
    if channels:
        for row in conn.execute(
            sa.select(publications.c.target, publications.c.vehicle_id, publications.c.external_id,
                      publications.c.state, publications.c.last_error, publications.c.flags)
            .where(publications.c.dealer_id == dealer_id, publications.c.target.in_(channels))
            .order_by(publications.c.target)
        ).mappings():
            by_vehicle.setdefault(row["vehicle_id"], []).append(row)
    reports = []
    for vehicle in rows:
        report = report_for(vehicle, by_vehicle.get(vehicle["vehicle_id"], []), url_template)
        if report is not None:
            reports.append(report)
    return reports


def _stored(conn: sa.Connection, dealer_id: str) -> dict[str, sa.RowMapping]:
    return {row["vehicle_id"]: row for row in conn.execute(
        sa.select(publications).where(publications.c.target == TARGET, publications.c.dealer_id == dealer_id)
    ).mappings()}


def _save(conn: sa.Connection, report: StatusReport, dealer: DealerEntry, previous: sa.RowMapping | None, *,
          status: int | None, error: str | None, accepted: bool, refused: bool = False) -> None:
    now = utcnow()
    flags = dict(previous["flags"] or {}) if previous is not None else {}
    row: dict[str, Any] = {
        "target": TARGET, "vehicle_id": report.vehicle_id, "dealer_id": dealer.dealer_id,
        "account_id": dealer.source_dealer_id, "external_id": str(report.ad_id),
        "last_op": "report", "last_status": status, "last_error": error, "updated_at": now,
    }
    if accepted:
        flags.pop("refused_hash", None)
        row.update(state="active" if report.status == PUBLISHED else "error", payload=report.body(),
                   payload_hash=report.digest(), published_at=now)
    elif previous is None:
        row.update(state="error", payload=None, payload_hash=None, published_at=None)
    if refused:
        flags["refused_hash"] = report.digest()
    row["flags"] = flags
    upsert(conn, publications, [row])


def skip_reason(dealer: DealerEntry, channels: Sequence[str] = CHANNELS) -> str | None:
    """Why a dealer has nothing to report (None when it has)."""
    if dealer.source != "webmotors":
        return "not a Webmotors dealer: nothing to report to Webmotors"
    if not any(account_of(dealer, t) for t in channels):
        return "the dealer publishes to none of our channels"
    return None


class StatusTarget:
    """The status reports of one Webmotors dealer as a publishing-engine target. Webmotors' contract has no
    call listing the reports it holds (api/webmotors.md 2.3), so nothing is read back."""

    name = TARGET

    def __init__(self, engine: sa.Engine, client: WebmotorsClient, dealer: DealerEntry, *,
                 url_template: str = DEFAULT_URL_TEMPLATE, channels: Sequence[str] = CHANNELS) -> None:
        self.engine, self.client, self.dealer = engine, client, dealer
        self.url_template, self.channels = url_template, tuple(channels)
        self.sent: Counter = Counter()        # Publicado / Erro reports accepted
        self.previous: dict[str, sa.RowMapping] = {}

    def skip_reason(self, report: Report) -> str | None:
        return skip_reason(self.dealer, self.channels)

    def plan(self, report: Report) -> list[StatusReport]:
        mine = [t for t in self.channels if account_of(self.dealer, t)]
        check_url_template(self.url_template)
        with self.engine.connect() as conn:
            reports = desired_reports(conn, self.dealer.dealer_id, mine, self.url_template)
            self.previous = _stored(conn, self.dealer.dealer_id)
        changed = []
        for item in reports:
            previous = self.previous.get(item.vehicle_id)
            digest = item.digest()
            if previous is None or digest not in (previous["payload_hash"], (previous["flags"] or {}).get("refused_hash")):
                changed.append(item)
        report.planned["report"] += len(changed)
        report.details.update(reports_sent=self.sent, unchanged=len(reports) - len(changed))
        return changed

    def kind(self, item: StatusReport) -> str:
        return "report"

    def send(self, item: StatusReport, report: Report) -> None:
        self.client.report_status(item.ad_id, item.status, url=item.url, message=item.message)
        self.sent[item.status] += 1
        report.sent["status"] += 1
        with transaction(self.engine) as conn:
            _save(conn, item, self.dealer, self.previous.get(item.vehicle_id), status=204, error=None, accepted=True)

    def record_failure(self, item: StatusReport, outcome: Outcome, error: str, exc: VendorError | None) -> None:
        with transaction(self.engine) as conn:
            _save(conn, item, self.dealer, self.previous.get(item.vehicle_id), status=exc.status if exc else None,
                  error=error, accepted=False, refused=outcome is Outcome.REFUSED)

    def read_back(self, report: Report) -> None:
        """Nothing to read: the contract lists no reports."""


def report_dealer(engine: sa.Engine, client: WebmotorsClient, dealer: DealerEntry, *,
                  url_template: str = DEFAULT_URL_TEMPLATE, channels: Sequence[str] = CHANNELS) -> Report:
    """Send each changed status report of one Webmotors dealer; outcomes land in `publications`."""
    return run(StatusTarget(engine, client, dealer, url_template=url_template, channels=channels), dealer.dealer_id)
