"""The shapes handlers share: a claimed event, its outcome, and work left for after commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

APPLIED, IGNORED, FAILED, PENDING = "applied", "ignored", "failed", "pending"


@dataclass(frozen=True)
class StoredEvent:
    """A pending event, claimed for this transaction, with its body parsed."""

    id: int
    source: str
    event_type: str | None
    event_key: str
    subject_id: str | None
    subject_version: int | None
    dealer_id: str | None
    received_at: datetime
    attempts: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    status: str  # applied, ignored or failed
    reason: str | None = None

    @classmethod
    def applied(cls, note: str | None = None) -> "Outcome":
        return cls(APPLIED, note)

    @classmethod
    def ignored(cls, reason: str) -> "Outcome":
        return cls(IGNORED, reason)

    @classmethod
    def failed(cls, reason: str) -> "Outcome":
        return cls(FAILED, reason)


@dataclass
class Followups:
    """Vendor calls an applied event asks for; made after the commit, never inside it."""

    #: vehicle_id -> enrichment kinds to refetch ("features", "charge_times")
    refetch: dict[str, set[str]] = field(default_factory=dict)
    #: (dealer_id, lead_key, IdTipoLead) of newly stored leads whose detail is still to fetch
    lead_details: list[tuple[str | None, str, str | None]] = field(default_factory=list)
    #: Autotrader advertiserIds whose notice was incomplete: re-read with `?advertiserId=` (AT-ADV-3)
    advertisers: set[str] = field(default_factory=set)

    def extend(self, other: "Followups") -> None:
        for vehicle_id, kinds in other.refetch.items():
            self.refetch.setdefault(vehicle_id, set()).update(kinds)
        self.lead_details.extend(other.lead_details)
        self.advertisers.update(other.advertisers)
