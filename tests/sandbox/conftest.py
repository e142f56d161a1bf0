"""Sandbox tests that watch deliveries: a receiver stub per test module, emptied before each test."""

from __future__ import annotations

from typing import Iterator

import pytest

from tests.sandbox.receiver_stub import ReceiverStub, receiver_stub


@pytest.fixture(scope="module")
def stub() -> Iterator[ReceiverStub]:
    with receiver_stub() as receiver:
        yield receiver


@pytest.fixture
def fresh_stub(stub: ReceiverStub) -> ReceiverStub:
    with stub.lock:
        stub.received.clear()
        stub.statuses.clear()
    return stub
