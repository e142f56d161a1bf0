"""Photo checks before publishing: reachable, JPG/PNG/WEBP by their bytes, at least 640x360.

A target downloads each photo once and drops the ones it cannot use (Autocosmos suspends a
publication left with none), so photos are checked first and only good ones are sent. Only
the start of each image is read: Pillow's `Image.open` parses the header lazily, so format
and size come from the first few kilobytes, never a full download. Results are cached per
URL in `photo_checks`, so a photo is fetched once per `max_age`, not once per run.
"""

from __future__ import annotations

import io
import ipaddress
import logging
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Mapping
from urllib.parse import urljoin, urlsplit

import requests
import sqlalchemy as sa
from PIL import Image, UnidentifiedImageError

from dealer_pipeline.http import new_session
from dealer_pipeline.settings import is_loopback_host
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.repository import upsert
from dealer_pipeline.store.schema import photo_checks
from dealer_pipeline.store.types import utcnow

log = logging.getLogger(__name__)

MIN_WIDTH, MIN_HEIGHT = 640, 360
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
CHUNK_BYTES = 16 * 1024
MAX_HEADER_BYTES = 1024 * 1024
MAX_REDIRECTS = 5
TOTAL_SECONDS = 30.0


class Refused(Exception):
    """The photo's URL may not be fetched (a non-public address, too many redirects, ...)."""


def loopback_hosts(base_urls: Iterable[str]) -> frozenset[str]:
    """`host:port` of the base URLs that point at this machine (the sandbox): its media host."""
    hosts = set()
    for url in base_urls:
        host = urlsplit(url).hostname
        if is_loopback_host(host):
            hosts.add(_host_port(url))
    return frozenset(hosts)


def _host_port(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"


def _not_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_host(url: str, allowed_hosts: frozenset[str]) -> None:
    """Raise `Refused` unless every address `url`'s host resolves to is public (or it is allowed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused("not an absolute http(s) URL")
    if _host_port(url) in allowed_hosts:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"host {parts.hostname!r} does not resolve ({type(exc).__name__})") from None
    for *_rest, sockaddr in infos:
        if _not_public(sockaddr[0]):
            raise Refused(f"host {parts.hostname!r} resolves to {sockaddr[0]}, not a public address")


def _check_peer(response: requests.Response, url: str, allowed_hosts: frozenset[str]) -> None:
    """The address actually connected to is public too (a name may resolve differently twice)."""
    if _host_port(url) in allowed_hosts:
        return
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is not None and _not_public(sock.getpeername()[0]):
        raise Refused(f"connected to {sock.getpeername()[0]}, not a public address")


@dataclass(frozen=True)
class PhotoCheck:
    url: str
    ok: bool
    http_status: int | None
    image_format: str | None
    width: int | None
    height: int | None
    reason: str | None
    checked_at: datetime

    def row(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def judge(url: str, status: int | None, image_format: str | None, size: tuple[int, int] | None,
          now: datetime, error: str | None = None) -> PhotoCheck:
    """The verdict on one photo from what its download showed."""
    width, height = size if size else (None, None)
    reason = error
    if reason is None and image_format not in ACCEPTED_FORMATS:
        reason = f"format {image_format or 'unknown'} is not JPG, PNG or WEBP"
    if reason is None and ((width or 0) < MIN_WIDTH or (height or 0) < MIN_HEIGHT):
        reason = f"{width}x{height} is smaller than {MIN_WIDTH}x{MIN_HEIGHT}"
    return PhotoCheck(url, reason is None, status, image_format, width, height, reason, now)


def _sniff(response: requests.Response, max_bytes: int, deadline: float) -> tuple[str | None, tuple[int, int] | None]:
    """Read chunks until Pillow can tell the format and size (or `max_bytes` were read, or the
    deadline passed). A header claiming more pixels than Pillow accepts raises `Refused`."""
    buffer = bytearray()
    while chunk := response.raw.read1(CHUNK_BYTES):  # what has arrived, so a trickle meets the deadline
        buffer += chunk
        found = _identify(bytes(buffer))
        if found[0] is not None:
            return found
        if len(buffer) >= max_bytes:
            break
        if time.monotonic() > deadline:
            raise Refused("no image header before the deadline")
    return _identify(bytes(buffer))


def _identify(data: bytes) -> tuple[str | None, tuple[int, int] | None]:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format, image.size
    except Image.DecompressionBombError as exc:
        raise Refused(f"decompression bomb: {exc}"[:200]) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None, None


class PhotoChecker:
    """Checks photo URLs over the network, with results cached in the store. One checker may serve
    several dealers at once (a ranged publishing run): they share its `workers` threads and session."""

    def __init__(self, engine: sa.Engine, *, max_age: timedelta = timedelta(hours=24), workers: int = 8,
                 timeout: tuple[float, float] = (5.0, 20.0), session: requests.Session | None = None,
                 max_header_bytes: int = MAX_HEADER_BYTES, total_seconds: float = TOTAL_SECONDS,
                 allowed_hosts: frozenset[str] = frozenset()) -> None:
        self.engine = engine
        self.max_age = max_age
        self.workers = workers
        self.timeout = timeout
        self.session = session or new_session(pool_size=max(workers, 4))
        # requests reads the proxy settings from the environment on every call, which was half of a
        # photo check's CPU: they are resolved once per scheme and host here (`_environment`) instead.
        self._environment_source = requests.Session()
        self.session.trust_env = False
        self._environments: dict[tuple[str, str], dict] = {}
        self.max_header_bytes = max_header_bytes
        self.total_seconds = total_seconds
        self.allowed_hosts = allowed_hosts
        self.fetched = 0
        self.cache_hits = 0
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        self.session.close()
        self._environment_source.close()

    def _environment(self, url: str) -> dict:
        """The proxies and CA bundle requests would take from the environment for `url`'s host."""
        key = urlsplit(url)[:2]
        found = self._environments.get(key)
        if found is None:
            resolved = self._environment_source.merge_environment_settings(url, {}, None, None, None)
            found = self._environments[key] = {"proxies": resolved["proxies"], "verify": resolved["verify"]}
        return found

    def _workers(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="photo-check")
            return self._pool

    def fetch(self, url: str) -> PhotoCheck:
        """The verdict on `url`; every failure (network, refusal, odd bytes) is the verdict's reason."""
        now = utcnow()
        try:
            return self._fetch(url, now)
        except Refused as exc:
            return judge(url, None, None, None, now, f"refused: {exc}")
        except requests.RequestException as exc:
            return judge(url, None, None, None, now, f"unreachable: {type(exc).__name__}")
        except Exception as exc:  # noqa: BLE001 - a malformed URL or odd bytes fail this photo, not the dealer
            log.warning("photo check of one URL failed: %s", type(exc).__name__)
            reason = f"could not be checked: {type(exc).__name__}: {exc}"[:300].replace("\x00", "\\x00")
            return judge(url, None, None, None, now, reason)

    def _fetch(self, url: str, now: datetime) -> PhotoCheck:
        deadline = time.monotonic() + self.total_seconds
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            check_host(current, self.allowed_hosts)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Refused(f"no answer within {self.total_seconds:g} s")
            timeout = (min(self.timeout[0], remaining), min(self.timeout[1], remaining))
            with self.session.get(current, stream=True, timeout=timeout, allow_redirects=False,
                                  **self._environment(current)) as response:
                _check_peer(response, current, self.allowed_hosts)
                if response.is_redirect:
                    current = urljoin(current, response.headers["Location"])
                    continue
                if response.status_code != 200:
                    return judge(url, response.status_code, None, None, now, f"HTTP {response.status_code}")
                image_format, size = _sniff(response, self.max_header_bytes, deadline)
                if image_format is None:
                    return judge(url, 200, None, None, now, "not an image Pillow recognises")
                return judge(url, 200, image_format, size, now)
        raise Refused(f"more than {MAX_REDIRECTS} redirects")

    def check(self, urls: Iterable[str]) -> dict[str, PhotoCheck]:
        """A verdict for every URL: cached ones younger than `max_age`, the rest fetched and stored."""
        wanted = list(dict.fromkeys(u for u in urls if isinstance(u, str)))
        storable = [u for u in wanted if "\x00" not in u]  # PostgreSQL text cannot hold NUL
        found = self._cached(storable)
        missing = [u for u in wanted if u not in found]
        fresh = list(self._workers().map(self.fetch, missing)) if missing else []
        with self._lock:
            self.cache_hits += len(found)
            self.fetched += len(fresh)
        if fresh:
            with transaction(self.engine) as conn:
                upsert(conn, photo_checks, [c.row() for c in fresh if "\x00" not in c.url])
            found.update({c.url: c for c in fresh})
        return found

    def _cached(self, urls: list[str]) -> dict[str, PhotoCheck]:
        cutoff = utcnow() - self.max_age
        found: dict[str, PhotoCheck] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(urls), 1000):
                stmt = sa.select(photo_checks).where(photo_checks.c.url.in_(urls[start:start + 1000]),
                                                     photo_checks.c.checked_at >= cutoff)
                for row in conn.execute(stmt).mappings():
                    found[row["url"]] = PhotoCheck(**{k: row[k] for k in PhotoCheck.__dataclass_fields__})
        return found


def split_photos(urls: Iterable[str], checks: Mapping[str, PhotoCheck]) -> tuple[list[str], list[dict]]:
    """(usable URLs in order, dropped ones with why) for one vehicle's photo list."""
    kept: list[str] = []
    dropped: list[dict] = []
    for url in dict.fromkeys(urls):
        check = checks.get(url)
        if check is not None and check.ok:
            kept.append(url)
        else:
            dropped.append({"url": url, "reason": check.reason if check else "not checked"})
    return kept, dropped
