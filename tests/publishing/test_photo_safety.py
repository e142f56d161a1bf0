"""The photo checker cannot be turned inward, and no photo can fail a dealer (issue 10).

A real HTTP server on loopback plays the photo host; it counts what reaches it, so a refused
URL is shown to have cost no request. Loopback is what the sandbox's media host is, so here it
is allowed only by name (`allowed_hosts`), as the sandbox's is while it is the vendor.
"""

from __future__ import annotations

import io
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest
import sqlalchemy as sa
from PIL import Image

from dealer_pipeline.publishing.photos import PhotoChecker, loopback_hosts
from dealer_pipeline.store.schema import photo_checks


def _jpeg(size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 120, 150)).save(buffer, "JPEG")
    return buffer.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims `width` x `height` (what a decompression bomb looks like)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64))


class _PhotoHost:
    def __init__(self) -> None:
        self.paths: list[str] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the http.server name
                host.paths.append(self.path)
                if self.path.startswith("/to/"):
                    self.send_response(302)
                    self.send_header("Location", self.path[len("/to/"):].replace("__", "://", 1))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if self.path == "/slow.jpg":
                    self.send_response(200)
                    self.end_headers()
                    for _ in range(100):
                        self.wfile.write(b"\x00")
                        self.wfile.flush()
                        time.sleep(0.1)
                    return
                body = {"/ok.jpg": _jpeg((800, 600)), "/bomb.png": _png_claiming(20000, 20000),
                        "/big.bin": b"\x01" * (4 * 1024 * 1024)}.get(self.path)
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Length", str(len(body or b"")))
                self.end_headers()
                try:
                    self.wfile.write(body or b"")
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def photo_host() -> Iterator[_PhotoHost]:
    host = _PhotoHost()
    yield host
    host.stop()


def test_loopback_private_link_local_and_multicast_addresses_are_refused_unfetched(
    store: sa.Engine, photo_host: _PhotoHost
) -> None:
    checker = PhotoChecker(store)  # nothing allowed: as in production
    try:
        urls = [f"{photo_host.url}/ok.jpg", f"http://localhost:{photo_host.port}/ok.jpg",
                f"http://[::ffff:127.0.0.1]:{photo_host.port}/ok.jpg", "http://[::1]/x.jpg",
                "http://10.1.2.3/x.jpg", "http://192.168.0.10/x.jpg", "http://172.16.5.5/x.jpg",
                "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/x.jpg", "http://224.0.0.1/x.jpg",
                "http://0.0.0.0/x.jpg", "http://100.64.0.1/x.jpg"]
        verdicts = checker.check(urls)
    finally:
        checker.close()
    assert photo_host.paths == []  # not one request reached the loopback host
    for url in urls:
        assert not verdicts[url].ok and verdicts[url].reason.startswith("refused:"), (url, verdicts[url].reason)
        assert verdicts[url].http_status is None and verdicts[url].width is None
    with store.connect() as conn:  # recorded per URL, with nothing read from the address
        stored = dict(conn.execute(sa.select(photo_checks.c.url, photo_checks.c.reason)).all())
    assert set(stored) == set(urls) and all("not a public address" in stored[u] for u in urls)


def test_a_redirect_to_an_inner_address_is_refused_at_that_hop(store: sa.Engine, photo_host: _PhotoHost) -> None:
    allowed = frozenset({f"127.0.0.1:{photo_host.port}"})  # the "sandbox" host, and only it
    checker = PhotoChecker(store, allowed_hosts=allowed)
    try:
        inward = [f"{photo_host.url}/to/http__localhost:{photo_host.port}/ok.jpg",
                  f"{photo_host.url}/to/http__10.0.0.7/ok.jpg",
                  f"{photo_host.url}/to/http__169.254.169.254/latest/"]
        verdicts = checker.check([*inward, f"{photo_host.url}/to//ok.jpg", f"{photo_host.url}/ok.jpg"])
    finally:
        checker.close()
    for url in inward:
        assert not verdicts[url].ok and "not a public address" in verdicts[url].reason
    assert verdicts[f"{photo_host.url}/to//ok.jpg"].ok  # a redirect within the allowed host is followed
    assert verdicts[f"{photo_host.url}/ok.jpg"].ok and verdicts[f"{photo_host.url}/ok.jpg"].width == 800
    assert "/ok.jpg" in photo_host.paths
    assert sum(p.startswith("/to/") for p in photo_host.paths) == 4  # each redirect seen once, never its target


def test_bombs_malformed_urls_slow_and_endless_bodies_fail_the_photo_not_the_dealer(
    store: sa.Engine, photo_host: _PhotoHost
) -> None:
    allowed = frozenset({f"127.0.0.1:{photo_host.port}"})
    checker = PhotoChecker(store, allowed_hosts=allowed, total_seconds=1.5, max_header_bytes=256 * 1024)
    urls = [f"{photo_host.url}/bomb.png", "http://[::1/x.jpg", "http://exa mple.com/\x00.jpg", "ftp://x/y.jpg",
            f"{photo_host.url}/slow.jpg", f"{photo_host.url}/big.bin", f"{photo_host.url}/ok.jpg"]
    started = time.monotonic()
    try:
        verdicts = checker.check(urls)
    finally:
        checker.close()
    assert time.monotonic() - started < 6  # the slow photo is cut at its deadline
    assert "decompression bomb" in verdicts[urls[0]].reason
    assert not verdicts[urls[1]].ok and not verdicts[urls[2]].ok and not verdicts[urls[3]].ok
    assert "deadline" in verdicts[urls[4]].reason or "within" in verdicts[urls[4]].reason
    assert verdicts[urls[5]].reason == "not an image Pillow recognises"
    assert verdicts[urls[6]].ok
    with store.connect() as conn:
        # Every URL but the one with a NUL (no text column holds it; it is judged, not cached).
        assert conn.execute(sa.select(sa.func.count()).select_from(photo_checks)).scalar() == len(urls) - 1


def test_only_loopback_base_urls_make_a_media_host_allowed() -> None:
    assert loopback_hosts(["http://127.0.0.1:8765/autotrader", "http://localhost:9000/webmotors",
                           "https://api.autotrader.co.uk", "http://10.0.0.5:8765/x"]) == frozenset(
        {"127.0.0.1:8765", "localhost:9000"})


def test_the_environment_s_proxy_settings_still_apply_per_host(store: sa.Engine, photo_host: _PhotoHost,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """They are read once per host instead of on every request: a proxy in the environment is used
    (here a closed port, so the photo is unreachable), and a host that `NO_PROXY` names goes direct."""
    allowed = frozenset({f"127.0.0.1:{photo_host.port}"})
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    checker = PhotoChecker(store, allowed_hosts=allowed)
    try:
        proxied = checker.fetch(f"{photo_host.url}/ok.jpg")
    finally:
        checker.close()
    assert not proxied.ok and proxied.reason == "unreachable: ProxyError" and photo_host.paths == []

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    checker = PhotoChecker(store, allowed_hosts=allowed)
    try:
        direct = [checker.fetch(f"{photo_host.url}/ok.jpg") for _ in range(2)]
    finally:
        checker.close()
    assert all(v.ok and v.width == 800 for v in direct) and photo_host.paths == ["/ok.jpg", "/ok.jpg"]
