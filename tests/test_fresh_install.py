"""A newcomer's first ten minutes: what `make demo` installs runs the command the demo ends with."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from dealer_pipeline.paths import project_root


@pytest.mark.slow
def test_the_ui_command_the_demo_prints_exists_after_make_install(tmp_path: Path) -> None:
    """`make demo` installs with `make install` (no dev extras); the demo's last line must run in that venv."""
    venv = tmp_path / "venv"
    root = project_root()
    subprocess.run(["make", "-C", str(root), f"VENV={venv}", "install"], check=True, capture_output=True, timeout=900)
    printed = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "from dealer_pipeline.cli.demo import ui_command; print(ui_command())"],
        check=True, capture_output=True, text=True, timeout=120,
    ).stdout.strip()
    words = shlex.split(printed)
    assert words[:3] == ["cd", str(root), "&&"] and words[3].startswith("DAGSTER_HOME=/")
    executable, args = Path(words[4]), words[5:]
    assert executable == venv / "bin" / "dg" and executable.is_file(), printed
    assert args == ["dev"]
    helped = subprocess.run([str(executable), *args, "--help"], cwd=root, capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0 and "Start a local instance of Dagster" in helped.stdout, helped.stderr
