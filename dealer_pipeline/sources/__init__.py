"""Sync logic per vendor (domain code: no Dagster here; `defs/sources/` calls it)."""
