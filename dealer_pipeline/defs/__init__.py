"""Dagster definitions, one small `Definitions` per domain, merged in `dealer_pipeline.definitions`.

Definitions only: assets, checks, jobs, schedules, sensors, resources. Running them in this process
(`dealer-pipeline sync`, the demo's sensor ticks) is `dealer_pipeline.runner`'s. Only `defs/`,
`runner/` and `cli/` import dagster; they call into the domain code, never the reverse.
"""
