"""`catalogue/catalog_matches`: the catalogue answer for every vehicle about to be published.

Each distinct specification is asked of `versiones/bestmatch` once, ever (AC-MATCH-1): later
runs only ask specs never seen, or sent back by an operator. Shares the pool `autocosmos_api`
with publishing.
"""

# No `from __future__ import annotations`: Dagster reads resource annotations at runtime.
import dagster as dg

from dealer_pipeline.catalogue.resolve import resolve_specs
from dealer_pipeline.catalogue.review import review_queue_size
from dealer_pipeline.dealers_file import DealersFileError
from dealer_pipeline.defs.automation import AFTER_DEALER_RUNS
from dealer_pipeline.defs.catalogue.resources import POOL, AutocosmosResource, signature_refused
from dealer_pipeline.defs.keys import CATALOG_MATCHES, VEHICLES
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.defs.labels import labels
from dealer_pipeline.http import AuthFailed
from dealer_pipeline.publishing.autocosmos import TARGET, listed_specs
from dealer_pipeline.publishing.core import dealers_publishing_to

GROUP = "catalogue"


@dg.asset(key=CATALOG_MATCHES, deps=[VEHICLES], group_name=GROUP, pool=POOL, automation_condition=AFTER_DEALER_RUNS,
          **labels("catalogue", "api", vendor="autocosmos", grain="table"),
          description="Autocosmos catalogue answers (table `catalog_matches`): one best match per distinct vehicle "
                      "specification, cached; unresolved ones wait in `v_catalog_review`.")
def catalog_matches(context: dg.AssetExecutionContext, autocosmos: AutocosmosResource,
                    store: StoreResource) -> dg.MaterializeResult:
    engine = store.engine()
    try:
        dealers = [(entry.dealer_id, account) for entry, account in dealers_publishing_to(TARGET)]
    except DealersFileError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    options = autocosmos.options()
    with autocosmos.client(engine, context.run.run_id) as client:
        try:
            specs, skipped = listed_specs(engine, client, dealers, vocabulary=options.vocabulary)
            report = resolve_specs(engine, client, specs=specs, threshold=options.threshold,
                                   vocabulary=options.vocabulary)
        except AuthFailed as exc:
            raise signature_refused(exc) from None
    if skipped:
        context.log.warning(f"{len(skipped)} dealer(s) blocked on Autocosmos, not resolved: {skipped[:10]}")
    if report.failed:
        context.log.warning(f"{len(report.failed)} spec(s) not resolved this run (asked again next run): "
                            f"{report.failed[:3]}")
    with engine.connect() as conn:
        queue = review_queue_size(conn)
    return dg.MaterializeResult(metadata={**report.metadata(), "dealers": len(dealers),
                                          "dealers_blocked": len(skipped), "review_queue_size": queue})


catalogue_job = dg.define_asset_job("catalogue_job", selection=[CATALOG_MATCHES],
                                    description="Resolve new vehicle specifications against the Autocosmos catalogue.")
