"""Posting an alert to the webhook. The URL is a secret (a Slack hook's path is its credential): it is
never logged or put in an error, only the host it points at."""

from __future__ import annotations

from urllib.parse import urlsplit

import requests

from dealer_pipeline.alerts.message import Alert
from dealer_pipeline.settings import Secret

TIMEOUT_SECONDS = 10.0


class AlertDeliveryError(RuntimeError):
    """The webhook did not take the alert (it is delivered again on the sensor's next tick)."""


def deliver(alert: Alert, url: Secret | None, *, session: requests.Session | None = None) -> bool:
    """Post the alert; False when no webhook is configured (the caller logs it either way)."""
    if url is None:
        return False
    target = url.reveal()
    host = urlsplit(target).hostname or "?"
    poster = session or requests
    try:
        response = poster.post(target, json=alert.slack_payload(), timeout=TIMEOUT_SECONDS, allow_redirects=False)
    except requests.RequestException as exc:
        raise AlertDeliveryError(f"alert webhook at {host} unreachable: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise AlertDeliveryError(f"alert webhook at {host} answered {response.status_code}")
    return True
