"""`dealer-pipeline sync --source autotrader` beside a lean hand-written loader, in one invocation.

    .venv/bin/python bench/sync_vs_lean.py [--dealers 100] [--vehicles 200] [--delay-ms 0]
        [--threads 8] [--pg-url postgresql+psycopg2://...] [--sync-args "..."] [--wrap "memray run -o x.bin"]

Both load the same sandbox world (every advertiser on the integration, charge times off so both make
exactly the same calls: one token, the advertiser pages, stock pages of 200, one features call per
live vehicle) into their own database of the same PostgreSQL server, one after the other, each as a
child process tree measured alone: wall time, CPU (user + system of the tree, from `wait4`), peak RSS
(the tree's resident memory summed, sampled every 50 ms), calls seen by the sandbox against the
minimum, and when each side made its first and last vendor call (sandbox timestamps) with its
rate between them: the time before the first call and after the last is work no call overlaps.
`--delay-ms` adds the sandbox's delay fault to every Autotrader call. The pipeline side is
the real CLI against a PostgreSQL Dagster instance (`deploy/dagster.yaml`'s storage), so its figures
include Dagster's run bookkeeping. The ratios are the point: absolute times on a shared 2-core
machine are noise.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.support import classify_call, everyone_on_the_integration, fresh_database  # noqa: E402

DAGSTER_YAML = """
telemetry: {{enabled: false}}
storage:
  postgres:
    postgres_url: "{url}"
concurrency:
  runs: {{max_concurrent_runs: 8}}
  pools: {{default_limit: 4}}
"""


def _tree_rss_kib(root: int) -> int:
    """Resident memory of `root` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        stack.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def measured(argv: list[str], env: dict[str, str], out_path: Path) -> dict[str, Any]:
    """Run `argv` as a process tree; its wall time, CPU seconds, peak tree RSS and exit code. The tree's
    RSS every second goes to `<out_path>.rss` (seconds, MiB)."""
    peak = 0
    timeline = open(f"{out_path}.rss", "w", buffering=1)
    with open(out_path, "w") as out:
        started, epoch = time.perf_counter(), time.time()
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            ticks = 0
            while not done.is_set():
                rss = _tree_rss_kib(proc.pid)
                peak = max(peak, rss)
                if ticks % 20 == 0:
                    timeline.write(f"{time.perf_counter() - started:.1f} {rss / 1024:.0f}\n")
                ticks += 1
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        done.set()
        sampler.join()
        timeline.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mib": peak / 1024,
            "exit": proc.returncode, "output": out_path, "epoch": epoch}


#: Pipeline stage -> its Dagster step keys (exact) or key prefixes/suffixes (ending or starting with "_").
STAGES = (("advertisers", ("autotrader__advertisers", "webmotors__dealers")),
          ("baseline", ("autotrader__stock", "webmotors__stock")),
          ("enrichment", ("autotrader__stock_features", "autotrader__charge_times")),
          ("canonical and checks", ("canonical__", "_vehicle_rules", "_baseline_row_count", "_dealer_freshness")),
          ("catalogue", ("catalogue__",)),
          ("publishing", ("publishing__",)))


def _stage_of(key: str) -> str | None:
    for name, marks in STAGES:
        if key in marks or any((m.endswith("__") and key.startswith(m)) or (m.startswith("_") and key.endswith(m))
                               for m in marks):
            return name
    return None


def print_stages(steps: list[Any], row: dict[str, Any]) -> None:
    """Seconds per pipeline stage, from the steps' first and last events in the instance."""
    totals = {name: 0.0 for name, _ in STAGES}
    for key, _, seconds in steps:
        stage = _stage_of(key)
        if stage is not None:
            totals[stage] += float(seconds or 0)
    by_vendor: dict[str, int] = {}
    for call in row["calls"]:
        by_vendor[call["vendor"]] = by_vendor.get(call["vendor"], 0) + 1
    print(f"\n{'stage':<24}{'seconds':>10}")
    for name, seconds in totals.items():
        print(f"{name:<24}{seconds:>10.1f}")
    print(f"{'whole sync (wall)':<24}{row['wall']:>10.1f}")
    print(f"vendor calls: {by_vendor}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dealers", type=int, default=100)
    parser.add_argument("--vehicles", type=int, default=200)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--threads", type=int, default=8, help="the lean loader's features threads")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--pg-url", help="admin URL of a PostgreSQL server (default: start a throwaway one)")
    parser.add_argument("--sync-args", default="", help="extra arguments for `dealer-pipeline sync`")
    parser.add_argument("--skip-lean", action="store_true")
    parser.add_argument("--pipeline", action="store_true",
                        help="the whole pipeline instead: both sources, charge times on, publishing; no lean loader; "
                             "prints the time per stage")
    parser.add_argument("--profile", metavar="RAW", help="sample the sync with py-spy (all threads and children) "
                        "into this raw file, then print its top entries (bench/profile_summary.py)")
    parser.add_argument("--gil", action="store_true", help="profile only the thread holding the GIL (the CPU "
                        "a GIL-bound process spends) instead of every thread")
    parser.add_argument("--wrap", default="", help="a command to run the sync under (e.g. \"memray run -o x.bin\")")
    args = parser.parse_args()

    import sqlalchemy as sa

    from dealer_pipeline.sandbox.runner import start_sandbox
    from tests.support.postgres import throwaway_postgres

    workdir = Path(tempfile.mkdtemp(prefix="sync-vs-lean-"))
    rows: dict[str, dict[str, Any]] = {}
    with ExitStack() as stack:
        admin = args.pg_url or stack.enter_context(throwaway_postgres())
        sandbox = stack.enter_context(start_sandbox(seed=args.seed, dealers=args.dealers, vehicles=args.vehicles))
        everyone_on_the_integration(sandbox)
        if args.delay_ms:
            sandbox.fault(vendor="autotrader", delay_seconds=args.delay_ms / 1000, times=None)
        env = {**os.environ, **sandbox.env(),
               "AUTOTRADER_CHARGE_TIMES_ENABLED": "true" if args.pipeline else "false"}
        creds = sandbox.credentials

        if not (args.skip_lean or args.pipeline):
            since = sandbox.last_seq()
            lean_db = fresh_database(admin)
            rows["lean loader"] = measured(
                [sys.executable, str(ROOT / "bench" / "lean_loader.py"), "--base-url", sandbox.url("autotrader"),
                 "--key", creds["autotrader_key"], "--secret", creds["autotrader_secret"], "--pg-url", lean_db,
                 "--threads", str(args.threads)], env, workdir / "lean.out")
            rows["lean loader"]["calls"] = sandbox.calls(vendor="autotrader", since=since)
            rows["lean loader"]["runs"] = 0
            sandbox.clear_calls()

        since = sandbox.last_seq()
        store_db, instance_db = fresh_database(admin), fresh_database(admin)
        home = workdir / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text(DAGSTER_YAML.format(url=instance_db))
        sync_env = {**env, "DAGSTER_HOME": str(home), "DEALER_PIPELINE_DATABASE_URL": store_db}
        cli = str(Path(sys.executable).with_name("dealer-pipeline"))
        scope = [] if args.pipeline else ["--source", "autotrader", "--no-publish"]
        argv = [cli, "sync", *scope, *shlex.split(args.sync_args)]
        if args.wrap:
            argv = [*shlex.split(args.wrap), *argv]
        if args.profile:
            spy = str(Path(sys.executable).with_name("py-spy"))
            argv = [spy, "record", "-s", "-r", "50", "-f", "raw", *(["--gil"] if args.gil else []), "-o", args.profile, "--", *argv]
        rows["dealer-pipeline sync"] = measured(argv, sync_env,
            workdir / "sync.out")
        rows["dealer-pipeline sync"]["calls"] = [
            c for c in sandbox.calls(since=since) if args.pipeline or c["vendor"] == "autotrader"]
        engine = sa.create_engine(instance_db)
        with engine.connect() as conn:
            rows["dealer-pipeline sync"]["runs"] = conn.exec_driver_sql("SELECT count(*) FROM runs").scalar_one()
            steps = conn.exec_driver_sql(
                "SELECT step_key, count(DISTINCT run_id), sum(seconds) FROM (SELECT run_id, step_key, "
                "extract(epoch FROM max(timestamp) - min(timestamp)) AS seconds FROM event_logs "
                "WHERE step_key IS NOT NULL AND dagster_event_type IN ('STEP_START', 'STEP_SUCCESS', 'STEP_FAILURE') "
                "GROUP BY run_id, step_key) AS s GROUP BY step_key ORDER BY 3 DESC").all()
        engine.dispose()
        store = sa.create_engine(store_db)
        with store.connect() as conn:
            vehicles = conn.exec_driver_sql("SELECT count(*) FROM vehicles").scalar_one()
            live = conn.exec_driver_sql("SELECT count(*) FROM vehicles WHERE availability IN "
                                        "('available', 'reserved')").scalar_one()
        store.dispose()

    minimum = 1 + -(-args.dealers // 100) + args.dealers * max(1, -(-args.vehicles // 200)) + live
    print(f"\nsync vs lean: {args.dealers} dealers x {args.vehicles} vehicles ({vehicles} stored, {live} live), "
          f"added delay {args.delay_ms:g} ms per call, {os.cpu_count()} cores")
    header = (f"{'':<22}{'wall s':>8}{'veh/s':>8}{'calls':>8}{'calls/s':>9}{'CPU s':>8}{'CPU ms/call':>12}"
              f"{'RSS MiB':>9}{'calls/min':>10}{'runs':>6}{'exit':>5}")
    print(header)
    for name, row in rows.items():
        calls = len(row["calls"])
        row.update(calls_n=calls, vps=vehicles / row["wall"], cps=calls / row["wall"],
                   cpu_ms=row["cpu"] * 1000 / max(calls, 1))
        print(f"{name:<22}{row['wall']:>8.1f}{row['vps']:>8.0f}{calls:>8}{row['cps']:>9.0f}{row['cpu']:>8.1f}"
              f"{row['cpu_ms']:>12.2f}{row['rss_mib']:>9.0f}"
              f"{(f'{calls / minimum:.2f}' if not args.pipeline else '-'):>10}{row['runs']:>6}"
              f"{row['exit']:>5}")
    if "lean loader" in rows:
        lean, ours = rows["lean loader"], rows["dealer-pipeline sync"]
        print(f"{'ratio sync / lean':<22}{ours['wall'] / lean['wall']:>8.2f}{ours['vps'] / lean['vps']:>8.2f}"
              f"{'':>8}{ours['cps'] / lean['cps']:>9.2f}{ours['cpu'] / lean['cpu']:>8.2f}"
              f"{ours['cpu_ms'] / lean['cpu_ms']:>12.2f}{ours['rss_mib'] / lean['rss_mib']:>9.2f}")
    kinds = {name: {} for name in rows}
    for name, row in rows.items():
        for call in row["calls"]:
            kind = classify_call(call["path"])
            kinds[name][kind] = kinds[name].get(kind, 0) + 1
    print(f"calls by kind: {json.dumps(kinds)}; minimum {minimum}")
    for name, row in rows.items():
        stamps = sorted(call["ts"] for call in row["calls"])
        if stamps:
            first, last = stamps[0] - row["epoch"], stamps[-1] - row["epoch"]
            print(f"{name}: first call at {first:.1f} s, last at {last:.1f} s, {row['wall'] - last:.1f} s after it; "
                  f"{len(stamps) / max(last - first, 1e-9):.0f} calls/s between the first and the last")
    print("sync's Dagster steps (runs, seconds from first to last event): "
          + ", ".join(f"{key} ({runs}) {seconds:.1f}" for key, runs, seconds in steps))
    if args.pipeline:
        print_stages(steps, rows["dealer-pipeline sync"])
    print(f"outputs: {workdir}")
    if args.profile:
        subprocess.run([sys.executable, str(ROOT / "bench" / "profile_summary.py"), args.profile], check=False)
    return 0 if all(row["exit"] == 0 for row in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
