"""Photo verdicts (AC-PHOTO-1): the rules applied to what a download showed; the network path is in
`test_autocosmos.py::test_ac_photo_1_...`."""

from __future__ import annotations

import io

from PIL import Image

from dealer_pipeline.publishing.photos import judge, split_photos
from dealer_pipeline.store.types import utcnow


def _header(fmt: str, size: tuple[int, int]) -> tuple[str | None, tuple[int, int]]:
    buffer = io.BytesIO()
    Image.new("RGB", size, (90, 120, 150)).save(buffer, fmt)
    with Image.open(io.BytesIO(buffer.getvalue()[:2048])) as image:  # the header alone tells
        return image.format, image.size


def test_ac_photo_1_verdicts() -> None:
    now = utcnow()
    for fmt in ("JPEG", "PNG", "WEBP"):
        detected, size = _header(fmt, (640, 360))
        assert judge("u", 200, detected, size, now).ok, fmt
    gif, size = _header("GIF", (1024, 768))
    assert judge("u", 200, gif, size, now).reason == "format GIF is not JPG, PNG or WEBP"
    narrow = judge("u", 200, *_header("JPEG", (639, 480)), now)
    assert not narrow.ok and narrow.reason == "639x480 is smaller than 640x360"
    assert not judge("u", 200, *_header("PNG", (1024, 359)), now).ok
    assert judge("u", 404, None, None, now, "HTTP 404").reason == "HTTP 404"


def test_ac_photo_1_split_keeps_order_and_flags_the_rest() -> None:
    now = utcnow()
    checks = {"a": judge("a", 200, "JPEG", (800, 600), now), "b": judge("b", 200, "JPEG", (320, 240), now),
              "c": judge("c", 200, "PNG", (1600, 1200), now)}
    kept, dropped = split_photos(["c", "b", "a", "c", "d"], checks)
    assert kept == ["c", "a"]
    assert dropped == [{"url": "b", "reason": "320x240 is smaller than 640x360"}, {"url": "d", "reason": "not checked"}]
