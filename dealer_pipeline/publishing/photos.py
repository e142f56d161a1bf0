"""Photo checks before publishing: reachable, JPG/PNG/WEBP by their bytes, at least 640x360.

A target downloads each photo once and drops the ones it cannot use (Autocosmos suspends a
publication left with none), so photos are checked first and only good ones are sent. Only
the start of each image is read: Pillow's `Image.open` parses the header lazily, so format
and size come from the first few kilobytes, never a full download. Results are cached per
URL in `photo_checks`, so a photo is fetched once per `max_age`, not once per run.
"""

from __future__ import annotations

import io
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Mapping
from urllib.parse import urlsplit

import requests
import sqlalchemy as sa
from PIL import Image, UnidentifiedImageError

from dealer_pipeline.http import new_session
from dealer_pipeline.store.engine import transaction
from dealer_pipeline.store.repository import upsert
from dealer_pipeline.store.schema import photo_checks
from dealer_pipeline.store.types import utcnow

log = logging.getLogger(__name__)

MIN_WIDTH, MIN_HEIGHT = 640, 360
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
CHUNK_BYTES = 16 * 1024
MAX_HEADER_BYTES = 1024 * 1024


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


def _sniff(response: requests.Response, max_bytes: int) -> tuple[str | None, tuple[int, int] | None]:
    """Read chunks until Pillow can tell the format and size (or `max_bytes` were read)."""
    buffer = bytearray()
    for chunk in response.iter_content(CHUNK_BYTES):
        buffer += chunk
        try:
            with Image.open(io.BytesIO(bytes(buffer))) as image:
                return image.format, image.size
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            if len(buffer) >= max_bytes:
                break
    try:
        with Image.open(io.BytesIO(bytes(buffer))) as image:
            return image.format, image.size
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        return None, None


class PhotoChecker:
    """Checks photo URLs over the network, with results cached in the store."""

    def __init__(self, engine: sa.Engine, *, max_age: timedelta = timedelta(hours=24), workers: int = 8,
                 timeout: tuple[float, float] = (5.0, 20.0), session: requests.Session | None = None,
                 max_header_bytes: int = MAX_HEADER_BYTES) -> None:
        self.engine = engine
        self.max_age = max_age
        self.workers = workers
        self.timeout = timeout
        self.session = session or new_session(pool_size=max(workers, 4))
        self.max_header_bytes = max_header_bytes
        self.fetched = 0
        self.cache_hits = 0

    def close(self) -> None:
        self.session.close()

    def fetch(self, url: str) -> PhotoCheck:
        now = utcnow()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return judge(url, None, None, None, now, "not an absolute http(s) URL")
        try:
            with self.session.get(url, stream=True, timeout=self.timeout, allow_redirects=True) as response:
                if response.status_code != 200:
                    return judge(url, response.status_code, None, None, now, f"HTTP {response.status_code}")
                image_format, size = _sniff(response, self.max_header_bytes)
                if image_format is None:
                    return judge(url, 200, None, None, now, "not an image Pillow recognises")
                return judge(url, 200, image_format, size, now)
        except requests.RequestException as exc:
            return judge(url, None, None, None, now, f"unreachable: {type(exc).__name__}")

    def check(self, urls: Iterable[str]) -> dict[str, PhotoCheck]:
        """A verdict for every URL: cached ones younger than `max_age`, the rest fetched and stored."""
        wanted = list(dict.fromkeys(u for u in urls if isinstance(u, str)))
        found = self._cached(wanted)
        self.cache_hits += len(found)
        missing = [u for u in wanted if u not in found]
        if missing:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(missing))) as pool:
                fresh = list(pool.map(self.fetch, missing))
            self.fetched += len(fresh)
            with transaction(self.engine) as conn:
                upsert(conn, photo_checks, [c.row() for c in fresh])
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
