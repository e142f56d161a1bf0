"""Configurable vendor contracts: the unconfirmed paths, field names and limits each client keeps in a
frozen dataclass, overridable from deployment config (Dagster resource config gives strings).

`apply_overrides` is the one way an override is read: an unknown name or a value that does not fit
the field's type is a ValueError naming it, so a typo fails at start-up instead of silently
calling the default path.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

C = TypeVar("C")


def coerce(name: str, raw: Any, default: Any) -> Any:
    """`raw` as the type of `default`: tuples from comma-separated text, whole numbers, numbers, text."""
    if isinstance(default, tuple):
        items = raw.split(",") if isinstance(raw, str) else list(raw)
        return tuple(str(item).strip() for item in items if str(item).strip())
    if isinstance(default, int) and not isinstance(default, bool):
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a whole number, got {raw!r}") from None
    if isinstance(default, float):
        try:
            return float(raw)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {raw!r}") from None
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"{name} must be non-empty text, got {raw!r}")
    return raw.strip()


def apply_overrides(cls: type[C], overrides: Mapping[str, Any] | None, vendor: str, *,
                    normalize: Callable[[str, Any], Any] = lambda name, value: value,
                    paths: tuple[str, ...] = ()) -> C:
    """`cls()` with `overrides` coerced to each field's type (`normalize` may adjust a coerced value);
    the fields named in `paths` must start with '/'."""
    defaults = cls()
    if not overrides:
        return defaults
    known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for name, raw in overrides.items():
        if name not in known:
            raise ValueError(f"unknown {vendor} contract setting {name!r}; known: {sorted(known)}")
        values[name] = normalize(name, coerce(name, raw, getattr(defaults, name)))
    contract = dataclasses.replace(defaults, **values)  # type: ignore[type-var]
    for name in paths:
        if not getattr(contract, name).startswith("/"):
            raise ValueError(f"{name} must start with '/', got {getattr(contract, name)!r}")
    return contract
