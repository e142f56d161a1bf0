"""The code location: every domain's `Definitions` merged, plus the shared resources."""

from __future__ import annotations

import dagster as dg

from dealer_pipeline.defs.canonical import definitions as canonical
from dealer_pipeline.defs.catalogue import definitions as catalogue
from dealer_pipeline.defs.execution import job_executor
from dealer_pipeline.defs.operations import definitions as operations
from dealer_pipeline.defs.publishing import definitions as publishing
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.sources import definitions as sources

defs = dg.Definitions.merge(
    sources.defs,
    canonical.defs,
    catalogue.defs,
    publishing.defs,
    operations.defs,
    dg.Definitions(
        resources={"store": StoreResource()},
        # Run events (DEBUG) still all reach the instance's event log and the UI; the console
        # of `dealer-pipeline sync`/`demo` and of run workers shows INFO and above.
        loggers={"console": dg.colored_console_logger.configured({"log_level": "INFO"})},
        # Celery workers when DEALER_PIPELINE_CELERY_BROKER_URL is set; Dagster's default otherwise.
        executor=job_executor(),
    ),
)
