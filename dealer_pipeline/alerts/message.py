"""One alert: what happened, to which dealer, what the vendor said, what to do, and the run to open.

The payload is Slack's incoming-webhook JSON (`text` for notifications and clients without blocks,
`blocks` for the layout); Mattermost, Rocket.Chat and Teams' Slack-compatible hooks read `text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Longest vendor message or detail carried (a chat message is read, not parsed).
MAX_TEXT = 1500


@dataclass(frozen=True)
class Alert:
    kind: str  # block_opened, run_failed, check_failed
    title: str
    dealer: str | None
    message: str  # what the vendor (or the check, or the run) said
    action: str  # what a person should do
    run_url: str | None
    runbook: str  # the docs/runbook.md section

    def fields(self) -> dict[str, str]:
        return {"dealer": self.dealer or "-", "said": _short(self.message), "action": _short(self.action),
                "run": self.run_url or "-", "runbook": self.runbook}

    def log_line(self) -> str:
        """One line for the log: every field, in a fixed order."""
        return f"ALERT {self.kind}: {self.title} | " + " | ".join(f"{k}: {v}" for k, v in self.fields().items())

    def slack_payload(self) -> dict[str, Any]:
        fields = self.fields()
        link = f"<{self.run_url}|open the run>" if self.run_url else "no run"
        text = f"{self.title} ({fields['dealer']}): {fields['said']} Action: {fields['action']} {self.run_url or ''}"
        return {
            "text": text.strip(),
            "blocks": [
                {"type": "header", "text": {"type": "plain_text", "text": _short(self.title, 150)}},
                {"type": "section", "fields": [
                    {"type": "mrkdwn", "text": f"*Dealer*\n{fields['dealer']}"},
                    {"type": "mrkdwn", "text": f"*Run*\n{link}"},
                ]},
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*Said*\n{fields['said']}"}},
                {"type": "section", "text": {"type": "mrkdwn", "text": f"*Action*\n{fields['action']}"}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": f"runbook: {self.runbook}"}]},
            ],
        }


def run_url(ui_base_url: str, run_id: str | None) -> str | None:
    """The run's page in the Dagster UI."""
    return f"{ui_base_url.rstrip('/')}/runs/{run_id}" if run_id else None


def _short(text: str, limit: int = MAX_TEXT) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
