"""Where the project keeps its local state when nothing else is configured."""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The checkout the package runs from (editable install), else the working directory."""
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").is_file():
        return here
    return Path.cwd().resolve()


def dagster_home() -> Path:
    """`DAGSTER_HOME` if set, else the repo's `dagster_home/`; Dagster needs it absolute."""
    configured = os.environ.get("DAGSTER_HOME")
    if configured:
        return Path(configured).expanduser().resolve()
    return project_root() / "dagster_home"


def ensure_dagster_home() -> Path:
    """Export the default `DAGSTER_HOME` for this process and its children, and create it."""
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(home)
    return home
