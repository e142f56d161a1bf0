"""One publishing run per (target, dealer): plan, send, record every outcome, read the target back, report.

Each target (Autocosmos, Autochat, the status reports to Webmotors, the leads into the Cockpit CRM)
supplies its planning and its calls (`Target`); the loop and the failure semantics live here, the
same for all of them. Each planned item ends in one outcome:

* sent: the target accepted it (the target stores what the vendor now holds);
* refused: the vendor said this item is wrong (a 4xx other than 401, 403, 408 and 429): stored with the
  vendor's answer, not sent again until it changes;
* blocked: the vendor refuses us for this dealer (an `api_blocks` row says what a person must do);
* transient: anything else (a 5xx or a timeout after the client's own retries, a wait longer than the
  budget, refused credentials).

A blocked or transient outcome stops the run, so a vendor in trouble gets no further calls, and every
item still planned is stored as not sent, with why (`NOT_SENT`): state and payload stay as they were, so
the next run plans it again, and an operator sees each waiting change beside the sent ones. Refused
credentials are the one stop that needs a person (`Report.credentials_refused`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, Protocol, Sequence, TypeVar

from dealer_pipeline.http import AuthFailed, VendorBlocked, VendorError, WaitBudgetExceeded

#: `last_error` (or a lead's `detail.error`) of an item planned but not sent because its run stopped.
NOT_SENT = "not sent: "
#: Statuses that never mean "this item is wrong".
_NOT_REFUSALS = frozenset({401, 403, 408, 429})


class NotSendable(Exception):
    """A target refuses its own item before any call (our data cannot be sent): counted as refused."""


class Outcome(str, Enum):
    SENT = "sent"
    REFUSED = "refused"
    BLOCKED = "blocked"
    TRANSIENT = "transient"
    NOT_SENT = "not_sent"


def classify(exc: VendorError) -> Outcome:
    """The outcome a vendor error means, the same for every target."""
    if isinstance(exc, VendorBlocked):
        return Outcome.BLOCKED
    if isinstance(exc, (AuthFailed, WaitBudgetExceeded)):
        return Outcome.TRANSIENT
    if exc.status is not None and 400 <= exc.status < 500 and exc.status not in _NOT_REFUSALS:
        return Outcome.REFUSED
    return Outcome.TRANSIENT


@dataclass
class Report:
    """What one (target, dealer) run did; `metadata()` is what every publishing asset shows."""

    target: str
    dealer_id: str
    skipped: str | None = None
    planned: Counter = field(default_factory=Counter)     # kind of item (op) -> planned
    outcomes: Counter = field(default_factory=Counter)    # Outcome value -> items
    sent: Counter = field(default_factory=Counter)        # request kind -> requests the vendor accepted
    failed: Counter = field(default_factory=Counter)      # kind of item -> items refused, blocked or transient
    errors: list[str] = field(default_factory=list)
    blocks: list[dict[str, Any]] = field(default_factory=list)
    blocked: str | None = None                            # why nothing more is sent for this dealer
    stopped: str | None = None                            # why the run stopped sending
    credentials_refused: bool = False
    details: dict[str, Any] = field(default_factory=dict)  # the target's own figures

    def block(self, exc: VendorBlocked) -> None:
        self.blocks.append({"id": exc.block_id, "reason": exc.reason, "action": exc.action})
        self.blocked = str(exc)
        self.stopped = f"{self.target} calls for {self.dealer_id} are blocked (block {exc.block_id}): {exc.action}"

    def stop(self, exc: VendorError) -> None:
        if isinstance(exc, VendorBlocked):
            self.block(exc)
            return
        self.credentials_refused = isinstance(exc, AuthFailed)
        self.errors.append(str(exc)[:300])
        self.stopped = f"{self.target} failed ({type(exc).__name__}); the remaining items wait for the next run"

    def metadata(self) -> dict[str, Any]:
        """Plain values (the Dagster side wraps dicts and lists as JSON)."""
        return {"target": self.target, "dealer_id": self.dealer_id, "skipped": self.skipped or "",
                "blocked": self.blocked or "", "stopped": self.stopped or "",
                "planned": dict(self.planned), "outcomes": {o.value: self.outcomes[o.value] for o in Outcome},
                "succeeded": self.outcomes[Outcome.SENT.value], "refused": self.outcomes[Outcome.REFUSED.value],
                "not_sent": self.outcomes[Outcome.NOT_SENT.value],
                "sent": dict(self.sent), "failed": dict(self.failed),
                "errors": self.errors[:20], "blocks": self.blocks, **self.details}


Item = TypeVar("Item")


class Target(Protocol[Item]):
    """What a target supplies: its planning, its calls and how it stores each outcome."""

    name: str

    def skip_reason(self, report: Report) -> str | None:
        """Why nothing is to be done for this dealer (not configured, an open block), before any call."""

    def plan(self, report: Report) -> Sequence[Item]:
        """The items to send (reads allowed; what needs no call is stored here)."""

    def kind(self, item: Item) -> str:
        """The item's kind for the report (create, price, report, lead, ...)."""

    def send(self, item: Item, report: Report) -> bool | None:
        """Make the calls for one item and store its success; raise the vendor's error (or `NotSendable`)
        otherwise. False: nothing was done (e.g. another run took the item), no outcome to count."""

    def record_failure(self, item: Item, outcome: Outcome, error: str, exc: VendorError | None) -> None:
        """Store an item that was not accepted (refused, blocked, transient) or not sent (the run stopped)."""

    def read_back(self, report: Report) -> None:
        """Reconcile the target's own view of the dealer's items with the store (after the writes)."""


@dataclass
class Run(Generic[Item]):
    """One (target, dealer) run: `execute()` returns its report."""

    target: Target[Item]
    report: Report

    def execute(self) -> Report:
        report = self.report
        report.skipped = self.target.skip_reason(report)
        if report.skipped:
            return report
        try:
            items = self.target.plan(report)
            for item in items:
                self._one(item)
            if report.stopped is None:
                self.target.read_back(report)
        except VendorError as exc:   # planning or reading back: nothing item-specific to store
            report.stop(exc)
        return report

    def _one(self, item: Item) -> None:
        report = self.report
        kind = self.target.kind(item)
        if report.stopped is not None:
            self.target.record_failure(item, Outcome.NOT_SENT, NOT_SENT + report.stopped, None)
            report.outcomes[Outcome.NOT_SENT.value] += 1
            return
        try:
            done = self.target.send(item, report)
        except NotSendable as exc:
            self.target.record_failure(item, Outcome.REFUSED, f"not sendable: {exc}", None)
            report.outcomes[Outcome.REFUSED.value] += 1
            report.failed[kind] += 1
            return
        except VendorError as exc:
            outcome = classify(exc)
            self.target.record_failure(item, outcome, str(exc), exc)
            report.outcomes[outcome.value] += 1
            report.failed[kind] += 1
            if outcome is Outcome.REFUSED:
                report.errors.append(str(exc)[:300])
            else:
                report.stop(exc)
            return
        if done is not False:
            report.outcomes[Outcome.SENT.value] += 1


def run(target: Target[Any], dealer_id: str) -> Report:
    """Run one target for one dealer (see the module docstring)."""
    return Run(target, Report(target.name, dealer_id)).execute()
