"""Vendor sources: Autotrader Connect and Webmotors."""

import dagster as dg

defs = dg.Definitions()
