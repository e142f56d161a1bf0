"""Warning checks: signs that a dealer's feed is shrinking, stale, or speaks an unmapped vocabulary.

They never hold a vehicle back; they tell a person where to look. Row counts and freshness come
from `sync_runs` (one row per baseline download; `complete` is set only when every page arrived).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
import sqlalchemy as sa

from dealer_pipeline.quality import limits
from dealer_pipeline.quality.rules import WARNING
from dealer_pipeline.store.schema import sync_runs, vehicles

BASELINE_KIND = "baseline"
OTHER_VOCABULARY = "other_vocabulary_share"
VOCABULARY_COLUMNS = {"fuel_type": "source_fuel_type", "transmission": "source_transmission"}
#: What `other_vocabulary_share` reads (pass to `load_vehicles(columns=...)`).
OTHER_SHARE_COLUMNS = ("vehicle_id", "dealer_id", "availability", *VOCABULARY_COLUMNS, *VOCABULARY_COLUMNS.values())


@dataclass(frozen=True)
class DealerWarning:
    dealer_id: str
    message: str
    figures: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class DealerCheck:
    """The outcome of one warning check over a set of dealers."""

    check_name: str
    dealers_checked: int
    warnings: list[DealerWarning]

    @property
    def passed(self) -> bool:
        return not self.warnings


def _complete_baselines(conn: sa.Connection, dealer_id: str | None) -> pd.DataFrame:
    stmt = sa.select(sync_runs.c.dealer_id, sync_runs.c.records, sync_runs.c.started_at,
                     sa.func.coalesce(sync_runs.c.finished_at, sync_runs.c.started_at).label("finished_at")).where(
        sync_runs.c.kind == BASELINE_KIND, sync_runs.c.complete.is_(sa.true()))
    if dealer_id is not None:
        stmt = stmt.where(sync_runs.c.dealer_id == dealer_id)
    rows = conn.execute(stmt.order_by(sync_runs.c.dealer_id, sync_runs.c.started_at.desc(), sync_runs.c.id.desc()))
    return pd.DataFrame(rows.fetchall(), columns=["dealer_id", "records", "started_at", "finished_at"])


def baseline_row_count(conn: sa.Connection, *, dealer_id: str | None = None,
                       max_drop: float = limits.ROW_COUNT_DROP_WARN) -> DealerCheck:
    """Warn where the last complete baseline holds more than `max_drop` fewer records than the one before."""
    runs = _complete_baselines(conn, dealer_id)
    warnings: list[DealerWarning] = []
    dealers = 0
    for dealer, group in runs.groupby("dealer_id", sort=True):
        if len(group) < 2:
            continue
        dealers += 1
        latest, previous = group.iloc[0], group.iloc[1]
        if pd.isna(latest["records"]) or pd.isna(previous["records"]) or int(previous["records"]) <= 0:
            continue
        drop = (int(previous["records"]) - int(latest["records"])) / int(previous["records"])
        if drop > max_drop:
            warnings.append(DealerWarning(
                str(dealer),
                f"baseline of {latest['started_at']:%Y-%m-%d %H:%M} UTC listed {int(latest['records'])} vehicles, "
                f"{drop:.0%} fewer than the {int(previous['records'])} of {previous['started_at']:%Y-%m-%d %H:%M}",
                {"records": int(latest["records"]), "previous_records": int(previous["records"]),
                 "drop": round(drop, 4)},
            ))
    return DealerCheck("baseline_row_count", dealers, warnings)


def _known_dealers(conn: sa.Connection, dealer_id: str | None) -> list[str]:
    """Dealers expected to be synced: any with a baseline attempt or with listed stock."""
    if dealer_id is not None:
        return [dealer_id]
    runs = sa.select(sync_runs.c.dealer_id).where(sync_runs.c.kind == BASELINE_KIND)
    listed = sa.select(vehicles.c.dealer_id).where(vehicles.c.availability.in_(limits.LISTED))
    return sorted(conn.execute(sa.union(runs, listed)).scalars())


def dealer_freshness(conn: sa.Connection, *, now: datetime, max_age_hours: float,
                     dealer_id: str | None = None) -> DealerCheck:
    """Warn for each dealer whose last complete baseline finished more than `max_age_hours` ago (or never)."""
    runs = _complete_baselines(conn, dealer_id)
    last = runs.groupby("dealer_id")["finished_at"].max().to_dict() if not runs.empty else {}
    limit = timedelta(hours=max_age_hours)
    dealers = _known_dealers(conn, dealer_id)
    warnings: list[DealerWarning] = []
    for dealer in dealers:
        finished = last.get(dealer)
        if finished is None or pd.isna(finished):
            warnings.append(DealerWarning(dealer, "no complete baseline yet", {"last_complete_baseline": None}))
            continue
        finished = pd.Timestamp(finished).to_pydatetime()
        age = now - finished
        if age > limit:
            warnings.append(DealerWarning(
                dealer,
                f"last complete baseline finished {finished:%Y-%m-%d %H:%M} UTC, "
                f"{age.total_seconds() / 3600:.1f} h ago (limit {max_age_hours:g} h)",
                {"last_complete_baseline": finished.isoformat(), "age_hours": round(age.total_seconds() / 3600, 2)},
            ))
    return DealerCheck("dealer_freshness", len(dealers), warnings)


@dataclass(frozen=True)
class OtherShare:
    """How much of the listed stock fell back to `other` in each vocabulary column."""

    listed: int
    shares: dict[str, float]
    dealer_shares: pd.DataFrame
    hits: pd.DataFrame  # one row per (vehicle, column) that is `other`: vehicle_id, dealer_id, column, vendor_value
    threshold: float = limits.OTHER_SHARE_WARN

    @property
    def passed(self) -> bool:
        return all(share <= self.threshold for share in self.shares.values())

    def vendor_values(self, column: str, top: int = 5) -> dict[str, int]:
        """The vendor values that mapped to `other`, most frequent first (what the mapping is missing)."""
        values = self.hits.loc[self.hits["column"] == column, "vendor_value"].fillna("<null>").value_counts()
        return {str(k): int(v) for k, v in values.head(top).items()}

    def findings(self) -> pd.DataFrame:
        """One warning finding per vehicle, quoting the vendor values, ready for `replace_findings`."""
        if self.hits.empty:
            return pd.DataFrame(columns=["vehicle_id", "dealer_id", "check_name", "severity", "reason"])
        reasons = self.hits["column"] + " other (vendor value '" + self.hits["vendor_value"].fillna("<null>") + "')"
        per_vehicle = (self.hits.assign(reason=reasons)
                       .groupby(["vehicle_id", "dealer_id"], as_index=False, sort=False)["reason"].agg("; ".join))
        return per_vehicle.assign(check_name=OTHER_VOCABULARY, severity=WARNING)


def other_vocabulary_share(frame: pd.DataFrame, *, threshold: float = limits.OTHER_SHARE_WARN) -> OtherShare:
    """Share of listed vehicles whose fuel_type or transmission is `other`, overall and per dealer."""
    listed = frame[frame["availability"].isin(limits.LISTED).fillna(False)]
    shares: dict[str, float] = {}
    per_dealer: dict[str, pd.Series] = {}
    pieces = []
    for column, vendor_column in VOCABULARY_COLUMNS.items():
        is_other = (listed[column] == "other").fillna(False).astype(bool)
        shares[column] = float(is_other.mean()) if len(listed) else 0.0
        per_dealer[column] = is_other.groupby(listed["dealer_id"]).mean()
        hits = listed.loc[is_other, ["vehicle_id", "dealer_id", vendor_column]].rename(
            columns={vendor_column: "vendor_value"})
        pieces.append(hits.assign(column=column))
    hits = pd.concat(pieces, ignore_index=True).astype("string")
    dealer_shares = pd.DataFrame(per_dealer).fillna(0.0)
    return OtherShare(len(listed), shares, dealer_shares, hits, threshold)
