"""Dagster definitions of the publishing domain."""
