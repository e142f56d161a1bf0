"""The throwaway Redis survives losing its port between `free_port()` and its own bind."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from dealer_pipeline.sandbox.runner import free_port
from tests.deploy import redis_server
from tests.deploy.redis_server import throwaway_redis


def test_redis_starts_on_a_new_port_when_its_port_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        taken_port = taken.getsockname()[1]
        ports: Iterator[int] = iter([taken_port, free_port()])
        monkeypatch.setattr(redis_server, "free_port", lambda: next(ports))
        with throwaway_redis("pw") as url:
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            assert port != taken_port
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                sock.sendall(b"AUTH pw\r\nPING\r\n")
                assert sock.recv(64).startswith(b"+OK\r\n")
