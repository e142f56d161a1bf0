"""dealer_pipeline: dealer stock from Autotrader Connect and Webmotors into one canonical table,
published to Autocosmos and Autochat."""

__version__ = "0.1.0"
