"""AC-HOOK-1 and the blocks it clears: the sandbox's signed `invitacionagencia_aceptada` webhook, received
over HTTP, resolves the open 403 block of that agency's dealer with the event as its note and requests
the dealer's publishing through `publish_changes_sensor`; blocks no vendor signal can clear stay.
(The same signal publishing the dealer under a real daemon: tests/events/test_daemon_publishing.py.)"""

from __future__ import annotations

import dagster as dg
import sqlalchemy as sa

from dealer_pipeline.definitions import defs
from dealer_pipeline.defs.keys import DEALER_TAG
from dealer_pipeline.defs.operations.publish_changes import SENSOR_NAME
from dealer_pipeline.defs.publishing.partitions import PUBLISHED_DEALER
from dealer_pipeline.defs.resources import StoreResource
from dealer_pipeline.http.blocks import Block, BlockRegistry, list_blocks
from dealer_pipeline.sandbox.runner import SandboxHandle
from dealer_pipeline.store.schema import publish_requests, webhook_events
from tests.events.sandbox_fixtures import apply_pending_of


def _block(registry: BlockRegistry, reason: str, dealer_id: str | None, path: str) -> Block:
    return registry.record(reason=reason, dealer_id=dealer_id, service="publicaciones", message="Forbidden",
                           action="have the agency accept our invitation", method="GET", path=path, cf_ray=None)


def test_ac_hook_1_acceptance_lifts_the_agencys_403_block_and_requests_its_publishing(
    vendor_sandbox: SandboxHandle, module_engine: sa.Engine, module_store_url: str,
) -> None:
    agencies = [a for a in vendor_sandbox.world()["autocosmos_agencies"] if a["dealer_id"]]
    agency, other = agencies[0], agencies[1]
    adminmail, dealer_id = agency["adminmail"].lower(), agency["dealer_id"]
    registry = BlockRegistry(module_engine, "autocosmos")
    lifted = _block(registry, "403", dealer_id, f"/v3/publicaciones/{adminmail}")
    stays = [
        _block(registry, "400", dealer_id, "/v3/publicaciones"),  # bad input: a person fixes the request
        _block(registry, "403", other["dealer_id"], f"/v3/publicaciones/{other['adminmail']}"),  # another agency
        _block(registry, "403", None, "/v3/versiones/bestmatch"),  # the whole app: no agency can clear it
    ]
    with module_engine.connect() as conn:
        after = conn.execute(sa.select(sa.func.coalesce(sa.func.max(publish_requests.c.id), 0))).scalar()

    result = vendor_sandbox.control("POST", "/autocosmos/invitations/accept", {"adminmail": agency["adminmail"]})
    assert [a["status"] for a in result["attempts"]] == [200]
    assert apply_pending_of(module_engine, "autocosmos", adminmail).summary.applied == 1

    with module_engine.connect() as conn:
        event_id, hook = conn.execute(sa.select(webhook_events.c.id, webhook_events.c.event_key).where(
            webhook_events.c.source == "autocosmos", webhook_events.c.subject_id == adminmail,
        ).order_by(webhook_events.c.id.desc())).first()
        requested = conn.execute(sa.select(publish_requests).where(publish_requests.c.id > after)).mappings().all()
    blocks = {b.id: b for b in list_blocks(module_engine, vendor="autocosmos", include_resolved=True)}
    note = blocks[lifted.id].resolved_note or ""
    assert blocks[lifted.id].resolved_at is not None
    assert "invitacionagencia_aceptada" in note and f"event {event_id}" in note and hook in note and adminmail in note
    assert [blocks[b.id].resolved_at for b in stays] == [None, None, None]
    assert [(r["dealer_id"], r["event_id"], r["vehicle_id"]) for r in requested] == [(dealer_id, event_id, None)]
    assert f"blocks {lifted.id} lifted" in requested[0]["reason"]

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(PUBLISHED_DEALER.name, [dealer_id])
        context = dg.build_sensor_context(instance=instance, cursor=str(after),
                                          resources={"store": StoreResource(database_url=module_store_url)})
        (run,) = defs.resolve_sensor_def(SENSOR_NAME)(context).run_requests
    assert (run.partition_key, run.tags[DEALER_TAG]) == (dealer_id, dealer_id)


def test_an_acceptance_with_no_block_open_still_requests_the_dealers_publishing(
    vendor_sandbox: SandboxHandle, module_engine: sa.Engine,
) -> None:
    agency = next(a for a in vendor_sandbox.world()["autocosmos_agencies"] if a["dealer_id"])
    adminmail = agency["adminmail"].lower()
    with module_engine.connect() as conn:
        after = conn.execute(sa.select(sa.func.coalesce(sa.func.max(publish_requests.c.id), 0))).scalar()
    vendor_sandbox.control("POST", "/autocosmos/invitations/accept", {"adminmail": agency["adminmail"]})
    applied = apply_pending_of(module_engine, "autocosmos", adminmail)
    assert applied.summary.applied == 1 and applied.summary.errors == []
    with module_engine.connect() as conn:
        requested = conn.execute(sa.select(publish_requests.c.dealer_id, publish_requests.c.reason)
                                 .where(publish_requests.c.id > after)).all()
    assert requested == [(agency["dealer_id"], f"agency {adminmail} accepted")]
