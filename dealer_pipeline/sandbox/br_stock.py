"""Webmotors-shaped Brazilian dealers and stock hits (api/webmotors.md 2.2), from a `random.Random`."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from dealer_pipeline.sandbox import media
from dealer_pipeline.sandbox.reference import BR_VERSIONS, REFERENCE_YEAR

REFERENCE_DATE = date(REFERENCE_YEAR, 10, 1)
STATUS_WEIGHTS = (("Ativo", 85), ("Vendido", 8), ("Inativo", 7))
CITIES = (("São Paulo", "SP"), ("Campinas", "SP"), ("Rio de Janeiro", "RJ"), ("Belo Horizonte", "MG"),
          ("Curitiba", "PR"), ("Porto Alegre", "RS"), ("Salvador", "BA"), ("Recife", "PE"), ("Goiânia", "GO"),
          ("Florianópolis", "SC"), ("Brasília", "DF"), ("Ribeirão Preto", "SP"))
NAME_STEMS = ("Auto Center", "Veículos", "Multimarcas", "Motors", "Seminovos", "Car Store")
NAME_PREFIXES = ("Paulista", "Atlântica", "Bandeirantes", "Horizonte", "Ipiranga", "Central", "Premium", "Estrela",
                 "Avenida", "Vila Nova", "Serra Azul", "Imperial")
COLOURS = ("Prata", "Preto", "Branco", "Cinza", "Vermelho", "Azul", "Marrom", "Bege", "Verde")
COLOUR_WEIGHTS = (24, 20, 22, 18, 6, 5, 2, 2, 1)
ACCESSORIES = ("Air bag", "Ar-condicionado", "Direção elétrica", "Vidros elétricos", "Travas elétricas", "Alarme",
               "Freios ABS", "Sensor de estacionamento", "Câmera de ré", "Central multimídia", "Bancos de couro",
               "Rodas de liga leve", "Piloto automático", "Teto solar", "Controle de tração", "Computador de bordo",
               "Volante multifuncional", "Faróis de neblina", "Banco com regulagem de altura",
               "Desembaçador traseiro")
DETAILS = ("Único dono, revisões na concessionária.", "Carro muito conservado, pneus novos.",
           "IPVA pago, laudo cautelar aprovado.", "Aceitamos troca e financiamos.",
           "Todas as revisões feitas, manual e chave reserva.", None)


def cnpj_check_digits(base12: str) -> str:
    """The two check digits of a CNPJ (Receita Federal's modulo-11 rule)."""
    def digit(numbers: str, weights: tuple[int, ...]) -> str:
        remainder = sum(int(n) * w for n, w in zip(numbers, weights, strict=True)) % 11
        return "0" if remainder < 2 else str(11 - remainder)

    first = digit(base12, (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2))
    second = digit(base12 + first, (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2))
    return first + second


def format_cnpj(cnpj: str) -> str:
    return f"{cnpj[:2]}.{cnpj[2:5]}.{cnpj[5:8]}/{cnpj[8:12]}-{cnpj[12:]}"


def dealer_fields(rng: random.Random, index: int) -> dict[str, Any]:
    base = f"{rng.randrange(10**7, 10**8):08d}0001"
    cnpj = base + cnpj_check_digits(base)
    city, state = CITIES[rng.randrange(len(CITIES))]
    name = f"{NAME_PREFIXES[rng.randrange(len(NAME_PREFIXES))]} {NAME_STEMS[rng.randrange(len(NAME_STEMS))]}"
    slug = "".join(c for c in f"{name}{index}".lower() if c.isascii() and c.isalnum())
    return {"cnpj": cnpj, "name": name, "slug": slug, "city": city, "state": state,
            "codigo_cliente": str(rng.randrange(10**6, 10**7))}


def _price(rng: random.Random, power_cv: int, fuel: str, body: str, age: float) -> str:
    new_price = 45000 + power_cv * 520 + (60000 if body == "Picape" and fuel == "Diesel" else 0)
    if fuel in ("Elétrico", "Híbrido"):
        new_price += 70000
    value = new_price * (0.9 ** age) * rng.uniform(0.93, 1.07)
    return f"{max(9900, int(round(value / 100.0)) * 100 - 100):.2f}"


def stock_hit(rng: random.Random, *, ad_id: int, media_base: str) -> dict[str, Any]:
    """One hit with every field of api/webmotors.md 2.2."""
    model, version = BR_VERSIONS[rng.randrange(len(BR_VERSIONS))]
    last_year = min(version.year_to or REFERENCE_YEAR, REFERENCE_YEAR)
    year_model = rng.randint(version.year_from, last_year)
    year_manufacture = year_model - (1 if rng.random() < 0.35 and year_model > version.year_from else 0)
    age = max(0.1, REFERENCE_YEAR - year_manufacture + rng.random() * 0.7)
    km = 0 if age < 0.4 and rng.random() < 0.5 else max(100, int(age * rng.gauss(12000, 3500)))
    updated = datetime.combine(REFERENCE_DATE - timedelta(days=rng.randint(1, 120)), time(9), timezone.utc)
    updated += timedelta(seconds=rng.randint(0, 10 * 3600))
    roll = rng.random()
    photos = []
    if roll >= 0.02:
        for _ in range(rng.randint(2, 10)):
            p = rng.random()
            kind = "missing" if p < 0.015 else "small" if p < 0.045 or roll < 0.04 else "normal"
            name = media.image_id(f"{rng.getrandbits(120):030x}", kind, rng.randrange(256))
            ext = rng.choices(("jpg", "png", "webp"), weights=(85, 8, 7))[0]
            photos.append(f"{media_base}/media/{name}.{ext}")
    return {
        "id": ad_id,
        "price": _price(rng, version.power_cv, version.fuel, version.body_type, age),
        "photos": photos,
        "details": DETAILS[rng.randrange(len(DETAILS))],
        "vehicle": {
            "brand": {"name": model.make}, "model": {"name": model.model}, "version": {"name": version.name},
            "year_manufacture": year_manufacture, "year_model": year_model, "km": km,
            "color": {"name": rng.choices(COLOURS, weights=COLOUR_WEIGHTS)[0]},
            "plate_final": str(rng.randrange(10)),
            "acessories": {"name": sorted(rng.sample(ACCESSORIES, rng.randint(3, 10)), key=ACCESSORIES.index)},
            "fuel": {"name": version.fuel}, "transmission": {"name": version.transmission},
            "doors": version.doors,
        },
        "status": rng.choices([s for s, _ in STATUS_WEIGHTS], weights=[w for _, w in STATUS_WEIGHTS])[0],
        "updated_at": updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
