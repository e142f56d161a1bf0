"""Autocosmos photo processing: download after answering, keep only usable photos (2.4).

The vendor fetches each photo URL once, after the POST/PUT/PATCH has been answered. A
photo is kept only if the download answers 200 with JPG, PNG or WEBP bytes (recognised
from the content, not the URL or Content-Type) of at least 640 x 360. 4xx and connection
errors drop it at once; 5xx are tried twice more, `retry_interval` apart, then dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from dataclasses import dataclass
from typing import Iterable

import httpx
from PIL import Image, UnidentifiedImageError

MIN_WIDTH, MIN_HEIGHT = 640, 360
ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
SERVER_ERROR_RETRIES = 2
VENDOR_RETRY_INTERVAL_SECONDS = 15 * 60.0
DOWNLOAD_TIMEOUT_SECONDS = 10.0
MAX_PHOTO_BYTES = 20 * 1024 * 1024
CONCURRENT_DOWNLOADS = 8


@dataclass(frozen=True)
class PhotoOutcome:
    url: str
    kept: bool
    reason: str  # "ok", or why it was dropped
    attempts: int = 1


def inspect_image(content: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) when the bytes are an image Pillow recognises; else None."""
    try:
        with Image.open(io.BytesIO(content)) as image:
            return image.format or "", image.width, image.height
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def judge_image(content: bytes) -> str:
    """`ok`, or the reason a downloaded body is not an acceptable photo."""
    found = inspect_image(content)
    if found is None:
        return "not an image"
    fmt, width, height = found
    if fmt not in ACCEPTED_FORMATS:
        return f"unsupported format {fmt}"
    if width < MIN_WIDTH or height < MIN_HEIGHT:
        return f"too small {width}x{height} (minimum {MIN_WIDTH}x{MIN_HEIGHT})"
    return "ok"


async def download_photo(
    client: httpx.AsyncClient, url: str, *, retry_interval: float, retries: int = SERVER_ERROR_RETRIES,
    slots: asyncio.Semaphore | None = None,
) -> PhotoOutcome:
    """Fetch one photo under the vendor's rules and judge it.

    `slots` bounds concurrent downloads (not the waits between retries), so a burst of
    publications cannot crowd out the API requests the same process is serving.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            async with slots or contextlib.nullcontext():
                response = await client.get(url, timeout=DOWNLOAD_TIMEOUT_SECONDS, follow_redirects=True)
        except httpx.HTTPError as exc:
            return PhotoOutcome(url, False, f"connection error: {type(exc).__name__}", attempt)
        if response.status_code >= 500:
            if attempt <= retries:
                await asyncio.sleep(retry_interval)
                continue
            return PhotoOutcome(url, False, f"HTTP {response.status_code} after {attempt} attempts", attempt)
        if response.status_code != 200:
            return PhotoOutcome(url, False, f"HTTP {response.status_code}", attempt)
        if len(response.content) > MAX_PHOTO_BYTES:
            return PhotoOutcome(url, False, "too large", attempt)
        verdict = judge_image(response.content)
        return PhotoOutcome(url, verdict == "ok", verdict, attempt)


async def process_photos(
    client: httpx.AsyncClient, urls: Iterable[str], *, retry_interval: float, slots: asyncio.Semaphore | None = None
) -> list[PhotoOutcome]:
    """Judge every URL concurrently; outcomes keep the order the URLs were sent in."""
    return list(await asyncio.gather(
        *(download_photo(client, url, retry_interval=retry_interval, slots=slots) for url in urls)
    ))
