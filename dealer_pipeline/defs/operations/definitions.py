"""The operations domain: keeping the canonical store current from webhook events."""

import dagster as dg

from dealer_pipeline.defs.operations.events import apply_webhook_events_job, webhook_events_sensor

defs = dg.Definitions(jobs=[apply_webhook_events_job], sensors=[webhook_events_sensor])
