"""What a sync has done so far, for a person watching it: vendor calls, dealers and vehicles.

Process-wide counters the HTTP layer and the per-dealer work add to and `dealer-pipeline sync`
reads for its progress display (the runs execute in its process). Adding is one locked integer
update, cheap beside a vendor call; nothing here touches the store or Dagster.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Snapshot:
    calls: int
    vehicles: int
    stages: dict[str, tuple[int, int]]  # stage -> (dealers done, dealers planned)
    expected: int  # (dealer, stage) pieces of work the whole sync will do, when known
    started: float

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def done(self) -> int:
        return sum(done for done, _ in self.stages.values())

    def remaining_seconds(self) -> float | None:
        """A linear estimate from the share of (dealer, stage) work done; None before any is."""
        if not self.expected or not self.done:
            return None
        share = min(1.0, self.done / self.expected)
        return self.elapsed * (1 - share) / share


@dataclass
class ProgressBoard:
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _calls: int = 0
    _vehicles: int = 0
    _stages: dict[str, list[int]] = field(default_factory=dict)
    _expected: int = 0
    _started: float = field(default_factory=time.monotonic)

    def reset(self) -> None:
        with self._lock:
            self._calls = self._vehicles = self._expected = 0
            self._stages = {}
            self._started = time.monotonic()

    def expect(self, pieces: int) -> None:
        """The sync will do `pieces` more (dealer, stage) pieces of work."""
        with self._lock:
            self._expected += pieces

    def call(self) -> None:
        with self._lock:
            self._calls += 1

    def plan(self, stage: str, dealers: int) -> None:
        """`dealers` more dealers are to go through `stage`."""
        with self._lock:
            self._stages.setdefault(stage, [0, 0])[1] += dealers

    def dealer_done(self, stage: str, vehicles: int = 0) -> None:
        with self._lock:
            self._stages.setdefault(stage, [0, 0])[0] += 1
            self._vehicles += vehicles

    def snapshot(self) -> Snapshot:
        with self._lock:
            stages = {name: (done, planned) for name, (done, planned) in self._stages.items()}
            return Snapshot(self._calls, self._vehicles, stages, self._expected, self._started)


#: The process's board.
board = ProgressBoard()
