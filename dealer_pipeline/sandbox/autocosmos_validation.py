"""Validation of an Autocosmos publication body (api/autocosmos.md 2.3).

Returns every problem at once as an `Errors` map keyed by field path (`Precio.Monto`,
`Fotos[2]`), the way the vendor's ProblemDetails does, so a client sees all of its
mistakes in one answer instead of one per round trip.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Protocol
from urllib.parse import urlsplit

EXTERNAL_ID = re.compile(r"^[A-Za-z0-9\-_.~]{2,255}$")
HREF = re.compile(r"^(?:https?://[^/]+)?(?:/[^/]+)*?/v3/(marcas|modelos|versiones|carrocerias)/(\d+)/?$")
COLOR_MAX = 50

# ISO 4217 active codes: `Moneda` must be one of them, not merely three letters.
ISO_4217 = frozenset(
    """AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF
    GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP
    LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB
    PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL
    THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XOF XPF YER ZAR ZMW
    ZWL""".split()
)

REQUIRED = "El campo es obligatorio."

FIELDS = (
    "ExternalId", "RefStock", "Activa", "OperadorResponsable", "Marca", "Modelo", "Version", "VersionYear",
    "Propulsion", "Transmision", "Carroceria", "Kilometraje", "Color", "Descripcion", "Precio", "Fotos",
    "Locacion",
)


class CatalogueRefs(Protocol):
    """What validation needs from the catalogue: do hrefs exist and belong together."""

    def marca_exists(self, marca_id: int) -> bool: ...

    def modelo_marca(self, modelo_id: int) -> int | None: ...

    def version_modelo(self, version_id: int) -> int | None: ...

    def carroceria_exists(self, carroceria_id: int) -> bool: ...

    def carroceria_matches(self, text: str) -> bool: ...


@dataclass(frozen=True)
class Href:
    kind: str
    id: int


def parse_href(value: object) -> Href | None:
    """`/v3/marcas/603` (or the same path in an absolute URL) as (kind, id); else None."""
    if not isinstance(value, str):
        return None
    match = HREF.match(value.strip())
    return Href(match.group(1), int(match.group(2))) if match else None


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return (_is_int(value) or isinstance(value, float)) and math.isfinite(value)  # type: ignore[arg-type]


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class _Errors(dict[str, list[str]]):
    def add(self, path: str, message: str) -> None:
        self.setdefault(path, []).append(message)


def validate_publication(
    body: Any, *, catalogue: CatalogueRefs, is_operator: Callable[[str], bool]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Check a full body; return (normalised fields, errors). Errors empty means valid.

    Normalised: only the contract's fields, `Activa` defaulted to true, `Color` cut to 50.
    """
    errors = _Errors()
    if not isinstance(body, dict):
        errors.add("$", "El cuerpo debe ser un objeto JSON.")
        return {}, errors
    out: dict[str, Any] = {name: body[name] for name in FIELDS if name in body}

    external_id = body.get("ExternalId")
    if external_id is None:
        errors.add("ExternalId", REQUIRED)
    elif not isinstance(external_id, str) or not EXTERNAL_ID.match(external_id):
        errors.add("ExternalId", "Debe tener entre 2 y 255 caracteres A-Z a-z 0-9 - _ . ~")

    _optional_string(errors, body, "RefStock", max_len=25)
    _optional_string(errors, body, "Descripcion", max_len=2000)
    for name in ("Propulsion", "Transmision"):
        _optional_string(errors, body, name)

    activa = body.get("Activa")
    if activa is None:
        out["Activa"] = True
    elif not isinstance(activa, bool):
        errors.add("Activa", "Debe ser true o false.")

    operador = body.get("OperadorResponsable")
    if operador is not None:
        if not isinstance(operador, str) or len(operador) > 50:
            errors.add("OperadorResponsable", "Debe ser un e-mail de hasta 50 caracteres.")
        elif not is_operator(operador):
            errors.add("OperadorResponsable", "No es un operador de la agencia.")

    _catalogue_refs(errors, body, catalogue)

    year = body.get("VersionYear")
    if year is None:
        errors.add("VersionYear", REQUIRED)
    elif not _is_int(year) or not 1908 <= year <= 2050:
        errors.add("VersionYear", "Debe ser un entero entre 1908 y 2050.")

    km = body.get("Kilometraje")
    if km is None:
        errors.add("Kilometraje", REQUIRED)
    elif not _is_int(km) or not 0 <= km <= 999000:
        errors.add("Kilometraje", "Debe ser un entero entre 0 y 999000.")

    color = body.get("Color")
    if color is None:
        errors.add("Color", REQUIRED)
    elif not isinstance(color, str) or not color.strip():
        errors.add("Color", "Debe ser un texto no vacío.")
    else:
        out["Color"] = color[:COLOR_MAX]

    _precio(errors, body.get("Precio"))
    _fotos(errors, body.get("Fotos"))

    locacion = body.get("Locacion")
    if locacion is not None and not isinstance(locacion, dict):
        errors.add("Locacion", "Debe ser un objeto {Region, Ciudad, Direccion}.")
    return out, dict(errors)


def _optional_string(errors: _Errors, body: dict[str, Any], name: str, max_len: int | None = None) -> None:
    value = body.get(name)
    if value is None:
        return
    if not isinstance(value, str):
        errors.add(name, "Debe ser un texto.")
    elif max_len is not None and len(value) > max_len:
        errors.add(name, f"Debe tener como máximo {max_len} caracteres.")


def _catalogue_refs(errors: _Errors, body: dict[str, Any], catalogue: CatalogueRefs) -> None:
    refs: dict[str, Href | None] = {}
    for name, kind in (("Marca", "marcas"), ("Modelo", "modelos"), ("Version", "versiones")):
        value = body.get(name)
        if value is None:
            errors.add(name, REQUIRED)
            continue
        if _is_int(value):
            value = f"/v3/{kind}/{value}"
        if not isinstance(value, str) or not value.strip():
            errors.add(name, "Debe ser un id, una URL del catálogo, un nombre o un codename.")
            continue
        href = parse_href(value)
        if href is not None and href.kind != kind:
            errors.add(name, f"Se esperaba una referencia /v3/{kind}/{{id}}.")
            continue
        refs[name] = href

    marca, modelo, version = refs.get("Marca"), refs.get("Modelo"), refs.get("Version")
    if marca is not None and not catalogue.marca_exists(marca.id):
        errors.add("Marca", "Marca inexistente en el catálogo.")
        marca = None
    if modelo is not None:
        owner = catalogue.modelo_marca(modelo.id)
        if owner is None:
            errors.add("Modelo", "Modelo inexistente en el catálogo.")
            modelo = None
        elif marca is not None and owner != marca.id:
            errors.add("Modelo", "El modelo no pertenece a la marca.")
    if version is not None:
        owner = catalogue.version_modelo(version.id)
        if owner is None:
            errors.add("Version", "Versión inexistente en el catálogo.")
        elif modelo is not None and owner != modelo.id:
            errors.add("Version", "La versión no pertenece al modelo.")

    carroceria = body.get("Carroceria")
    version_is_href = version is not None
    if carroceria is None:
        if not version_is_href and "Version" in refs:
            errors.add("Carroceria", "Obligatoria cuando Version no es una referencia /v3/versiones/{id}.")
        return
    if not isinstance(carroceria, str) or not carroceria.strip():
        errors.add("Carroceria", "Debe ser un texto.")
        return
    href = parse_href(carroceria)
    known = catalogue.carroceria_exists(href.id) if href and href.kind == "carrocerias" else catalogue.carroceria_matches(carroceria)
    if not known:
        errors.add("Carroceria", "Carrocería desconocida (ver /v3/carrocerias/bestmatch).")


def _precio(errors: _Errors, precio: Any) -> None:
    if precio is None:
        errors.add("Precio", REQUIRED)
        return
    if not isinstance(precio, dict):
        errors.add("Precio", "Debe ser un objeto {Moneda, Monto}.")
        return
    moneda = precio.get("Moneda")
    if moneda is None:
        errors.add("Precio.Moneda", REQUIRED)
    elif not isinstance(moneda, str) or moneda not in ISO_4217:
        errors.add("Precio.Moneda", "Debe ser un código de moneda ISO 4217 de 3 letras.")
    monto = precio.get("Monto")
    if monto is None:
        errors.add("Precio.Monto", REQUIRED)
    elif not _is_number(monto) or monto <= 0:
        errors.add("Precio.Monto", "Debe ser un número mayor que 0.")


def _fotos(errors: _Errors, fotos: Any) -> None:
    if fotos is None:
        errors.add("Fotos", REQUIRED)
        return
    if not isinstance(fotos, list):
        errors.add("Fotos", "Debe ser una lista de URLs.")
        return
    for index, url in enumerate(fotos):
        if not _is_http_url(url):
            errors.add(f"Fotos[{index}]", "Debe ser una URL http(s) absoluta.")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge recursively, `null` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
