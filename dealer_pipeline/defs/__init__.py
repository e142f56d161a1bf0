"""Dagster definitions, one small `Definitions` per domain, merged in `dealer_pipeline.definitions`.

Definitions only: assets, checks, jobs, schedules, sensors, resources. Running them in this process
(`dealer-pipeline sync`, the demo's sensor ticks) is `dealer_pipeline.runner`'s. Only `defs/`,
`runner/` and `cli/` import dagster; they call into the domain code, never the reverse.

The folders follow the graph: `sources/` (per-vendor dealers and stock, with their resources and
pools), `canonical/` (the table and its checks, also attached per dealer to the sources' stock),
`catalogue/` (catalogue answers, with the Autocosmos resource and pool that publishing shares),
`publishing/` (one module per target), `operations/` (webhook events into the store). Shared:
`keys.py` (the asset keys one domain names in another's, the run tags), `common.py` (run requests
per dealer, outcomes as metadata), `resources.py` (the store), `labels.py`, `partitions.py`.
"""
