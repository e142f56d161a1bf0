"""Running the definitions in this process: the sync/publish driver behind `dealer-pipeline sync`
and `demo`, and the events sensor ticked the way the daemon ticks it.

Runners import Dagster and the definitions; `defs/` only declares the graph.
"""
