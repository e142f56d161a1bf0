"""Dagster definitions of the canonical domain."""
