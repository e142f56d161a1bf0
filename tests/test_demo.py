"""The demo's terminal: one line per run and a summary, Dagster's event stream kept in the instance."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from dealer_pipeline.cli import quiet
from dealer_pipeline.paths import project_root


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(project_root() / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return home


@dg.op
def _say(context) -> int:  # type: ignore[no-untyped-def]  (a string annotation confuses Dagster)
    context.log.info("an INFO line the terminal keeps")
    return 1


@dg.job
def _one_step() -> None:
    _say()


@pytest.mark.parametrize("verbose", [False, True])
def test_run_events_reach_the_terminal_only_when_verbose(
    verbose: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(_home(tmp_path)))
    with quiet.instance(verbose) as instance:
        result = _one_step.execute_in_process(instance=instance)
        stored = {record.dagster_event_type for record in instance.all_logs(result.run_id) if record.is_dagster_event}
    terminal = capfd.readouterr().err
    assert result.success and dg.DagsterEventType.STEP_START in stored and dg.DagsterEventType.RUN_SUCCESS in stored
    assert "an INFO line the terminal keeps" in terminal
    assert ("STEP_START" in terminal) is verbose and (" - DEBUG - " in terminal) is verbose


@pytest.mark.slow
def test_the_demo_prints_runs_and_summary_and_ends_with_the_ui_command(tmp_path: Path) -> None:
    home = _home(tmp_path)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    env.pop("DEALER_PIPELINE_DATABASE_URL", None)
    demo = subprocess.run(
        [str(Path(sys.executable).parent / "dealer-pipeline"), "demo", "--dealers", "1", "--vehicles", "4",
         "--burst", "2"], env=env, capture_output=True, text=True, timeout=600,
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    lines = demo.stdout.splitlines()
    assert " - DEBUG - " not in demo.stdout + demo.stderr and "STEP_START" not in demo.stdout + demo.stderr
    assert "  ok     canonical vehicles + checks" in lines and "== summary" in lines
    expected = f"cd {project_root()} && DAGSTER_HOME={home} {Path(sys.executable).parent / 'dg'} dev"
    assert shlex.split(lines[-1]) == shlex.split(expected)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert runs and all(run.status == dg.DagsterRunStatus.SUCCESS for run in runs)
        events = {record.dagster_event_type for record in instance.all_logs(runs[0].run_id) if record.is_dagster_event}
        assert dg.DagsterEventType.STEP_START in events, "the event stream stays in the instance"
