"""`docs/runbook.md` names everything the code can stop on or page about, so it cannot drift: every block
reason the vendor layer can record, every asset check and blocking rule, every secret variable, every alert
sensor. A name counts when it appears in backticks (`403A`), as the runbook writes names."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import warnings
from pathlib import Path
from typing import Iterator

import dagster as dg

import dealer_pipeline
import dealer_pipeline.vendors as vendor_modules
from dealer_pipeline.http.blocks import BAD_INPUT
from dealer_pipeline.http.policy import Action, VendorPolicy
from dealer_pipeline.paths import project_root
from dealer_pipeline.quality.rules import RULE_NAMES
from dealer_pipeline.settings import Secret, Settings

RUNBOOK = project_root() / "docs" / "runbook.md"
PACKAGE = Path(dealer_pipeline.__file__).parent
BLOCKING = {Action.BLOCK_DEALER, Action.BLOCK_SERVICE, Action.BLOCK_VENDOR}
RECORDED = {action.name for action in BLOCKING} | {Action.FLAG_BAD_INPUT.name}


def _named() -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", RUNBOOK.read_text()))


def _policies() -> Iterator[VendorPolicy]:
    for module in pkgutil.iter_modules(vendor_modules.__path__):
        importlib.import_module(f"{vendor_modules.__name__}.{module.name}")
    pending = list(VendorPolicy.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        yield cls()


def _literal_reasons(tree: ast.AST) -> Iterator[str]:
    """Reasons written in the code: `reason == "X"`, `reason="X"`, `Verdict(Action.BLOCK_..., "X")`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and isinstance(node.left, ast.Name) and node.left.id == "reason":
            yield from (c.value for c in node.comparators if isinstance(c, ast.Constant) and isinstance(c.value, str))
        if not isinstance(node, ast.Call):
            continue
        yield from (kw.value.value for kw in node.keywords
                    if kw.arg == "reason" and isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str))
        if isinstance(node.func, ast.Name) and node.func.id == "Verdict" and len(node.args) >= 2:
            action, reason = node.args[:2]
            if isinstance(action, ast.Attribute) and action.attr in RECORDED and isinstance(reason, ast.Constant):
                yield reason.value


def block_reasons() -> set[str]:
    """Every `api_blocks.reason` the vendor layer can record."""
    reasons = {BAD_INPUT}
    for policy in _policies():
        reasons |= {str(status) for status, action in policy.status_table.items() if action in BLOCKING}
    for folder in ("http", "vendors"):
        for path in (PACKAGE / folder).glob("*.py"):
            reasons |= set(_literal_reasons(ast.parse(path.read_text())))
    return reasons


def _definitions() -> dg.Definitions:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from dealer_pipeline.definitions import defs
    return defs


def test_block_reasons_are_found() -> None:
    """The scan itself finds the reasons known today (so an empty scan cannot pass the next test)."""
    assert {"403A", "403B", "400", "401", "403", "login"} <= block_reasons()


def test_runbook_names_every_block_reason() -> None:
    assert sorted(block_reasons() - _named()) == []


def test_runbook_names_every_check_and_blocking_rule() -> None:
    checks = {key.name for key in _definitions().resolve_asset_graph().asset_check_keys}
    assert len(checks) >= 6
    assert sorted((checks | set(RULE_NAMES)) - _named()) == []


def test_runbook_says_how_to_rotate_every_secret() -> None:
    secrets = {field.alias for field in Settings.model_fields.values()
               if Secret in (field.annotation, *getattr(field.annotation, "__args__", ()))}
    assert "AUTOTRADER_SECRET" in secrets
    rotated_or_previous = {name.removesuffix("_PREVIOUS") for name in secrets}
    assert sorted(rotated_or_previous - _named()) == []


def test_runbook_names_every_alert_sensor() -> None:
    """Run-status sensors and sensors named for alerts page someone: each has its runbook entry."""
    sensors = _definitions().sensors or []
    alerting = {s.name for s in sensors if isinstance(s, dg.RunStatusSensorDefinition) or "alert" in s.name}
    missing = sorted(alerting - _named())
    assert missing == [], f"name each of {missing} (in backticks) under '## Alerts' in docs/runbook.md"


def test_runbook_commands_exist() -> None:
    """Every `dealer-pipeline ...` command the runbook gives is a command of the CLI."""
    import click

    from dealer_pipeline.cli import cli

    given = set(re.findall(r"`dealer-pipeline ([a-z]+)(?: ([a-z]+))?", RUNBOOK.read_text()))
    assert given
    for name, sub in given:
        assert name in cli.commands, f"`dealer-pipeline {name}` is not a command"
        command = cli.commands[name]
        if isinstance(command, click.Group):
            assert sub in command.commands, f"`dealer-pipeline {name} {sub}` is not a command"
