"""Dagster definitions of the sources domain."""
