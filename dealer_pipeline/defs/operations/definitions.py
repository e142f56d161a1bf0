"""The operations domain: keeping the canonical store current from webhook events and the
classifieds current from the changes they made, the table-wide work after the dealer runs, and
alerts to a person."""

import dagster as dg

from dealer_pipeline.defs.automation import table_automation_sensor
from dealer_pipeline.defs.keys import CATALOG_MATCHES, VEHICLES
from dealer_pipeline.defs.operations.alerts import ALERT_SENSORS
from dealer_pipeline.defs.operations.events import apply_webhook_events_job, webhook_events_sensor
from dealer_pipeline.defs.operations.publish_changes import publish_changes_sensor

defs = dg.Definitions(jobs=[apply_webhook_events_job],
                      sensors=[webhook_events_sensor, publish_changes_sensor,
                               table_automation_sensor(VEHICLES, CATALOG_MATCHES), *ALERT_SENSORS])
