"""The operations domain."""

import dagster as dg

defs = dg.Definitions()
