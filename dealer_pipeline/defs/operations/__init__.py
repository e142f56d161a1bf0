"""Dagster definitions of the operations domain."""
