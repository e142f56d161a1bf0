"""The rules, one per check ID: `@rule("AT-AUTH-1")` registers a `(conn, context) -> Evidence`."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from dealer_pipeline.certification.checklist import BY_ID
from dealer_pipeline.certification.model import Context, Evidence

Rule = Callable[[sa.Connection, Context], Evidence]

RULES: dict[str, Rule] = {}


def rule(check_id: str) -> Callable[[Rule], Rule]:
    if check_id not in BY_ID:
        raise KeyError(f"{check_id} is not a check of the go-live checklist")

    def register(fn: Rule) -> Rule:
        if check_id in RULES:
            raise KeyError(f"{check_id} already has a rule ({RULES[check_id].__name__})")
        RULES[check_id] = fn
        return fn

    return register


def all_rules() -> dict[str, Rule]:
    """Every registered rule, in checklist order (importing the rule modules registers them)."""
    from dealer_pipeline.certification import rules  # noqa: F401  (registers)

    return {check_id: RULES[check_id] for check_id in BY_ID if check_id in RULES}
