"""ACS-HMAC signing (api/autocosmos.md 2.1) against the contract's worked vectors, and replay spacing."""

from __future__ import annotations

import email.utils

import requests

from dealer_pipeline.settings import Secret
from dealer_pipeline.vendors.autocosmos import AutocosmosSigner, body_digest, canonical_string, signature

KEY, SECRET = "demo-app-key", Secret("demo-app-secret-DO-NOT-USE")


def _at(date: str) -> float:
    return email.utils.parsedate_to_datetime(date).timestamp()


def _prepared(method: str, url: str, body: bytes | None = None, headers: dict | None = None
              ) -> requests.PreparedRequest:
    return requests.Request(method, url, data=body, headers=headers or {}).prepare()


def test_ac_sign_1_worked_vector_1_get_without_body() -> None:
    date = "Thu, 01 Jan 2026 12:00:00 GMT"
    path = "/v3/versiones/bestmatch?make=bmw&model=serie%203&year=2009&bodystyle=coupe&power=156cv"
    canonical = canonical_string("GET", None, date, [], path)
    assert canonical == f"GET\n\n{date}\n{path}"
    request = _prepared("GET", f"https://api.autocosmos.com.ar{path}")
    AutocosmosSigner(KEY, SECRET, clock=lambda: _at(date)).sign(request)
    assert request.headers["Date"] == date
    assert "Digest" not in request.headers
    assert request.headers["Authorization"] == "ACS-HMAC demo-app-key:DKy/h9wLb4hENDNCKXSa0Hn7e0rL6OfjaVlN/aO6Gzc="


def test_ac_sign_1_worked_vector_2_patch_with_body_and_acs_header() -> None:
    date = "Thu, 01 Jan 2026 12:00:05 GMT"
    body = b'{"Precio":{"Moneda":"ARS","Monto":27900000}}'
    assert len(body) == 44
    assert body_digest(body) == "sha-256=DVbpEiagJYF8ZOW94ywzr81y4MzIB1gSHbijHkCsgjc="
    path = "/v3/publicaciones/admin@agencia.com.ar/STK-000123"
    expected_canonical = ("PATCH\nsha-256=DVbpEiagJYF8ZOW94ywzr81y4MzIB1gSHbijHkCsgjc=\n" + date
                          + "\nx-acs-request-id:7f0c2a9e\n" + path)
    assert canonical_string("PATCH", body_digest(body), date, [("X-ACS-Request-Id", " 7f0c2a9e ")], path) \
        == expected_canonical
    assert signature(SECRET, expected_canonical) == "aeTN3bVY9b9+lwGuhNvVtA0JJSZMbP534CBVrTUu7es="
    request = _prepared("PATCH", f"https://api.autocosmos.com.ar{path}", body, {"X-ACS-Request-Id": "7f0c2a9e"})
    AutocosmosSigner(KEY, SECRET, clock=lambda: _at(date)).sign(request)
    assert request.headers["Digest"] == "sha-256=DVbpEiagJYF8ZOW94ywzr81y4MzIB1gSHbijHkCsgjc="
    assert request.headers["Content-Type"] == "application/merge-patch+json"
    assert request.headers["Authorization"] == "ACS-HMAC demo-app-key:aeTN3bVY9b9+lwGuhNvVtA0JJSZMbP534CBVrTUu7es="


def test_ac_sign_1_identical_post_is_spaced_by_a_second_and_resigned() -> None:
    now = [_at("Thu, 01 Jan 2026 12:00:00 GMT") + 0.4]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    signer = AutocosmosSigner(KEY, SECRET, clock=lambda: now[0], sleep=sleep)
    url = "https://api.autocosmos.com.ar/v3/publicaciones/a@b.com"
    first, second = _prepared("POST", url, b'{"a":1}'), _prepared("POST", url, b'{"a":1}')
    other = _prepared("POST", url, b'{"a":2}')
    signer.sign(first)
    signer.sign(other)  # a different body is a different request: no wait
    assert slept == []
    signer.sign(second)
    assert slept and slept[0] >= 0.99
    assert first.headers["Date"] != second.headers["Date"]
    assert first.headers["Authorization"] != second.headers["Authorization"]
    put_a, put_b = _prepared("PUT", url + "/x", b"{}"), _prepared("PUT", url + "/x", b"{}")
    signer.sign(put_a)
    signer.sign(put_b)  # idempotent: never spaced
    assert len(slept) == 1


def test_signer_repr_hides_the_secret() -> None:
    assert "demo-app-secret" not in repr(AutocosmosSigner(KEY, SECRET))
