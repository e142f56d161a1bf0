"""`dealer-pipeline demo`: the whole pipeline on the embedded defaults, end to end.

Starts the webhook receiver and the sandbox (which delivers its notifications to the
receiver), syncs every sandbox dealer through the Dagster definitions into the embedded
SQLite store in `dagster_home/`, replays a burst of signed notifications and applies them
through the events sensor, publishes, changes published stock (price cuts, a reservation,
a sale, a new vehicle Autocosmos already holds a publication for) and publishes again, and prints a summary. Every run lands in the instance in
`DAGSTER_HOME`, so `dg dev` shows them after; the last line is that exact command. The terminal
shows one line per run; Dagster's event stream stays in the instance (`--verbose` prints it too).
The demo's store is the embedded SQLite file, recreated on every demo (never an operator's database).
"""

from __future__ import annotations

import os
import random
import shlex
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from dealer_pipeline.paths import dagster_home, project_root
from dealer_pipeline.settings import get_settings
from dealer_pipeline.store import migrate
from dealer_pipeline.store.engine import get_engine


def _step(title: str) -> None:
    click.secho(f"\n== {title}", bold=True)


DEMO_STORE = "dealer_pipeline.sqlite"


def _fresh_demo_store() -> str:
    """The embedded SQLite store, recreated: the sandbox's world restarts from its seed each
    time, so a store left by an earlier demo would hold newer versions than the sandbox."""
    path = dagster_home() / DEMO_STORE
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    os.environ["DEALER_PIPELINE_DATABASE_URL"] = url
    get_settings.cache_clear()
    get_engine.cache_clear()
    return url


def _use_sandbox(env: dict[str, str]) -> None:
    os.environ.update(env)
    get_settings.cache_clear()


def _autotrader_vehicles(engine: sa.Engine, limit: int, *, published: bool = False) -> list[dict[str, Any]]:
    """Available Autotrader vehicles; with `published`, only those live on Autocosmos."""
    live = ("AND vehicle_id IN (SELECT vehicle_id FROM publications WHERE target = 'autocosmos' "
            "AND state = 'active') " if published else "")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT source_vehicle_id, dealer_id, price_amount FROM vehicles "
            f"WHERE source = 'autotrader' AND availability = 'available' {live}ORDER BY vehicle_id LIMIT :n"
        ), {"n": limit}).mappings()
        return [dict(row) for row in rows]


def _stock_changes(sandbox: Any, vehicles: list[dict[str, Any]], count: Any, seed: int) -> None:
    """Reservations, sales and price cuts (each price notification delivered twice)."""
    rng = random.Random(seed)
    for i, vehicle in enumerate(vehicles):
        stock_id = vehicle["source_vehicle_id"]
        if i % 5 == 0:
            count("reservation", sandbox.change("autotrader", stock_id, reservation="Reserved"))
        elif i % 7 == 0:
            count("sold", sandbox.control("POST", f"/autotrader/stock/{stock_id}/delete", {"state": "SOLD"}))
        else:
            price = int(vehicle["price_amount"] or 10000) - rng.randrange(100, 900)
            count("price (delivered twice)", sandbox.change("autotrader", stock_id, price=price, duplicate=1))


def _counter() -> tuple[dict[str, int], Any]:
    sent: dict[str, int] = {}

    def count(kind: str, _answer: dict[str, Any]) -> None:
        sent[kind] = sent.get(kind, 0) + 1

    return sent, count


def _burst(sandbox: Any, engine: sa.Engine, size: int) -> dict[str, int]:
    """Changes in the sandbox, each delivering signed notifications to the receiver."""
    sent, count = _counter()
    _stock_changes(sandbox, _autotrader_vehicles(engine, size), count, seed=11)
    world = sandbox.world()
    advertiser = next(d for d in world["autotrader"] if d["on_integration"])
    count("advertiser details", sandbox.control("POST", f"/autotrader/advertisers/{advertiser['advertiser_id']}/change",
                                                {"phone": "0161 555 0199"}))
    count("new stock", sandbox.control("POST", f"/autotrader/advertisers/{advertiser['advertiser_id']}/stock", {}))
    dealer = next((d for d in world["webmotors"] if d["crm_integration"] and d["user_active"]), None)
    if dealer is not None:
        count("webmotors lead", sandbox.control("POST", "/webmotors/leads", {"cnpj": dealer["cnpj"]}))
    agency = next((d["autocosmos_adminmail"] for d in world["webmotors"] if d["autocosmos_adminmail"]), None)
    if agency is not None:
        count("autocosmos agency accepted", sandbox.control("POST", "/autocosmos/invitations/accept",
                                                            {"adminmail": agency}))
    sandbox.settle()
    return sent


def _held_by_autocosmos(sandbox: Any, engine: sa.Engine, dealer_id: str) -> dict[str, Any]:
    """A new vehicle of a dealer on Autocosmos that Autocosmos already holds a publication for, unknown to
    our store (as after a store restored from a backup): its create is answered 409, read back and replaced."""
    from dealer_pipeline.publishing.core import external_id_for

    with engine.connect() as conn:
        agency = conn.execute(sa.text("SELECT account_id FROM publications WHERE target = 'autocosmos' AND "
                                      "state = 'active' AND dealer_id = :d"), {"d": dealer_id}).scalars().first()
    stock = sandbox.control("POST", f"/autotrader/advertisers/{dealer_id.split(':', 1)[1]}/stock", {"images": 3})
    return sandbox.hold_publication(agency, external_id_for(f"autotrader:{stock['stockId']}"))


def _published_changes(sandbox: Any, engine: sa.Engine, size: int) -> dict[str, int]:
    """Changes to stock that is already on the classifieds: updates, suspensions, archives follow; and a new
    vehicle Autocosmos already holds a publication for."""
    sent, count = _counter()
    vehicles = _autotrader_vehicles(engine, size, published=True)
    _stock_changes(sandbox, vehicles, count, seed=12)
    if vehicles:
        count("new stock held by Autocosmos", _held_by_autocosmos(sandbox, engine, vehicles[0]["dealer_id"]))
    sandbox.settle()
    return sent


def ui_command() -> str:
    """The shell command that opens the Dagster UI on this instance, with the `dg` next to this Python."""
    dg_cli = Path(sys.executable).parent / "dg"
    return (f"cd {shlex.quote(str(project_root()))} && DAGSTER_HOME={shlex.quote(str(dagster_home()))} "
            f"{shlex.quote(str(dg_cli))} dev")


@click.command()
@click.option("--dealers", default=3, show_default=True, help="Sandbox dealers per market.")
@click.option("--vehicles", default=25, show_default=True, help="Sandbox vehicles per dealer.")
@click.option("--burst", default=20, show_default=True, help="Vehicles changed in the notification burst.")
@click.option("--verbose", is_flag=True, help="Print Dagster's event stream of every run as well.")
@click.pass_context
def demo(ctx: click.Context, dealers: int, vehicles: int, burst: int, verbose: bool) -> None:
    """Run the whole pipeline on the sandbox and the local store, and print what it did."""
    from dealer_pipeline.cli import quiet  # imports Dagster: only when a command needs it

    verbose = verbose or bool(ctx.find_root().params.get("verbose"))
    quiet.quiet_warnings(verbose)
    from dealer_pipeline.runner.sensor import SensorDriver
    from dealer_pipeline.runner.sync import publish_dealers, sync
    from dealer_pipeline.reporting import summarize
    from dealer_pipeline.sandbox.runner import start_sandbox
    from dealer_pipeline.webhooks.runner import start_receiver

    started = time.monotonic()
    store_url = _fresh_demo_store()
    engine = get_engine()
    migrate.upgrade(engine)
    click.echo(f"store: {store_url} (recreated for the demo; DEALER_PIPELINE_DATABASE_URL is not used)")
    click.echo(f"Dagster instance: {dagster_home()}")
    with ExitStack() as stack:
        _step("starting the webhook receiver and the sandbox")
        receiver = stack.enter_context(start_receiver(env={"DEALER_PIPELINE_DATABASE_URL": store_url}))
        sandbox = stack.enter_context(start_sandbox(
            seed=7, dealers=dealers, vehicles=vehicles, receiver_url=receiver.base_url,
            dealers_file=dagster_home() / "sandbox-dealers.yaml",
        ))
        _use_sandbox(sandbox.env())
        click.echo(f"receiver {receiver.base_url}, sandbox {sandbox.base_url} "
                   f"({dealers} dealers per market x {vehicles} vehicles)")

        instance = stack.enter_context(quiet.instance(verbose))
        _step("syncing every dealer through the Dagster definitions")
        def show(run: Any) -> None:
            click.echo(f"  {'ok    ' if run.success else 'FAILED'} {run.label}" + (f": {run.error}" if run.error else ""))

        report = sync(instance, publish=False, on_run=show)

        _step(f"notification burst ({burst} vehicles changed in the sandbox)")
        for kind, n in _burst(sandbox, engine, burst).items():
            click.echo(f"  {kind:<28} {n}")
        driver = SensorDriver(instance=instance)
        requested = driver.run_until_idle(interval=1, idle_ticks=2, timeout=120)
        click.echo(f"  events sensor: {requested} runs requested, {driver.applied()} events applied")

        _step("publishing to Autocosmos and Autochat, reporting status and leads back to Webmotors")
        publish_dealers(instance, on_run=show, report=report)
        for part in report.unavailable:
            click.echo(f"  {part}: not part of the definitions, skipped")

        _step(f"changes to published stock ({burst // 2} vehicles), applied and published again")
        for kind, n in _published_changes(sandbox, engine, burst // 2).items():
            click.echo(f"  {kind:<28} {n}")
        requested = driver.run_until_idle(interval=1, idle_ticks=2, timeout=120)
        click.echo(f"  events sensor: {requested} more runs requested")
        publish_dealers(instance, on_run=show, report=report)

        _step("summary")
        for line in summarize(engine).lines():
            click.echo(f"  {line}")
    failed = len(report.failed) + sum(1 for run in driver.runs if not run.success)
    click.echo(f"\n{len(report.runs) + len(driver.runs)} Dagster runs ({failed} failed) in "
               f"{time.monotonic() - started:.0f} s. Open the UI on them (then http://127.0.0.1:3000):")
    click.echo(f"  {ui_command()}")
    if failed:
        raise SystemExit(1)
