"""`/media`: real image bytes for every photo URL the sandbox hands out.

Photo checks downstream (reachable, JPG/PNG/WEBP, at least 640x360) must be real, so every
image href in generated stock resolves here. Two URL forms:

* `/media/{name}.{jpg|jpeg|png|webp}?w=W&h=H` answers an image of exactly W x H (the
  image's native size when not given).
* `/media/{resize}/{name}.{ext}` is Autotrader's form: generated hrefs keep the literal
  `{resize}` placeholder (api/autotrader.md 1.1); a client replaces it with `w800`, `h600`
  or `800x600`, which fits the image inside that box **without upscaling** (a CDN never
  enlarges a small original, so a deliberately small photo stays too small). A literal,
  unreplaced `{resize}` gives the native size.

What an image is follows from its name alone, so nothing has to be remembered:
a name starting with `missing` is 404; a name ending in `-WxH` has that native size; a
32-hex name (generated image ids) is judged by its last byte: 0x00-0x03 missing (404),
0x04-0x0b small (320x240), else a normal photo (1024x768 up to 1600x1200, by the byte).
Any other name is a normal 1024x768 photo. A picture's colours come from its name through a
palette of `SHADES`, so bytes are cached per (shade, size, format): a dealer group's worth of
distinct photo URLs is served without encoding each one again (a real CDN serves stored bytes).
"""

from __future__ import annotations

import functools
import hashlib
import io
import re
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SMALL_SIZE = (320, 240)
NORMAL_SIZES = ((1024, 768), (1280, 960), (1600, 1200), (800, 600))
MAX_SIDE = 4000
FORMATS = {"jpg": ("JPEG", "image/jpeg"), "jpeg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png"),
           "webp": ("WEBP", "image/webp")}
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_SIZED = re.compile(r"-(\d{1,4})x(\d{1,4})$")
_RESIZE = re.compile(r"^(?:w(\d{1,4})|h(\d{1,4})|(\d{1,4})x(\d{1,4}))$")

# Last-byte ranges of generated image ids (see module docstring).
MISSING_BYTES = range(0x00, 0x04)
SMALL_BYTES = range(0x04, 0x0C)
NORMAL_BYTES = range(0x0C, 0x100)


@dataclass(frozen=True)
class ImageSpec:
    missing: bool
    width: int
    height: int


def image_spec(name: str) -> ImageSpec:
    """What the image called `name` is (see module docstring)."""
    if name.startswith("missing"):
        return ImageSpec(True, 0, 0)
    sized = _SIZED.search(name)
    if sized:
        return ImageSpec(False, int(sized.group(1)), int(sized.group(2)))
    if _HEX32.match(name):
        last = int(name[-2:], 16)
        if last in MISSING_BYTES:
            return ImageSpec(True, 0, 0)
        if last in SMALL_BYTES:
            return ImageSpec(False, *SMALL_SIZE)
        return ImageSpec(False, *NORMAL_SIZES[last % len(NORMAL_SIZES)])
    return ImageSpec(False, *NORMAL_SIZES[0])


def image_id(random_hex30: str, kind: str, pick: int) -> str:
    """A 32-hex image id of the given kind ("normal", "small", "missing"); `pick` chooses the byte."""
    byte_range = {"normal": NORMAL_BYTES, "small": SMALL_BYTES, "missing": MISSING_BYTES}[kind]
    return f"{random_hex30}{byte_range[pick % len(byte_range)]:02x}"


SHADES = 16


def render(name: str, width: int, height: int, fmt: str) -> bytes:
    """Encode a simple picture (colours from the name, a frame and bands) of exactly that size."""
    return _render(hashlib.sha256(name.encode()).digest()[0] % SHADES, width, height, fmt)


@functools.lru_cache(maxsize=512)
def _render(shade: int, width: int, height: int, fmt: str) -> bytes:
    from PIL import Image, ImageDraw

    digest = hashlib.sha256(f"shade-{shade}".encode()).digest()
    base = (digest[0], digest[1], digest[2])
    image = Image.new("RGB", (width, height), base)
    draw = ImageDraw.Draw(image)
    accent = (255 - base[0], 255 - base[1], 255 - base[2])
    draw.rectangle((width // 8, height // 8, width - width // 8, height - height // 8), outline=accent,
                   width=max(1, min(width, height) // 60))
    for band in range(4):
        top = height // 3 + band * max(1, height // 24)
        draw.line((width // 5, top, width - width // 5, top), fill=(digest[3 + band],) * 3,
                  width=max(1, height // 80))
    out = io.BytesIO()
    pil_format = FORMATS[fmt][0]
    if pil_format == "JPEG":
        image.save(out, "JPEG", quality=70)
    elif pil_format == "WEBP":
        image.save(out, "WEBP", quality=60, method=0)
    else:
        image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def _fit(spec: ImageSpec, resize: str) -> tuple[int, int] | None:
    if resize in ("{resize}", "%7Bresize%7D"):
        return spec.width, spec.height
    match = _RESIZE.match(resize)
    if not match:
        return None
    w, h, bw, bh = match.groups()
    box_w = int(w or bw or 0) or None
    box_h = int(h or bh or 0) or None
    scale = 1.0
    if box_w:
        scale = min(scale, box_w / spec.width)
    if box_h:
        scale = min(scale, box_h / spec.height)
    return max(1, round(spec.width * scale)), max(1, round(spec.height * scale))


def _not_found(name: str) -> Response:
    return JSONResponse({"error": "not found", "image": name}, status_code=404)


def _split(filename: str) -> tuple[str, str] | None:
    stem, dot, ext = filename.rpartition(".")
    ext = ext.lower()
    if not dot or not stem or ext not in FORMATS:
        return None
    return stem, ext


async def _serve(name: str, ext: str, width: int, height: int) -> Response:
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE):
        return JSONResponse({"error": f"size must be 1..{MAX_SIDE} on each side"}, status_code=400)
    body = await run_in_threadpool(render, name, width, height, ext)
    return Response(body, media_type=FORMATS[ext][1], headers={"Cache-Control": "public, max-age=86400"})


async def media_plain(request: Request) -> Response:
    parts = _split(request.path_params["filename"])
    if parts is None:
        return _not_found(request.path_params["filename"])
    name, ext = parts
    spec = image_spec(name)
    if spec.missing:
        return _not_found(name)
    try:
        width = int(request.query_params.get("w", spec.width))
        height = int(request.query_params.get("h", spec.height))
    except ValueError:
        return JSONResponse({"error": "w and h must be whole numbers"}, status_code=400)
    return await _serve(name, ext, width, height)


async def media_resized(request: Request) -> Response:
    parts = _split(request.path_params["filename"])
    if parts is None:
        return _not_found(request.path_params["filename"])
    name, ext = parts
    spec = image_spec(name)
    if spec.missing:
        return _not_found(name)
    size = _fit(spec, request.path_params["resize"])
    if size is None:
        return JSONResponse({"error": "resize must be wN, hN or WxH"}, status_code=400)
    return await _serve(name, ext, *size)


def build_media_app() -> Starlette:
    return Starlette(routes=[
        Route("/{filename}", media_plain, methods=["GET", "HEAD"]),
        Route("/{resize}/{filename}", media_resized, methods=["GET", "HEAD"]),
    ])
