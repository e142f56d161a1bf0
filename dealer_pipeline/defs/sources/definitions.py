"""Vendor sources: one module per vendor (Autotrader here; Webmotors beside it), merged."""

import dagster as dg

from dealer_pipeline.defs.sources import autotrader

defs = dg.Definitions.merge(autotrader.defs)
