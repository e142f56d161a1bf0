"""Sandbox fixtures: a session-wide small sandbox, and a factory for tests that need their own.

`sandbox` is shared by every test of the session (seed 7, 3 dealers per market x 25 vehicles):
tests that change records, faults or configuration must undo what they did (clear faults, reset
settings) or use `fresh_sandbox`, which starts a sandbox per call and stops it after the test.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest

from dealer_pipeline.sandbox.runner import SandboxHandle, start_sandbox


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxHandle]:
    with start_sandbox(seed=7, dealers=3, vehicles=25) as handle:
        yield handle


@pytest.fixture
def fresh_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., SandboxHandle]]:
    """`fresh_sandbox(**start_sandbox_kwargs)` -> a new sandbox, stopped when the test ends."""
    started: list[SandboxHandle] = []

    def start(**kwargs: Any) -> SandboxHandle:
        kwargs.setdefault("workdir", tmp_path_factory.mktemp("sandbox"))
        handle = start_sandbox(**kwargs)
        started.append(handle)
        return handle

    yield start
    for handle in started:
        handle.stop()
