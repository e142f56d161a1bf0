"""`/media`: real image bytes, decoded here by Pillow, of the requested size and format."""

from __future__ import annotations

import io

import pytest
import requests
from PIL import Image

from dealer_pipeline.sandbox.media import image_spec
from dealer_pipeline.sandbox.runner import SandboxHandle


def fetch(url: str) -> Image.Image:
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 200, url
    image = Image.open(io.BytesIO(answer.content))
    image.load()
    return image


@pytest.mark.parametrize("ext,fmt,mime", [("jpg", "JPEG", "image/jpeg"), ("png", "PNG", "image/png"),
                                          ("webp", "WEBP", "image/webp")])
def test_exact_size_and_format(sandbox: SandboxHandle, ext: str, fmt: str, mime: str) -> None:
    url = f"{sandbox.base_url}/media/some-photo.{ext}?w=641&h=361"
    assert requests.get(url, timeout=10).headers["content-type"] == mime
    image = fetch(url)
    assert image.format == fmt and image.size == (641, 361)


def test_native_sizes_and_missing_names(sandbox: SandboxHandle) -> None:
    assert fetch(f"{sandbox.base_url}/media/front-320x240.jpg").size == (320, 240)
    assert fetch(f"{sandbox.base_url}/media/anything.jpg").size == (1024, 768)
    assert requests.get(f"{sandbox.base_url}/media/missing-front.jpg", timeout=10).status_code == 404
    assert requests.get(f"{sandbox.base_url}/media/photo.gif", timeout=10).status_code == 404
    assert requests.get(f"{sandbox.base_url}/media/photo.jpg?w=0&h=10", timeout=10).status_code == 400


def test_autotrader_resize_placeholder_fits_without_upscaling(sandbox: SandboxHandle) -> None:
    normal, small = "0" * 30 + "0c", "0" * 30 + "04"
    assert image_spec(normal).width == 1024 and image_spec(small).width == 320
    assert fetch(f"{sandbox.base_url}/media/w800/{normal}.jpg").size == (800, 600)
    assert fetch(f"{sandbox.base_url}/media/800x300/{normal}.jpg").size == (400, 300)
    assert fetch(f"{sandbox.base_url}/media/w800/{small}.jpg").size == (320, 240)
    assert fetch(f"{sandbox.base_url}/media/{{resize}}/{normal}.jpg").size == (1024, 768)
    assert requests.get(f"{sandbox.base_url}/media/w800/{'0' * 30}02.jpg", timeout=10).status_code == 404
    assert requests.get(f"{sandbox.base_url}/media/big/{normal}.jpg", timeout=10).status_code == 400


def test_generated_stock_photos_resolve_some_small_or_missing(sandbox: SandboxHandle) -> None:
    token = requests.post(f"{sandbox.url('autotrader')}/authenticate",
                          data={"key": "sandbox-at-key", "secret": "sandbox-at-secret"}, timeout=10).json()["access_token"]
    hrefs = []
    for dealer in sandbox.world()["autotrader"]:
        records = requests.get(f"{sandbox.url('autotrader')}/stock", headers={"Authorization": f"Bearer {token}"},
                               params={"advertiserId": dealer["advertiser_id"], "pageSize": 200, "media": "true"},
                               timeout=10).json()["results"]
        hrefs += [image["href"] for record in records for image in record["media"]["images"]]
    kinds = {"normal": 0, "small": 0, "missing": 0}
    for href in hrefs:
        spec = image_spec(href.rsplit("/", 1)[1].removesuffix(".jpg"))
        kinds["missing" if spec.missing else "small" if spec.width < 640 else "normal"] += 1
    assert kinds["normal"] > 0.8 * len(hrefs) and kinds["small"] > 0 and kinds["missing"] > 0
    checked = {"normal": False, "small": False, "missing": False}
    for href in hrefs:
        spec = image_spec(href.rsplit("/", 1)[1].removesuffix(".jpg"))
        kind = "missing" if spec.missing else "small" if spec.width < 640 else "normal"
        if checked[kind]:
            continue
        answer = requests.get(href.replace("{resize}", "w800"), timeout=10)
        if kind == "missing":
            assert answer.status_code == 404
        else:
            image = Image.open(io.BytesIO(answer.content))
            assert image.format == "JPEG"
            assert (image.width >= 640) == (kind == "normal")
        checked[kind] = True
    assert all(checked.values())
