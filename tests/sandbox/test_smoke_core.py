"""The sandbox starts as a subprocess and answers its health route (the core works end to end)."""

from __future__ import annotations

import requests

from dealer_pipeline.sandbox.runner import SandboxHandle


def test_sandbox_starts_and_reports_health(sandbox: SandboxHandle) -> None:
    health = sandbox.health()
    assert health["status"] == "ok"
    assert {"autotrader", "webmotors"} <= set(health["vendors"])
    answer = requests.post(f"{sandbox.url('autotrader')}/authenticate",
                           data={"key": "sandbox-at-key", "secret": "sandbox-at-secret"}, timeout=10)
    assert answer.status_code == 200
    assert sandbox.calls(vendor="autotrader")[-1]["path"] == "/authenticate"
