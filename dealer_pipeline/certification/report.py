"""The certification evidence as files: `certification.md` for a reviewer, `evidence.json` for programs.

Both carry the same content: a summary table (ID, check, judged by, verdict, summary), then
each check's evidence rows (at most `MAX_ROWS`, with timestamps and CF-RAYs). Before anything
is written, every configured secret value is searched for in the text and replaced: evidence
comes from logs and payloads, and a secret must never leave in a report.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dealer_pipeline.certification import crosscheck
from dealer_pipeline.certification.model import Verdict, plain
from dealer_pipeline.certification.run import Certification

MARK = {Verdict.PASSED: "passed", Verdict.FAILED: "**FAILED**", Verdict.NOT_EXERCISED: "not exercised"}
MIN_SECRET_LENGTH = 6


def as_json(cert: Certification) -> dict[str, Any]:
    return {
        "generated_at": plain(cert.generated_at), "store": cert.store, "since": plain(cert.since),
        "vendor_call_log": cert.sandbox_url, "vendor_calls_read": cert.vendor_calls_read,
        "counts": {v.value: cert.count(v) for v in Verdict}, "failed": [e.id for e in cert.failed],
        "missing_tables": cert.missing_tables,
        "crosscheck": {"summary": crosscheck.summary(cert.crosscheck),
                       "vendors": [c.as_dict() for c in cert.crosscheck]},
        "own_call_log": own_log_summary(cert),
        "checks": [e.as_dict() for e in cert.evidence],
    }


def own_log_summary(cert: Certification) -> str | None:
    """Whether our own `api_calls` alone gives the verdicts the vendor's log gave (None: not judged twice)."""
    twice = cert.judged_twice
    if not twice:
        return None
    differing = cert.differing()
    if not differing:
        return f"our own api_calls alone gives the same verdict on all {len(twice)} call-log checks"
    return (f"our own api_calls alone gives another verdict on {len(differing)} of {len(twice)} call-log checks: "
            + ", ".join(f"{e.id} ({e.ours.verdict.value})" for e in differing if e.ours is not None))


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rows: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(row.get(c)) for c in columns) + " |" for row in rows]
    return lines


def as_markdown(cert: Certification) -> str:
    out = ["# Certification evidence", ""]
    out.append(f"Generated {plain(cert.generated_at)} from the store `{cert.store}`"
               + (f", activity since {plain(cert.since)}" if cert.since else "") + ".")
    if cert.sandbox_url:
        out.append(f"Vendor call log: `{cert.sandbox_url}/_sandbox/calls` ({cert.vendor_calls_read} calls); "
                   "\"call log\" checks are judged from it.")
    else:
        out.append("Vendor call log: not read; \"call log\" checks are judged from our own `api_calls`.")
    out += ["", f"**{cert.count(Verdict.PASSED)} passed, {cert.count(Verdict.FAILED)} failed, "
                f"{cert.count(Verdict.NOT_EXERCISED)} not exercised** of {len(cert.evidence)} checks. "
                "\"Not exercised\" means nothing in this store shows the check either way; it does not fail.", ""]
    if cert.missing_tables:
        out += [f"Tables this store does not have (older migration): {', '.join(cert.missing_tables)}.", ""]
    out += _table([{"ID": f"[{e.id}](#{e.id.lower()})", "Check": e.title, "Judged by": e.judged_by,
                    "Verdict": MARK[e.verdict], "Summary": e.summary} for e in cert.evidence])
    if cert.crosscheck:
        out += ["", "## Call log cross-check", "", crosscheck.summary(cert.crosscheck) + "."]
        if own_log_summary(cert):
            out += ["", f"Verdicts: {own_log_summary(cert)}."]
        out += [""]
        out += _table([{k: v for k, v in c.as_dict().items() if k != "examples"} for c in cert.crosscheck])
        examples = [x for c in cert.crosscheck for x in c.as_dict()["examples"]]
        if examples:
            out += ["", "Calls only one log has, or with another status:", ""] + _table(examples[:20])
    for e in cert.evidence:
        out += ["", f"## {e.id}", "", f"*{e.title}* — judged by the {e.judged_by}.", "",
                f"**Verdict: {e.verdict.value}.** {e.summary}", "", f"Basis: {e.basis}."]
        if e.limits:
            out += ["", f"Limits: {e.limits}."]
        if e.ours is not None:
            out += ["", f"Beside it, from our own `api_calls` alone: **{e.ours.verdict.value}.** {e.ours.summary}"]
        if e.rows:
            out += [""] + _table([dict(r) for r in e.rows])
            if e.rows_total > len(e.rows):
                out += ["", f"({e.rows_total - len(e.rows)} more rows not shown.)"]
    return "\n".join(out) + "\n"


def redact(text: str, secrets: Iterable[str]) -> tuple[str, int]:
    """Replace every occurrence of each secret value; returns the text and how many were found."""
    found = 0
    for secret in sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True):
        count = text.count(secret)
        if count:
            found += count
            text = text.replace(secret, "***")
    return text, found


def write(cert: Certification, out_dir: Path, secrets: Iterable[str] = ()) -> tuple[Path, Path, int]:
    """Write `certification.md` and `evidence.json`; returns their paths and the secrets redacted."""
    out_dir.mkdir(parents=True, exist_ok=True)
    known = list(secrets)
    markdown, hidden_md = redact(as_markdown(cert), known)
    body, hidden_json = redact(json.dumps(as_json(cert), indent=2, ensure_ascii=False), known)
    md_path, json_path = out_dir / "certification.md", out_dir / "evidence.json"
    md_path.write_text(markdown, encoding="utf-8")
    json_path.write_text(body + "\n", encoding="utf-8")
    return md_path, json_path, hidden_md + hidden_json
