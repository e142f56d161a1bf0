"""Every go-live check of the shared `golive.md` has exactly one rule, and the package's copy of the list is current."""

from __future__ import annotations

from pathlib import Path

from dealer_pipeline.certification import CHECKS, all_rules, parse_golive
from dealer_pipeline.paths import project_root

GOLIVE = Path(project_root()).parent / "shared" / "golive.md"


def test_the_shared_checklist_is_beside_the_repository() -> None:
    assert GOLIVE.is_file(), (f"{GOLIVE} is missing: the go-live checklist lives in ../shared beside the "
                              "repository (a fresh clone has it); without it the copy below cannot be verified")


def test_the_packaged_checklist_matches_golive_md() -> None:
    listed = parse_golive(GOLIVE.read_text(encoding="utf-8"))
    assert len(listed) >= 60, "golive.md was not parsed (table format changed?)"
    assert [c.id for c in listed] == [c.id for c in CHECKS]
    assert listed == list(CHECKS), [(a, b) for a, b in zip(listed, CHECKS) if a != b]


def test_every_check_id_has_a_rule() -> None:
    rules = all_rules()
    ids = [c.id for c in parse_golive(GOLIVE.read_text(encoding="utf-8"))]
    missing = [i for i in ids if i not in rules]
    assert not missing, f"checks without a rule: {missing}"
    assert set(rules) == set(ids), f"rules for unknown checks: {set(rules) - set(ids)}"
