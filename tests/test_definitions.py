"""The code location loads (as `dg check defs` does in the UI) and its asset graph is what we expect."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from dealer_pipeline.paths import project_root

SNAPSHOT = Path(__file__).parent / "snapshots" / "definitions.txt"


def _graph_lines() -> list[str]:
    from dealer_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    lines = [f"asset {key.to_user_string()}" for key in graph.get_all_asset_keys()]
    lines += [f"check {key.asset_key.to_user_string()}:{key.name}" for key in graph.asset_check_keys]
    lines += [f"job {job.name}" for job in defs.jobs or []]
    lines += [f"schedule {s.name}" for s in defs.schedules or []]
    lines += [f"sensor {s.name}" for s in defs.sensors or []]
    return sorted(lines)


def test_definitions_snapshot() -> None:
    """Asset keys, checks, schedules and sensors change only on purpose (UPDATE_SNAPSHOTS=1 rewrites)."""
    current = "\n".join(_graph_lines()) + "\n"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(current)
    assert current == SNAPSHOT.read_text()


def test_dg_check_defs_passes(tmp_path: Path) -> None:
    dg = Path(sys.executable).with_name("dg")
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path))
    result = subprocess.run([str(dg), "check", "defs"], cwd=project_root(), env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All definitions loaded successfully" in result.stdout + result.stderr


def test_loading_the_code_location_leaves_pandas_and_great_expectations_unimported() -> None:
    """Every code-server start, run worker and CLI call loads the definitions: the data-quality
    stack (pandas ~0.3 s, Great Expectations ~3 s) is imported by the checks when they run."""
    probe = ("import sys, dealer_pipeline.definitions; "
             "print(sorted(m for m in ('pandas', 'numpy', 'great_expectations', 'scipy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", probe], cwd=project_root(), capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_autocosmos_audit_schedule_asks_for_the_audit() -> None:
    import dagster as dg

    from dealer_pipeline.definitions import defs

    with dg.instance_for_test() as instance:  # schedule contexts need an instance with a ref
        instance.add_dynamic_partitions("published_dealer", ["autotrader:10012345", "webmotors:03347828000109"])
        audit = defs.resolve_schedule_def("autocosmos_audit_schedule").evaluate_tick(
            dg.build_schedule_context(instance=instance, repository_def=defs.get_repository_def())).run_requests
    assert audit and all(r.run_config == {"ops": {"publishing__autocosmos": {"config": {"audit": True}}}}
                         for r in audit)


def test_every_asset_has_owners_kinds_and_tags() -> None:
    """The catalogue can be filtered by owner, kind (store, vendor, libraries) and the domain/grain tags."""
    from dealer_pipeline.definitions import defs
    from dealer_pipeline.defs.labels import OWNERS

    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    for key, spec in specs.items():
        assert list(spec.owners) == OWNERS, key
        assert {"domain", "grain"} <= set(spec.tags), key
        assert spec.kinds & {"sqlite", "postgres", "yaml"}, f"{key}: no kind says where it lives"
        vendor = spec.tags.get("vendor")
        assert vendor is None or vendor in spec.kinds, key
    assert {"pandas", "great_expectations", "sqlite"} <= specs["canonical/vehicles"].kinds
    assert {"api", "autotrader"} <= specs["autotrader/stock"].kinds and specs["autotrader/stock"].tags["grain"] == "dealer"


def test_the_store_kind_follows_the_database_url(tmp_path: Path) -> None:
    probe = ("from dealer_pipeline.definitions import defs; "
             "print(sorted(next(s for s in defs.resolve_all_asset_specs() "
             "if s.key.to_user_string() == 'canonical/vehicles').kinds))")
    env = dict(os.environ, DAGSTER_HOME=str(tmp_path),
               DEALER_PIPELINE_DATABASE_URL="postgresql+psycopg2://u@localhost/store")
    result = subprocess.run([sys.executable, "-W", "ignore", "-c", probe], cwd=project_root(), env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "postgres" in result.stdout and "sqlite" not in result.stdout


def test_canonical_vehicles_carries_the_column_schema_of_the_table() -> None:
    import dagster as dg

    from dealer_pipeline.definitions import defs
    from dealer_pipeline.store.schema import vehicles

    spec = next(s for s in defs.resolve_all_asset_specs() if s.key == dg.AssetKey(["canonical", "vehicles"]))
    schema = spec.metadata["dagster/column_schema"]
    assert [c.name for c in schema.columns] == [c.name for c in vehicles.columns]
    by_name = {c.name: c for c in schema.columns}
    assert by_name["vehicle_id"].constraints.unique and not by_name["vehicle_id"].constraints.nullable
    assert by_name["price_amount"].type == "numeric(14, 2)" and by_name["price_amount"].description


#: Per-dealer schedules -> the dynamic partitions whose ranges they request, and the dealer id's prefix.
DEALER_SCHEDULES = {"autotrader_stock_schedule": ("autotrader_advertiser", "autotrader:"),
                    "webmotors_stock_schedule": ("webmotors_dealer", "webmotors:"),
                    "autocosmos_publish_schedule": ("published_dealer", ""),
                    "autocosmos_audit_schedule": ("published_dealer", ""),
                    "publishing_autochat_schedule": ("published_dealer", ""),
                    "publishing_webmotors_status_schedule": ("published_dealer", ""),
                    "publishing_leads_schedule": ("published_dealer", "")}


def test_per_dealer_schedules_request_runs_over_ranges_of_dealers() -> None:
    """A tick covers every dealer partition exactly once, in ranges of at most DEALERS_PER_RUN
    consecutive partitions (Dagster's range tags); a lone dealer gets its partition key and dealer tag;
    the next tick's run keys differ."""
    from datetime import UTC, datetime

    import dagster as dg

    from dealer_pipeline.defs.common import DEALERS_PER_RUN
    from dealer_pipeline.definitions import defs

    repository = defs.get_repository_def()
    for schedule_name, (partitions_name, prefix) in DEALER_SCHEDULES.items():
        schedule = defs.resolve_schedule_def(schedule_name)
        for count in (1, 2, 2 * DEALERS_PER_RUN + 1):
            keys = [f"{10000000 + i:014d}" for i in range(count)]
            with dg.instance_for_test() as instance:
                instance.add_dynamic_partitions(partitions_name, keys)
                run_keys = []
                for hour in (5, 11):
                    context = dg.build_schedule_context(
                        instance=instance, repository_def=repository,
                        scheduled_execution_time=datetime(2026, 1, 5, hour, tzinfo=UTC))
                    requests = schedule.evaluate_tick(context).run_requests or []
                    covered = []
                    for request in requests:
                        if request.partition_key is not None:
                            assert request.tags["dealer_pipeline/dealer"] == f"{prefix}{request.partition_key}"
                            covered.append(request.partition_key)
                            continue
                        start = request.tags["dagster/asset_partition_range_start"]
                        end = request.tags["dagster/asset_partition_range_end"]
                        chunk = keys[keys.index(start):keys.index(end) + 1]
                        assert 1 < len(chunk) <= DEALERS_PER_RUN
                        assert request.tags["dealer_pipeline/dealers"].endswith(f"({len(chunk)})")
                        covered.extend(chunk)
                    assert covered == keys, schedule_name
                    assert len(requests) == -(-count // DEALERS_PER_RUN)
                    run_keys.append({r.run_key for r in requests})
                    assert None not in run_keys[-1] and len(run_keys[-1]) == len(requests)
                assert not run_keys[0] & run_keys[1], f"{schedule_name}: a later tick must launch new runs"


def test_stock_schedule_leaves_switched_off_charge_times_out(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """With charge times switched off, the Autotrader stock tick selects the stock and its features only
    (a step with nothing to do would still cost a step and an event per dealer); switched on, the job's
    whole selection."""
    from datetime import UTC, datetime

    import dagster as dg

    from dealer_pipeline.definitions import defs
    from dealer_pipeline.settings import get_settings

    schedule = defs.resolve_schedule_def("autotrader_stock_schedule")
    selections = {}
    for enabled in ("false", "true"):
        monkeypatch.setenv("AUTOTRADER_CHARGE_TIMES_ENABLED", enabled)
        get_settings.cache_clear()
        with dg.instance_for_test() as instance:
            instance.add_dynamic_partitions("autotrader_advertiser", ["10000001", "10000002"])
            context = dg.build_schedule_context(instance=instance, repository_def=defs.get_repository_def(),
                                                scheduled_execution_time=datetime(2026, 1, 5, 5, tzinfo=UTC))
            (request,) = schedule.evaluate_tick(context).run_requests or []
            selections[enabled] = request.asset_selection
    get_settings.cache_clear()
    assert selections["false"] == [dg.AssetKey(["autotrader", "stock"]), dg.AssetKey(["autotrader", "stock_features"])]
    assert selections["true"] is None
