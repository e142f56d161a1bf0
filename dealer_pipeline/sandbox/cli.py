"""`sandbox serve`: the click command, shared by `dealer-pipeline sandbox serve` and
`python -m dealer_pipeline.sandbox serve` (the latter starts faster: it imports nothing else)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

import click

from dealer_pipeline.sandbox.runtime import CREDENTIAL_ENV, DEFAULT_CREDENTIALS, SandboxConfig

#: Where the sandbox listens by default; the pipeline's default base URLs point here.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def _credential_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for name in reversed(list(DEFAULT_CREDENTIALS)):
        command = click.option(f"--{name.replace('_', '-')}", name, envvar=CREDENTIAL_ENV[name],
                               default=DEFAULT_CREDENTIALS[name], show_default=False,
                               help=f"Accepted {name.replace('_', ' ')} (env {CREDENTIAL_ENV[name]}).")(command)
    return command


def make_serve_command(default_dealers_file: Callable[[], Path] | None = None) -> click.Command:
    """The `serve` command; `default_dealers_file` gives the dealers file written when none is named."""

    @click.command("serve")
    @click.option("--host", default=DEFAULT_HOST, show_default=True)
    @click.option("--port", default=DEFAULT_PORT, show_default=True, type=int)
    @click.option("--seed", default=7, show_default=True, type=int, help="Same seed, same dealers and vehicles.")
    @click.option("--dealers", default=5, show_default=True, type=click.IntRange(0, 100_000),
                  help="Dealers per market (N Autotrader advertisers and N Webmotors dealers).")
    @click.option("--vehicles", default=25, show_default=True, type=click.IntRange(0, 30_000),
                  help="Vehicles per dealer.")
    @click.option("--dealers-file", type=click.Path(dir_okay=False, path_type=Path),
                  help="Write the dealers YAML here (and the Webmotors users' credentials at PATH.env).")
    @click.option("--receiver", "receiver", help="Webhook receiver base URL that notifications are delivered to.")
    @click.option("--token-ttl", type=click.FloatRange(min=0.1), help="Token lifetime in seconds for every vendor.")
    @click.option("--public-url", help="Base URL written into image links (default http://HOST:PORT).")
    @click.option("--at-not-integrated", multiple=True, help="Advertiser id not on the integration (403 A).")
    @click.option("--at-no-stock-sync", multiple=True, help="Advertiser id without the Stock Sync product (403 B).")
    @click.option("--wm-deactivated", multiple=True, help="Webmotors CNPJ whose integrations are deactivated.")
    @click.option("--special-dealers/--no-special-dealers", default=True, show_default=True,
                  help="Give a fixed share of dealers restricted access (403 A/B, deactivated integrations).")
    @click.option("--log-level", default="warning", show_default=True,
                  type=click.Choice(["critical", "error", "warning", "info", "debug"]))
    @_credential_options
    def serve(host: str, port: int, seed: int, dealers: int, vehicles: int, dealers_file: Path | None,
              receiver: str | None, token_ttl: float | None, public_url: str | None, at_not_integrated: tuple[str, ...],
              at_no_stock_sync: tuple[str, ...], wm_deactivated: tuple[str, ...], special_dealers: bool,
              log_level: str, **credentials: str) -> None:
        """Serve the four simulated vendor APIs (Autotrader, Webmotors, Autocosmos, Autochat) on one port."""
        from dealer_pipeline.sandbox.app import build_app
        from dealer_pipeline.sandbox.server import serve as run
        from dealer_pipeline.sandbox.world import SandboxWorld

        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
        base = (public_url or f"http://{shown_host}:{port}").rstrip("/")
        try:
            world = SandboxWorld(seed, dealers, vehicles, media_base=base, not_integrated=at_not_integrated,
                                 no_stock_sync=at_no_stock_sync, wm_deactivated=wm_deactivated,
                                 special_dealers=special_dealers)
        except (KeyError, ValueError) as exc:
            raise click.BadParameter(str(exc).strip("'\"")) from None
        config = SandboxConfig(credentials=dict(credentials), public_url=base)
        if token_ttl is not None:
            config.update({"token_ttl": token_ttl})
        if receiver:
            config.update({"receiver_url": receiver})
        target = dealers_file or (default_dealers_file() if default_dealers_file else None)
        if target is not None:
            env_file = world.write_dealers_file(target)
            click.echo(f"sandbox: dealers file {target} (credentials: source {env_file})", err=True)
        click.echo(f"sandbox: serving {base} (seed {seed}, {dealers} dealers per market x {vehicles} vehicles)",
                   err=True)
        run(build_app(world, config), host=host, port=port, log_level=log_level)

    return serve


def main(argv: list[str] | None = None) -> None:
    @click.group()
    def sandbox() -> None:
        """The dealer_pipeline sandbox."""

    sandbox.add_command(make_serve_command())
    sandbox(args=argv if argv is not None else sys.argv[1:], prog_name="python -m dealer_pipeline.sandbox")
