"""A demo-sized instance served by `dagster-webserver`, and a Chromium page on it.

The instance holds what `dealer-pipeline sync --no-publish` leaves after two syncs against a small
sandbox (so the canonical asset has two materializations to plot). Its `dagster.yaml` launches runs
directly (no daemon needed to dequeue them). The browser is Debian's `/usr/bin/chromium`, installed by
`make test` when missing; Playwright never downloads one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests

from dealer_pipeline.paths import project_root
from dealer_pipeline.sandbox.runner import free_port, start_sandbox

CHROMIUM = "/usr/bin/chromium"
INSTANCE_YAML = """\
telemetry:
  enabled: false
run_coordinator:
  module: dagster._core.run_coordinator
  class: DefaultRunCoordinator
"""


def screenshot_dir() -> Path:
    """Where the browser test leaves its screenshots (README: `test-artifacts/screenshots/`)."""
    configured = os.environ.get("DEALER_PIPELINE_SCREENSHOTS")
    path = Path(configured) if configured else project_root() / "test-artifacts" / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="package")
def ui_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The environment of a demo-sized instance: DAGSTER_HOME, the store and the sandbox it syncs from."""
    home = tmp_path_factory.mktemp("ui-dagster-home")
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    cli = str(Path(sys.executable).parent / "dealer-pipeline")
    with start_sandbox(seed=7, dealers=2, vehicles=10, dealers_file=home / "dealers.yaml") as sandbox:
        env = {**os.environ, **sandbox.env(), "DAGSTER_HOME": str(home),
               "DEALER_PIPELINE_DATABASE_URL": f"sqlite:///{home / 'store.sqlite'}"}
        for args in (["sync", "--no-publish"], ["sync", "--no-publish", "--source", "webmotors"]):
            synced = subprocess.run([cli, *args], env=env, capture_output=True, text=True, timeout=600)
            assert synced.returncode == 0, synced.stdout[-3000:] + synced.stderr[-3000:]
        yield env


@pytest.fixture(scope="package")
def webserver(ui_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`dagster-webserver` on a free loopback port over the instance; its base URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("webserver") / "webserver.log"
    argv = [str(Path(sys.executable).parent / "dagster-webserver"), "-w", str(project_root() / "workspace.yaml"),
            "-h", "127.0.0.1", "-p", str(port)]
    with log.open("w") as out:
        server = subprocess.Popen(argv, cwd=project_root(), env=ui_env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base, server, log)
        _greeting_seen(base)
        yield base
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _greeting_seen(base: str) -> None:
    """Tell the webserver its "Join the Dagster community" greeting was seen (what its Skip button does), so it
    never opens over a test: dismissing it mid-test also closes whatever popover the test had open."""
    answer = requests.post(f"{base}/graphql", json={"query": "mutation { setNuxSeen }"}, timeout=30)
    assert answer.status_code == 200 and answer.json().get("data", {}).get("setNuxSeen") is not None, answer.text
    shown = requests.post(f"{base}/graphql", json={"query": "{ shouldShowNux }"}, timeout=30).json()
    assert shown["data"]["shouldShowNux"] is False, shown


def _wait_until_serving(base: str, server: subprocess.Popen[bytes], log: Path, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"dagster-webserver exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if requests.get(f"{base}/server_info", timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(1)
    raise AssertionError(f"dagster-webserver did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="package")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"{CHROMIUM} is missing: `make browser` (or `make test`) installs it with apt"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, webserver: str):  # type: ignore[no-untyped-def]
    """A fresh page. The webserver was told its community greeting was seen; should it appear anyway, it is
    dismissed."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, base_url=webserver)
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.add_locator_handler(page.get_by_text("Join the Dagster community"),
                             lambda: page.get_by_role("button", name="Skip").click())
    yield page
    context.close()
