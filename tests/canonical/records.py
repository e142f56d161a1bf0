"""Realistic vendor records for the canonical tests: the contract examples, varied."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"


def autotrader_record(**metadata: Any) -> dict[str, Any]:
    """The complete stock item of api/autotrader.md 1.6; keyword arguments override `metadata`."""
    record = json.loads((DATA / "autotrader_stock_example.json").read_text())
    record["metadata"].update(metadata)
    return record


def autotrader_advertiser() -> dict[str, Any]:
    return json.loads((DATA / "autotrader_advertiser_example.json").read_text())


def webmotors_hit(**overrides: Any) -> dict[str, Any]:
    """The stock hit of api/webmotors.md 2.2; keyword arguments override top-level fields."""
    hit = json.loads((DATA / "webmotors_hit_example.json").read_text())
    hit.update(overrides)
    return hit


def variant(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `record` with the dotted `path` set to `value`."""
    copied = copy.deepcopy(record)
    *parents, leaf = path.split(".")
    target = copied
    for key in parents:
        target = target[key]
    target[leaf] = value
    return copied
