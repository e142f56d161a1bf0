"""Alerts to a person: what needs one (a block opened, a run failed, a blocking check failed), as a
Slack-compatible message posted to the configured webhook and written to the log."""

from dealer_pipeline.alerts.message import Alert, run_url
from dealer_pipeline.alerts.webhook import AlertDeliveryError, deliver

__all__ = ["Alert", "AlertDeliveryError", "deliver", "run_url"]
