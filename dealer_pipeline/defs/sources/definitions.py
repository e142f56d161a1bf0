"""Vendor sources: one module per vendor (Autotrader, Webmotors), merged."""

import dagster as dg

from dealer_pipeline.defs.sources import autotrader, webmotors

defs = dg.Definitions.merge(autotrader.defs, webmotors.defs)
