"""The canonical domain."""

import dagster as dg

defs = dg.Definitions()
