"""A target's own view of a dealer's publications, read back on every publish run and kept in the store.

A target may change a publication on its own: Autocosmos suspends one left without a valid photo
(or by moderation), archives or deletes one. After sending, each run reads the target's list once
(reads after writes cost no request to publish a vehicle), compares it with `publications`, and
records each change with its reason in `publications` (state, `last_error`, flags) and in
`vendor_state_changes`. A deeper audit (daily) also compares each live publication's content with
the payload the target accepted (edits made on its side, photos partly lost in its processing). The target says which changes it can undo (`Heal`); the run sends those
at most once per accepted payload, so a payload the target keeps refusing is never resent on a
schedule.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Iterable, Mapping

import sqlalchemy as sa

from dealer_pipeline.publishing.core import VENDOR_DELETED, VENDOR_SUSPENDED, Publication, State
from dealer_pipeline.store.schema import publications, vendor_state_changes
from dealer_pipeline.store.types import utcnow

#: `publications.flags` key holding what the audit found different from the accepted payload.
VENDOR_DRIFT = "vendor_drift"
#: `publications.flags` key holding the payload hash a heal was last sent with (never sent twice).
HEALED_HASH = "healed_hash"


class Change(str, Enum):
    SUSPENDED = "suspended"
    ARCHIVED = "archived"
    DELETED = "deleted"
    RESTORED = "restored"
    DRIFTED = "drifted"      # the audit: live, but its content is not what the target accepted from us


class Heal(str, Enum):
    """What undoes a change, when the target's contract allows it."""

    REPLACE = "replace"     # send the accepted payload again (e.g. a PUT with valid photos)
    RECREATE = "recreate"   # create it again with the same external id


@dataclass(frozen=True)
class Seen:
    """One publication as the target lists it: its state and what the entry says about why."""

    state: State
    vendor_state: str
    reason: str
    heal: Heal | None = None
    detail: Mapping[str, Any] | None = None
    drift: tuple[str, ...] = ()   # what differs from the accepted payload (filled by a deeper audit only)


@dataclass(frozen=True)
class VendorChange:
    publication: Publication
    change: Change
    vendor_state: str | None
    reason: str
    heal: Heal | None
    detail: Mapping[str, Any]

    def as_row(self) -> dict[str, Any]:
        return {"external_id": self.publication.external_id, "change": self.change.value,
                "vendor_state": self.vendor_state, "reason": self.reason}


def compare(pubs: Iterable[Publication], seen: Mapping[str, Seen], *, gone_reason: str,
            gone_heal: Heal | None, written: set[str]) -> list[VendorChange]:
    """The changes the target made on its own to our live publications (pure).

    `seen` is keyed by lower-case external id. A heal is offered only for a publication this run did
    not write (what was just sent is judged by the next run) and whose accepted payload was never
    sent as a heal before.
    """
    found = []
    for pub in pubs:
        if not pub.live:
            continue
        key = pub.external_id.lower()
        entry = seen.get(key)
        fresh = key not in written and pub.flags.get(HEALED_HASH) != pub.payload_hash
        if entry is None and key in written:  # the target's list may lag behind what was just sent
            continue
        if entry is None:
            found.append(VendorChange(pub, Change.DELETED, None, gone_reason, gone_heal if fresh else None, {}))
        elif entry.state is State.ARCHIVED:
            found.append(VendorChange(pub, Change.ARCHIVED, entry.vendor_state, entry.reason, None,
                                      dict(entry.detail or {})))
        elif entry.state is State.SUSPENDED and pub.state == State.ACTIVE.value:
            found.append(VendorChange(pub, Change.SUSPENDED, entry.vendor_state, entry.reason,
                                      entry.heal if fresh else None, dict(entry.detail or {})))
        elif entry.state is State.ACTIVE and pub.flags.get(VENDOR_SUSPENDED):
            found.append(VendorChange(pub, Change.RESTORED, entry.vendor_state, entry.reason, None,
                                      dict(entry.detail or {})))
        elif entry.drift and key not in written:
            found.append(VendorChange(pub, Change.DRIFTED, entry.vendor_state,
                                      "differs from what the target accepted: " + "; ".join(entry.drift),
                                      Heal.REPLACE if fresh else None, {"drift": list(entry.drift)}))
    return found


_STATE_AFTER = {Change.SUSPENDED: State.SUSPENDED, Change.ARCHIVED: State.ARCHIVED, Change.DELETED: State.DELETED,
                Change.RESTORED: State.ACTIVE}


def record(conn: sa.Connection, change: VendorChange, *, healing: str | None, now: datetime | None = None) -> None:
    """Store the target's change: the publication's state and reason, and one `vendor_state_changes` row."""
    now = now or utcnow()
    pub = change.publication
    flags = dict(pub.flags)
    if change.change is Change.RESTORED:
        flags.pop(VENDOR_SUSPENDED, None)
    elif change.change is Change.SUSPENDED:
        flags[VENDOR_SUSPENDED] = {"estado": change.vendor_state, "seen_at": now.isoformat(), **change.detail}
    elif change.change is Change.DELETED:
        flags[VENDOR_DELETED] = {"seen_at": now.isoformat()}
    elif change.change is Change.DRIFTED:
        flags[VENDOR_DRIFT] = {"seen_at": now.isoformat(), **change.detail}
    note = None if change.change is Change.RESTORED else change.reason
    state = _STATE_AFTER.get(change.change, State(pub.state))
    conn.execute(sa.update(publications).where(publications.c.target == pub.target,
                                               publications.c.vehicle_id == pub.vehicle_id)
                 .values(state=state.value, last_error=note, flags=flags, updated_at=now))
    conn.execute(sa.insert(vendor_state_changes).values(
        target=pub.target, dealer_id=pub.dealer_id, vehicle_id=pub.vehicle_id, account_id=pub.account_id,
        external_id=pub.external_id, change=change.change.value, vendor_state=change.vendor_state,
        state_before=pub.state, reason=change.reason, healing=healing, seen_at=now))


#: `publications.last_op` after an accepted heal; a re-creation is labelled like any other (AC-MATCH-2 counts
#: `recreate` creates apart from first publications).
_HEAL_OP = {Heal.REPLACE: "heal", Heal.RECREATE: "recreate"}


def record_healed(conn: sa.Connection, change: VendorChange, *, status: int, now: datetime | None = None) -> None:
    """The target accepted the heal: the publication is live again with its accepted payload; the
    payload's hash is remembered so the same heal is never sent twice."""
    pub = change.publication
    flags = dict(pub.flags)
    flags.pop(VENDOR_SUSPENDED, None)
    flags.pop(VENDOR_DRIFT, None)
    flags[HEALED_HASH] = pub.payload_hash
    state = pub.state if change.change is Change.DRIFTED else State.ACTIVE.value
    conn.execute(sa.update(publications).where(publications.c.target == pub.target,
                                               publications.c.vehicle_id == pub.vehicle_id)
                 .values(state=state, last_op=_HEAL_OP.get(change.heal, "heal"),
                         last_status=status, last_error=None, flags=flags, updated_at=now or utcnow()))


def summary(changes: Iterable[VendorChange], healed: Iterable[str]) -> dict[str, Any]:
    """Counts and ids per kind of change (for the asset's metadata)."""
    changes = list(changes)
    out: dict[str, Any] = {}
    for kind in Change:
        ids = [c.publication.external_id for c in changes if c.change is kind]
        out[f"{kind.value}_by_vendor"] = len(ids)
        out[f"{kind.value}_by_vendor_ids"] = ids[:50]
    out["healed_ids"] = list(healed)[:50]
    out["vendor_changes"] = [c.as_row() for c in changes][:50]
    return out
