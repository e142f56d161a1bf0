"""The Autocosmos v3 client as a Dagster resource, and its pool: the catalogue is the first step of the
graph that calls Autocosmos (`versiones/bestmatch`); publishing to Autocosmos uses the same resource
and pool, so the instance's `autocosmos_api` limit caps both together.
"""

# No `from __future__ import annotations`: Dagster reads resource annotations at runtime.
from contextlib import closing, contextmanager
from datetime import timedelta
from typing import Dict, Iterator, Optional

import dagster as dg
import sqlalchemy as sa

from dealer_pipeline.catalogue.ranking import DEFAULT_THRESHOLD
from dealer_pipeline.catalogue.spec import Vocabulary
from dealer_pipeline.http import AuthFailed
from dealer_pipeline.publishing.autocosmos import AutocosmosOptions
from dealer_pipeline.publishing.photos import PhotoChecker, loopback_hosts
from dealer_pipeline.settings import Secret, get_settings
from dealer_pipeline.vendors.autocosmos import VENDOR, AutocosmosClient, AutocosmosContract
from dealer_pipeline.vendors.factory import ClientSettings, build_client

POOL = "autocosmos_api"


class AutocosmosResource(dg.ConfigurableResource):
    """The Autocosmos v3 client and publishing options. Unset fields come from the `AUTOCOSMOS_*`
    settings, so by default no credential passes through Dagster config; when set through Dagster,
    give the secret as `dg.EnvVar("AUTOCOSMOS_APP_SECRET")`. `contract` overrides the items Part 1
    leaves unconfirmed (e.g. `{"amount_field": "Importe"}`)."""

    base_url: Optional[str] = None
    app_key: Optional[str] = None
    app_secret: Optional[str] = None
    contract: Dict[str, str] = {}
    match_threshold: float = DEFAULT_THRESHOLD
    fuel_words: Dict[str, str] = {}
    body_words: Dict[str, str] = {}
    default_color: str = "No especificado"
    readback_delay_seconds: float = 5.0
    photo_max_age_hours: float = 24.0
    photo_workers: int = 8
    max_attempts: int = 4
    backoff_base_seconds: float = 2.0

    def options(self, audit: bool = False) -> AutocosmosOptions:
        return AutocosmosOptions(threshold=self.match_threshold,
                                 vocabulary=Vocabulary.with_overrides(fuel=self.fuel_words, body=self.body_words),
                                 default_color=self.default_color, readback_delay_seconds=self.readback_delay_seconds,
                                 audit=audit)

    def client_settings(self) -> ClientSettings:
        """This configuration for `vendors.factory` (unset fields: the environment's)."""
        return ClientSettings(
            VENDOR, self.base_url, self.app_key, Secret(self.app_secret) if self.app_secret else None,
            contract=AutocosmosContract.with_overrides(self.contract),
            policy={"max_attempts": self.max_attempts, "backoff_base_seconds": self.backoff_base_seconds})

    @contextmanager
    def client(self, engine: sa.Engine, run_id: Optional[str] = None) -> Iterator[AutocosmosClient]:
        with closing(build_client(self.client_settings(), engine=engine, run_id=run_id)) as client:
            yield client

    @contextmanager
    def photo_checker(self, engine: sa.Engine) -> Iterator[PhotoChecker]:
        settings = get_settings()
        # The sandbox serves its photos from its own loopback host: allowed only while it is the vendor.
        sandbox = loopback_hosts([settings.autotrader_base_url, settings.webmotors_base_url])
        checker = PhotoChecker(engine, max_age=timedelta(hours=self.photo_max_age_hours), workers=self.photo_workers,
                               allowed_hosts=sandbox)
        try:
            yield checker
        finally:
            checker.close()


def signature_refused(exc: AuthFailed) -> dg.Failure:
    """Autocosmos refused our ACS-HMAC signature: a person must fix the AppKey/AppSecret, so no retry."""
    return dg.Failure(description=f"Autocosmos refused our signature: check AUTOCOSMOS_APP_KEY/SECRET. {exc}",
                      metadata={"vendor": exc.vendor, "path": exc.path or "", "status": exc.status or -1,
                                "cf_ray": exc.cf_ray or "", "needs_operator": True},
                      allow_retries=False)
