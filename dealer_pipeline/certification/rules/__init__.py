"""The rules of every go-live check, by vendor; importing this package registers them."""

from dealer_pipeline.certification.rules import (  # noqa: F401  (each module registers its rules)
    autochat,
    autocosmos,
    autotrader_auth,
    autotrader_baseline,
    autotrader_errors,
    autotrader_stock,
    webmotors,
)
