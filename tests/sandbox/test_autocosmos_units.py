"""Unit checks of the Autocosmos sandbox's building blocks against the contract's vectors.

The contract tests over HTTP are in `test_autocosmos_contract.py`; these pin the pieces
(canonical string, signatures, photo judgement, merge-patch) where a wrong byte would
otherwise only show up as a confusing 401 or a kept photo.
"""

from __future__ import annotations

import io
import time
from email.utils import formatdate

import pytest
from PIL import Image

from dealer_pipeline.sandbox.autocosmos_signing import (
    ReplayGuard,
    SignatureError,
    body_digest,
    canonical_string,
    signature,
    verify,
)
from dealer_pipeline.sandbox.autocosmos_validation import merge_patch, parse_href
from dealer_pipeline.sandbox.autocosmos_webhooks import notification_signature
from dealer_pipeline.sandbox.photos import judge_image

SECRET = "demo-app-secret-DO-NOT-USE"
V1_PATH = "/v3/versiones/bestmatch?make=bmw&model=serie%203&year=2009&bodystyle=coupe&power=156cv"
V2_BODY = b'{"Precio":{"Moneda":"ARS","Monto":27900000}}'


def test_signing_vector_1_canonical_and_signature() -> None:
    canonical = canonical_string("GET", None, "Thu, 01 Jan 2026 12:00:00 GMT", [], V1_PATH)
    assert canonical == "GET\n\nThu, 01 Jan 2026 12:00:00 GMT\n" + V1_PATH
    assert signature(SECRET, canonical) == "DKy/h9wLb4hENDNCKXSa0Hn7e0rL6OfjaVlN/aO6Gzc="


def test_signing_vector_2_digest_acs_header_and_signature() -> None:
    assert len(V2_BODY) == 44
    digest = body_digest(V2_BODY)
    assert digest == "sha-256=DVbpEiagJYF8ZOW94ywzr81y4MzIB1gSHbijHkCsgjc="
    canonical = canonical_string(
        "PATCH", digest, "Thu, 01 Jan 2026 12:00:05 GMT", [("X-ACS-Request-Id", " 7f0c2a9e ")],
        "/v3/publicaciones/admin@agencia.com.ar/STK-000123",
    )
    assert canonical.splitlines()[3] == "x-acs-request-id:7f0c2a9e"
    assert signature(SECRET, canonical) == "aeTN3bVY9b9+lwGuhNvVtA0JJSZMbP534CBVrTUu7es="


def _vector_2_headers(date: str) -> dict[str, str]:
    digest = body_digest(V2_BODY)
    canonical = canonical_string(
        "PATCH", digest, date, [("x-acs-request-id", "7f0c2a9e")], "/v3/publicaciones/admin@agencia.com.ar/STK-000123"
    )
    return {
        "authorization": f"ACS-HMAC demo-app-key:{signature(SECRET, canonical)}",
        "date": date,
        "digest": digest,
    }


def _verify(headers: dict[str, str], body: bytes = V2_BODY, now: float | None = None):
    return verify(
        method="PATCH",
        path_and_query=["/v3/publicaciones/admin@agencia.com.ar/STK-000123"],
        headers=headers,
        acs_headers=[("x-acs-request-id", "7f0c2a9e")],
        body=body,
        credentials={"demo-app-key": SECRET},
        now=now,
    )


def test_signing_verify_accepts_vector_2_at_its_date() -> None:
    signed = _verify(_vector_2_headers("Thu, 01 Jan 2026 12:00:05 GMT"), now=1767268805.0)
    assert signed.app_key == "demo-app-key"


@pytest.mark.parametrize(
    "mutate, reason",
    [
        (lambda h: h.pop("authorization"), "Authorization"),
        (lambda h: h.update(authorization="ACS-H demo-app-key:abc"), "ACS-HMAC"),
        (lambda h: h.update(authorization=h["authorization"].replace("demo-app-key", "other-key")), "AppKey"),
        (lambda h: h.pop("date"), "Date"),
        (lambda h: h.pop("digest"), "Digest"),
        (lambda h: h.update(digest=body_digest(b"{}")), "Digest"),
        (lambda h: h.update(authorization=h["authorization"][:-4] + "AAA="), "firma"),
    ],
)
def test_signing_verify_rejects(mutate, reason: str) -> None:
    headers = _vector_2_headers("Thu, 01 Jan 2026 12:00:05 GMT")
    mutate(headers)
    with pytest.raises(SignatureError, match=reason):
        _verify(headers, now=1767268805.0)


def test_signing_date_outside_300_seconds_is_refused() -> None:
    headers = _vector_2_headers("Thu, 01 Jan 2026 12:00:05 GMT")
    assert _verify(headers, now=1767268805.0 + 300)
    with pytest.raises(SignatureError, match="300"):
        _verify(headers, now=1767268805.0 + 301)
    with pytest.raises(SignatureError, match="300"):
        _verify(headers, now=1767268805.0 - 301)


def test_signing_replay_guard_remembers_within_window_only() -> None:
    guard = ReplayGuard(window_seconds=10)
    key = ("k", "POST", "/v3/x", "Thu, 01 Jan 2026 12:00:05 GMT", "sha-256=x")
    assert guard.first_time(key, now=100.0)
    assert not guard.first_time(key, now=105.0)
    assert guard.first_time(key[:3] + ("Thu, 01 Jan 2026 12:00:06 GMT", "sha-256=x"), now=105.0)
    assert guard.first_time(key, now=111.0)


def test_webhook_worked_vector() -> None:
    assert (
        notification_signature(
            "example-webhook-secret-0123456789", "3f2a9c1e-5b7d-4e21-9a0f-6c8d2b4e1a70", "1767225600",
            "invitacionagencia_aceptada",
        )
        == "bw2CXwclSHCbQLtZkNC/0R7f43uI+cINh1PH4Ug/21w="
    )


def _image(fmt: str, size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (120, 30, 200)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_photo_judge_accepts_jpg_png_webp_at_minimum_size(fmt: str) -> None:
    assert judge_image(_image(fmt, (640, 360))) == "ok"


@pytest.mark.parametrize(
    "content, reason",
    [
        (_image("JPEG", (639, 360)), "too small"),
        (_image("PNG", (1024, 359)), "too small"),
        (_image("GIF", (800, 600)), "unsupported format GIF"),
        (_image("BMP", (800, 600)), "unsupported format BMP"),
        (b"<html>not found</html>", "not an image"),
    ],
)
def test_photo_judge_rejects(content: bytes, reason: str) -> None:
    assert judge_image(content).startswith(reason)


def test_merge_patch_follows_rfc_7396() -> None:
    target = {"Precio": {"Moneda": "ARS", "Monto": 1}, "Color": "Rojo", "Descripcion": "x"}
    patched = merge_patch(target, {"Precio": {"Monto": 2}, "Descripcion": None, "Kilometraje": 5})
    assert patched == {"Precio": {"Moneda": "ARS", "Monto": 2}, "Color": "Rojo", "Kilometraje": 5}
    assert target["Precio"]["Monto"] == 1  # the original is untouched
    assert merge_patch(target, ["a"]) == ["a"]


def test_parse_href_accepts_paths_and_absolute_urls() -> None:
    assert parse_href("/v3/marcas/603").id == 603
    assert parse_href("https://api.autocosmos.com.ar/v3/versiones/149478").kind == "versiones"
    assert parse_href("/autocosmos/v3/modelos/7").id == 7
    assert parse_href("BMW") is None
    assert parse_href("/v3/marcas/abc") is None


def test_verify_uses_the_real_clock_by_default() -> None:
    date = formatdate(time.time(), usegmt=True)
    assert _verify(_vector_2_headers(date)).app_key == "demo-app-key"
