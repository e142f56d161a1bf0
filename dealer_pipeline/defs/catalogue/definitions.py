"""The catalogue domain."""

import dagster as dg

defs = dg.Definitions()
