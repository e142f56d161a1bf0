"""Autochat in Dagster: `publishing/autochat`, one dealer per `published_dealer` partition.

Pool `autochat_api` caps concurrent Autochat work on the instance. Outcomes follow the
publishing engine's one failure semantics (`publishing/engine.py`, `metadata.py`): a dealer whose
Autochat integration is off (a 403) gets a block in `api_blocks` and the run still succeeds with
the block in its metadata, so the other dealers' runs are unaffected; an outage stops the run
after recording every change (the remaining ones as not sent), and the next run continues;
refused credentials fail without retry (a person must act).
"""

# No `from __future__ import annotations`: Dagster reads resource annotations at runtime.
from contextlib import closing, contextmanager
from typing import Dict, Iterator, List, Optional

import dagster as dg
import sqlalchemy as sa

from dealer_pipeline.defs.common import DEALER_RANGE_BACKFILL, DEALERS_PER_RUN, RUN_RETRY, call_metadata, per_dealer_schedule
from dealer_pipeline.defs.keys import AUTOCHAT_PUBLICATIONS as AUTOCHAT_KEY
from dealer_pipeline.defs.keys import VEHICLES
from dealer_pipeline.defs.publishing.metadata import publish_each_dealer, publishing_result
from dealer_pipeline.defs.publishing.partitions import PUBLISHED_DEALER, dealer_entries
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.labels import labels
from dealer_pipeline.publishing import autochat as publishing
from dealer_pipeline.settings import Secret
from dealer_pipeline.vendors.autochat import VENDOR, AutochatClient, AutochatContract
from dealer_pipeline.vendors.factory import ClientSettings, build_client

GROUP = "publishing"
POOL = "autochat_api"


class AutochatResource(dg.ConfigurableResource):
    """The Autochat client. Unset fields come from the `AUTOCHAT_*` settings, so by default no
    credential passes through Dagster config (give a secret as `dg.EnvVar(...)` if set here).
    `contract` overrides paths, verbs, audience and statuses of api/autochat.md Part 2;
    `option_map` replaces the feature -> option names table (folded feature name -> names)."""

    base_url: Optional[str] = None
    token_url: Optional[str] = None
    client_id: Optional[str] = None
    client_secret: Optional[str] = None
    contract: Dict[str, str] = {}
    option_map: Optional[Dict[str, List[str]]] = None
    token_refresh_margin_seconds: float = 60.0
    max_attempts: int = 5
    backoff_base_seconds: float = 0.5
    read_timeout_seconds: float = 60.0

    def client_settings(self) -> ClientSettings:
        """This configuration for `vendors.factory` (unset fields: the environment's)."""
        return ClientSettings(
            VENDOR, self.base_url, self.client_id, Secret(self.client_secret) if self.client_secret else None,
            self.token_url, AutochatContract.with_overrides(self.contract),
            policy={"refresh_margin_seconds": self.token_refresh_margin_seconds, "max_attempts": self.max_attempts,
                    "backoff_base_seconds": self.backoff_base_seconds,
                    "read_timeout_seconds": self.read_timeout_seconds})

    @contextmanager
    def client(self, engine: sa.Engine, run_id: Optional[str] = None) -> Iterator[AutochatClient]:
        with closing(build_client(self.client_settings(), engine=engine, run_id=run_id)) as client:
            yield client


@dg.asset(key=AUTOCHAT_KEY, deps=[VEHICLES], partitions_def=PUBLISHED_DEALER, group_name=GROUP, pool=POOL,
          backfill_policy=DEALER_RANGE_BACKFILL,
          **labels("publishing", "api", vendor="autochat", grain="dealer"),
          description="One dealer's cars on Autochat: created, replaced, deleted (sold, removed, suspended) as the "
                      "store and the quality gate say; outcomes in `publications` (target autochat).")
def publish_autochat(context: dg.AssetExecutionContext, autochat: AutochatResource,
             store: StoreResource) -> dg.MaterializeResult:
    engine = store.engine()
    entry_of = dealer_entries()
    with autochat.client(engine, context.run.run_id) as client:
        def publish_one(dealer_id: str) -> dg.MaterializeResult:
            report = publishing.publish_dealer(engine, client, entry_of(dealer_id), option_map=autochat.option_map)
            return publishing_result(context, report, client.http.stats)

        return publish_each_dealer(context, engine, "autochat", publish_one, lambda: call_metadata(client.http.stats))


autochat_job = dg.define_asset_job(
    "publishing_autochat_job", selection=[AUTOCHAT_KEY], op_retry_policy=RUN_RETRY,
    description="Publish one dealer's stock to Autochat.",
)


publishing_autochat_schedule = per_dealer_schedule(
    "publishing_autochat_schedule", autochat_job, "20 * * * *", PUBLISHED_DEALER,
    "Every hour, runs over ranges of published dealers (dealers not on Autochat finish at once).",
    dealers_per_run=DEALERS_PER_RUN,
)


defs = dg.Definitions(
    assets=[publish_autochat],
    jobs=[autochat_job],
    schedules=[publishing_autochat_schedule],
    resources={"autochat": AutochatResource()},
)
