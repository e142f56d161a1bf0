"""A copy of some store rows, re-read at most every `cache_seconds`, shared by a process's threads.

Pauses and blocks are checked before every vendor call; reading them each time would be one
query per call. One thread re-reads while the others keep using the previous copy (no pile-up
of connections), and what this process itself wrote meanwhile is merged into what was read,
so a pause or block it just set is never lost to a read that started before it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class StoreSnapshot(Generic[T]):
    """The rows of one kind (pauses, blocks) as this process last read them, plus what it wrote since."""

    def __init__(self, initial: T, *, cache_seconds: float, copy: Callable[[T], T]) -> None:
        self.cache_seconds = cache_seconds
        self._value = initial
        self._copy = copy
        self._lock = threading.Lock()
        self._read_at = float("-inf")
        self._refreshing = False

    def get(self, read: Callable[[], R], merge: Callable[[T, R, float], T]) -> T:
        """The current copy; re-read with `read()` and combined by `merge(old, read, started)` when stale."""
        with self._lock:
            fresh = time.monotonic() - self._read_at < self.cache_seconds
            if fresh or (self._refreshing and self._read_at > float("-inf")):
                return self._copy(self._value)
            self._refreshing = True
        started = time.monotonic()
        try:
            fetched = read()
            with self._lock:
                self._value = merge(self._value, fetched, started)
                self._read_at = started
                return self._copy(self._value)
        finally:
            self._refreshing = False

    def update(self, change: Callable[[T], T]) -> None:
        """Apply what this process wrote to the copy (under the lock)."""
        with self._lock:
            self._value = change(self._value)
