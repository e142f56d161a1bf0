"""Driving the webhook events sensor in this process, the way the daemon does (demo, benchmarks).

The daemon evaluates the sensor every `minimum_interval_seconds`, keeps its cursor in the
instance and launches the requested runs; here each tick is evaluated with the cursor of
the previous one and each run request is executed in process against the same instance,
so the runs (tags, config, logs) show in Dagster's UI as any other run.
"""

import time
from dataclasses import dataclass, field
from typing import Optional

import dagster as dg

from dealer_pipeline.defs.operations.events import (
    SENSOR_INTERVAL_SECONDS,
    apply_webhook_events_job,
    webhook_events_sensor,
)
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.sources.autotrader import AutotraderResource
from dealer_pipeline.defs.sources.webmotors import WebmotorsResource


@dataclass
class SensorDriver:
    """Ticks the sensor and runs what it asks for; keeps the cursor between ticks."""

    instance: dg.DagsterInstance
    store: StoreResource = field(default_factory=StoreResource)
    cursor: Optional[str] = None
    #: The vendor resources of the runs' follow-up calls (the definitions' defaults unless given).
    vendors: dict = field(default_factory=lambda: {"autotrader": AutotraderResource(),
                                                   "webmotors": WebmotorsResource()})
    runs: list[dg.ExecuteInProcessResult] = field(default_factory=list)

    def tick(self) -> int:
        """One evaluation and its runs; returns how many runs were requested."""
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursor,
                                          sensor_name=webhook_events_sensor.name, resources={"store": self.store})
        result = webhook_events_sensor(context)
        requests = list(result.run_requests or [])
        for request in requests:
            run = apply_webhook_events_job.execute_in_process(
                run_config=request.run_config, instance=self.instance, tags=request.tags,
                resources={"store": self.store, **self.vendors}, raise_on_error=False,
            )
            self.runs.append(run)
        self.cursor = result.cursor or self.cursor
        return len(requests)

    def run_until_idle(self, *, interval: float = SENSOR_INTERVAL_SECONDS, idle_ticks: int = 1,
                       timeout: float = 300) -> int:
        """Tick every `interval` seconds until `idle_ticks` ticks in a row request nothing."""
        deadline = time.monotonic() + timeout
        idle = requested = 0
        while idle < idle_ticks and time.monotonic() < deadline:
            started = time.monotonic()
            count = self.tick()
            requested += count
            idle = idle + 1 if count == 0 else 0
            if idle < idle_ticks:
                time.sleep(max(0.0, interval - (time.monotonic() - started)))
        return requested

    def applied(self) -> int:
        return sum(run.output_for_node("apply_webhook_events")["applied"] for run in self.runs if run.success)
