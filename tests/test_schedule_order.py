"""Schedules that feed one another tick in the graph's order: a job whose assets read another
scheduled job's assets is scheduled after it within the hour, never at the same minute."""

from __future__ import annotations

import itertools

import dagster as dg


def _hourly_minute(schedule: dg.ScheduleDefinition) -> int | None:
    """The minute of an hourly `M * * * *` schedule (None for any other cadence)."""
    fields = str(schedule.cron_schedule).split()
    if len(fields) == 5 and fields[0].isdigit() and fields[1:] == ["*", "*", "*", "*"]:
        return int(fields[0])
    return None


def _upstream(graph: dg.AssetGraph, keys: set[dg.AssetKey]) -> set[dg.AssetKey]:
    found: set[dg.AssetKey] = set()
    todo = list(keys)
    while todo:
        for parent in graph.get(todo.pop()).parent_keys:
            if parent not in found:
                found.add(parent)
                todo.append(parent)
    return found


def _hourly_jobs() -> list[tuple[str, int, set[dg.AssetKey], set[dg.AssetKey]]]:
    from dealer_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    found = []
    for schedule in defs.schedules or []:
        minute = _hourly_minute(schedule)
        if minute is None:
            continue
        keys = set(defs.resolve_job_def(schedule.job_name).asset_layer.executable_asset_keys)
        found.append((schedule.name, minute, keys, _upstream(graph, keys)))
    return found


def test_hourly_schedules_tick_after_the_schedules_they_read_from() -> None:
    jobs = _hourly_jobs()
    assert len(jobs) >= 3, "the hourly publishing schedules are found"
    pairs = 0
    for (name_a, minute_a, keys_a, _), (name_b, minute_b, _, upstream_b) in itertools.permutations(jobs, 2):
        if keys_a & upstream_b:
            pairs += 1
            assert minute_a < minute_b, f"{name_b} (:{minute_b:02d}) reads what {name_a} (:{minute_a:02d}) writes"
    assert pairs >= 2, "Webmotors status reads both channels' publications"


def test_no_two_hourly_schedules_of_dependent_jobs_share_a_minute() -> None:
    jobs = _hourly_jobs()
    for (name_a, minute_a, keys_a, up_a), (name_b, minute_b, keys_b, up_b) in itertools.combinations(jobs, 2):
        if keys_a & up_b or keys_b & up_a:
            assert minute_a != minute_b, f"{name_a} and {name_b} both tick at :{minute_a:02d}"
