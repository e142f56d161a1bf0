"""Dagster definitions, one small `Definitions` per domain, merged in `dealer_pipeline.definitions`.

Only this package imports dagster; it calls into the domain code, never the reverse.
"""
