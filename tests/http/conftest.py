from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.http.scripted_vendor import ScriptedVendor


@pytest.fixture
def vendor() -> Iterator[ScriptedVendor]:
    server = ScriptedVendor()
    yield server
    server.stop()
