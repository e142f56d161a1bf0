"""The Autocosmos catalogue (marcas, modelos, versiones, carrocerías) and its best match (2.2).

Built deterministically from `reference.py` (the same vehicles the UK and Brazilian
generators sell), but under Autocosmos' own naming: "3 Series" is "Serie 3", Automatic is
"Automática", Petrol is "nafta", Estate is "Rural", Webmotors' "2.0 16V FLEXONE EXL 4P CVT"
is "2.0 EXL CVT". It does not depend on the seed, so every sandbox has the same ids.

Three fixture fates, listed in `ABSENT_MAKES`, `ABSENT_MODELS` and `CANDIDATES_ONLY` (and in
docs/sandbox-autocosmos-autochat.md) so tests elsewhere can rely on them:

* matched: the version is found (`Match` set) from the source trim or derivative text;
* candidates only: the catalogue sells the vehicle under another version name and power
  (a LatAm spec), so `Match` is null but `Candidates` lists it;
* absent: the make or the model is not in the catalogue (no `Model`, no candidates).

Matching is token containment, not fuzzy scoring, so its answers are predictable: a version
matches when all tokens of its name (or of its source trim) occur in the `trim` sent, every
attribute sent (fuel, transmission, displacement, power) agrees, and no other version line
ties with it. Without `trim`, a sent `power` or `displacement` that agrees is enough.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from dealer_pipeline.sandbox.reference import BR_MODELS, REFERENCE_YEAR, UK_MODELS

MARCA_BASE_ID, MODELO_BASE_ID, VERSION_BASE_ID = 601, 10001, 140001
MAX_CANDIDATES = 20
POWER_TOLERANCE_CV = 3.0
DISPLACEMENT_TOLERANCE_L = 0.1
KW_TO_CV = 1.35962

#: Makes the catalogue does not carry (Vauxhall is sold as Opel in Latin America).
ABSENT_MAKES = frozenset({"Vauxhall"})
#: (make, model) pairs, in the reference's spelling, whose model the catalogue does not carry.
ABSENT_MODELS = frozenset({("Nissan", "Leaf"), ("Renault", "Zoe"), ("FIAT", "MOBI"), ("CHEVROLET", "BOLT")})
#: (make, model, source version text) -> (catalogue version name, power difference in cv): the
#: catalogue sells these under a LatAm specification, so they are reachable only as Candidates.
CANDIDATES_ONLY: dict[tuple[str, str, str], tuple[str, int]] = {
    ("Ford", "Focus", "2.3 EcoBoost ST Hatchback 5dr Petrol Manual Euro 6 (s/s) (280 ps)"): ("ST Performance Pack", -30),
    ("BMW", "3 Series", "330e 12kWh M Sport Saloon 4dr Petrol Plug-in Hybrid Auto Euro 6 (s/s) (292 ps)"):
        ("330e Sport Line Híbrido", -40),
    ("Toyota", "RAV4", "2.5 VVT-h 18.1kWh Dynamic SUV 5dr Petrol Plug-in Hybrid CVT 4WD Euro 6 (s/s) (306 ps)"):
        ("Plug-in Hybrid Limited AWD-i", -20),
    ("Kia", "Sportage", "1.6 T-GDi 3 SUV 5dr Petrol Manual Euro 6 (s/s) (150 ps)"): ("1.6 T-GDi EX", -18),
    ("Peugeot", "208", "1.2 PureTech Active Premium + Hatchback 5dr Petrol Manual Euro 6 (s/s) (100 ps)"):
        ("1.2 Allure Pack", -20),
    ("HONDA", "CIVIC", "1.5 16V TURBO GASOLINA TOURING 4P CVT"): ("1.5 Turbo Touring Plus", -8),
    ("TOYOTA", "HILUX", "2.8 D-4D TURBO DIESEL CD SR 4X4 MANUAL"): ("2.8 TDI DX Pack 4x4 Cabina Doble", -13),
    ("JEEP", "COMPASS", "1.3 T270 TURBO FLEX LIMITED AT6"): ("1.3 Turbo Serie S", -10),
}

#: Spanish model names where Autocosmos' differ from the source's (the source name stays an alias).
MODEL_NAMES = {"3 Series": "Serie 3", "1 Series": "Serie 1", "A Class": "Clase A", "C Class": "Clase C",
               "HR-V": "HR-V"}
MAKE_NAMES = {"BMW": "BMW", "MG": "MG", "FIAT": "Fiat"}
MAKE_ALIASES = {"Volkswagen": ("vw",), "Mercedes-Benz": ("mercedes", "mercedes benz", "mb"),
                "Chevrolet": ("chevy", "gm")}

# (id, name, codename, aliases): the body styles of the catalogue; coupe is 4 as in the contract.
CARROCERIAS: tuple[tuple[int, str, str, tuple[str, ...]], ...] = (
    (1, "Sedán", "sedan", ("saloon", "seda", "berlina", "notchback")),
    (2, "Hatchback", "hatchback", ("hatch", "sportback", "liftback")),
    (3, "Rural", "rural", ("estate", "touring", "avant", "wagon", "station wagon", "sw", "perua", "break",
                           "familiar", "touring sports", "sports tourer")),
    (4, "Coupé", "coupe", ("cupe", "coupe 2 puertas")),
    (5, "Convertible", "convertible", ("cabriolet", "cabrio", "descapotable", "roadster", "conversivel")),
    (6, "SUV", "suv", ("crossover", "todo terreno", "4x4", "utilitario esportivo", "off road")),
    (7, "Pick-Up", "pickup", ("pick up", "picape", "camioneta", "pick up cabina doble")),
    (8, "Monovolumen", "monovolumen", ("mpv", "minivan", "monovolume", "people carrier")),
    (9, "Utilitario", "utilitario", ("van", "panel van", "furgon", "furgao", "furgoneta", "combi")),
)
BODY_TO_CARROCERIA = {"Hatchback": 2, "Saloon": 1, "Estate": 3, "SUV": 6, "Coupe": 4, "Convertible": 5,
                      "MPV": 8, "Pickup": 7, "Panel Van": 9, "Sedã": 1, "Hatch": 2, "Picape": 7}

#: Query/source fuel words -> Autocosmos `Propulsion` vocabulary.
FUELS = {
    "nafta": ("nafta", "petrol", "gasolina", "gasoline", "gas", "benzina"),
    "diesel": ("diesel", "gasoil", "gasoleo"),
    "eléctrico": ("electrico", "eletrico", "electric", "ev", "bev", "elec pet range ext", "range extender"),
    "nafta-eléctrico": ("nafta electrico", "hybrid", "hibrido", "petrol hybrid", "hev", "mhev", "full hybrid",
                        "hybrid electric"),
    "híbrido enchufable": ("hibrido enchufable", "plugin hybrid", "plug in hybrid", "petrol plug in hybrid", "phev"),
    "diesel-eléctrico": ("diesel electrico", "diesel hybrid", "diesel plug in hybrid"),
    "flex": ("flex", "flexfuel", "flex fuel", "bicombustivel"),
    "etanol": ("etanol", "ethanol", "alcool"),
    "gnc": ("gnc", "gnv", "cng", "lpg", "glp", "lpg cng", "bi fuel"),
}
#: Query/source transmission words -> `Transmision` vocabulary.
TRANSMISSIONS = {
    "Automática": ("a", "at", "automatica", "automatico", "automatic", "auto", "cvt", "dsg", "dct",
                   "automatizada", "semi automatic"),
    "Manual": ("m", "mt", "manual"),
}

_TOKEN = re.compile(r"\d+\.\d+|[a-z0-9]+")
_BR_NOISE = re.compile(
    r"\b(TOTAL ?FLEX|HI-FLEX|FLEXONE|FLEX|GASOLINA|DIESEL|ETANOL|GNV|ELÉTRICO|HYBRID|\d{1,2}V|[24]P|"
    r"AUTOMÁTICO|MANUAL|CVT|X-TRONIC|I-MOTION|MULTIDRIVE|DIRECT SHIFT|GSR|AT\d)(?=\s|$)"
)


def normalise(text: str) -> str:
    """Lower case, accents removed, punctuation as spaces: how names are compared."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(_TOKEN.findall(plain))


def tokens(text: str) -> frozenset[str]:
    return frozenset(normalise(text).split())


def slug(text: str) -> str:
    return normalise(text).replace(" ", "-")


def _lookup(vocabulary: Mapping[str, tuple[str, ...]], text: str | None) -> str | None:
    if not text:
        return None
    key = normalise(text.replace("_", " "))
    for canonical, words in vocabulary.items():
        if key == normalise(canonical) or key in words:
            return canonical
    return None


def fuel_of(text: str | None) -> str | None:
    """A fuel word in any vocabulary (Autotrader, Webmotors, canonical, Spanish) as `Propulsion`."""
    return _lookup(FUELS, text)


def transmission_of(text: str | None) -> str | None:
    return _lookup(TRANSMISSIONS, text)


@dataclass(frozen=True)
class Marca:
    id: int
    nombre: str
    codename: str
    names: frozenset[str]

    @property
    def href(self) -> str:
        return f"/v3/marcas/{self.id}"


@dataclass(frozen=True)
class Modelo:
    id: int
    marca_id: int
    nombre: str
    codename: str
    names: frozenset[str]

    @property
    def href(self) -> str:
        return f"/v3/modelos/{self.id}"


@dataclass(frozen=True)
class Carroceria:
    id: int
    nombre: str
    codename: str
    names: frozenset[str]

    @property
    def href(self) -> str:
        return f"/v3/carrocerias/{self.id}"

    def render(self) -> dict[str, Any]:
        return {"Nombre": self.nombre, "Codename": self.codename, "_links": {"self": {"href": self.href}}}


@dataclass(frozen=True)
class Version:
    id: int
    modelo_id: int
    nombre: str
    codename: str
    potencia_cv: int
    cilindrada_l: float | None
    propulsion: str
    transmision: str
    carroceria_id: int
    year: int
    keys: tuple[frozenset[str], ...]  # token sets a `trim` must contain to name this version
    source: str  # "uk:<derivative_id>" or "br:<MAKE>|<MODEL>|<version>"

    @property
    def href(self) -> str:
        return f"/v3/versiones/{self.id}"

    @property
    def codes(self) -> frozenset[str]:
        """Tokens of the name that carry a digit (`320d`, `1.6`, `50kwh`): what tells engines apart."""
        return frozenset(t for t in self.keys[0] if any(c.isdigit() for c in t))

    @property
    def potencia(self) -> str:
        return f"{self.potencia_cv} cv"

    @property
    def cilindrada(self) -> str:
        return "" if self.cilindrada_l is None else f"{self.cilindrada_l:.1f}L"

    @property
    def line(self) -> tuple[Any, ...]:
        """What makes two yearly versions the same offer."""
        return (self.nombre, self.potencia_cv, self.cilindrada_l, self.propulsion, self.transmision,
                self.carroceria_id)


class BadQuery(ValueError):
    """A best-match parameter that cannot be read; keyed by parameter name."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


@dataclass
class Catalogue:
    marcas: dict[int, Marca] = field(default_factory=dict)
    modelos: dict[int, Modelo] = field(default_factory=dict)
    versiones: dict[int, Version] = field(default_factory=dict)
    carrocerias: dict[int, Carroceria] = field(default_factory=dict)
    #: source key -> fate ("matched", "candidates", "absent_make", "absent_model")
    fates: dict[str, str] = field(default_factory=dict)
    _versions_of: dict[int, list[Version]] = field(default_factory=dict)

    # -- lookups used by publication validation (autocosmos_validation.CatalogueRefs) ------
    def marca_exists(self, marca_id: int) -> bool:
        return marca_id in self.marcas

    def modelo_marca(self, modelo_id: int) -> int | None:
        modelo = self.modelos.get(modelo_id)
        return None if modelo is None else modelo.marca_id

    def version_modelo(self, version_id: int) -> int | None:
        version = self.versiones.get(version_id)
        return None if version is None else version.modelo_id

    def carroceria_exists(self, carroceria_id: int) -> bool:
        return carroceria_id in self.carrocerias

    def carroceria_matches(self, text: str) -> bool:
        return self.carroceria_bestmatch(text) is not None

    # -- best matches ----------------------------------------------------------------------
    def carroceria_bestmatch(self, text: str | None) -> Carroceria | None:
        key = normalise(text or "")
        return next((c for c in self.carrocerias.values() if key and key in c.names), None)

    def marca_bestmatch(self, text: str | None) -> Marca | None:
        key = normalise(text or "")
        return next((m for m in self.marcas.values() if key and key in m.names), None)

    def modelo_bestmatch(self, marca: Marca, text: str | None) -> Modelo | None:
        key = normalise(text or "")
        return next((m for m in self.modelos.values() if m.marca_id == marca.id and key and key in m.names), None)

    def modelos_of(self, marca_id: int) -> list[Modelo]:
        return [m for m in self.modelos.values() if m.marca_id == marca_id]

    def versions_of(self, modelo_id: int) -> list[Version]:
        return list(self._versions_of.get(modelo_id, ()))

    def bestmatch(self, params: Mapping[str, str]) -> dict[str, Any]:
        """`GET /v3/versiones/bestmatch` (2.2). Raises `BadQuery` for missing/unreadable input."""
        query = _Query.parse(params)
        result: dict[str, Any] = {"Make": None, "Model": None, "Trim": None, "FuelType": None,
                                  "TransmisionType": None, "Match": None, "Candidates": []}
        marca = self.marca_bestmatch(query.make)
        if marca is None:
            return result
        result["Make"] = marca.href
        modelo = self.modelo_bestmatch(marca, query.model)
        if modelo is None:
            return result
        result["Model"] = modelo.href
        ranked = self._rank(modelo, query)
        match = self._match(ranked, query)
        candidates = [version for version, _ in ranked][:MAX_CANDIDATES]
        result["Candidates"] = [self.render_candidate(v) for v in candidates]
        if match is not None:
            result.update(Trim=match.href, FuelType=match.propulsion, TransmisionType=match.transmision,
                          Match=self.render_match(match))
            return result
        result["Trim"] = query.trim
        first = candidates[0] if candidates else None
        result["FuelType"] = query.fuel or (first.propulsion if first else None)
        result["TransmisionType"] = query.transmission or (first.transmision if first else None)
        return result

    def _rank(self, modelo: Modelo, query: "_Query") -> list[tuple[Version, tuple[Any, ...]]]:
        carroceria = self.carroceria_bestmatch(query.bodystyle) if query.bodystyle else None
        pool = [v for v in self.versions_of(modelo.id)
                if (query.year is None or v.year == query.year)
                and (carroceria is None or v.carroceria_id == carroceria.id)]
        codes = frozenset().union(*(v.codes for v in pool))
        scored = sorted(((v, query.score(v, codes - v.codes)) for v in pool), key=lambda item: (item[1], item[0].year, -item[0].id),
                        reverse=True)
        if query.year is not None:
            return scored
        seen: set[tuple[Any, ...]] = set()
        newest_per_line = []  # one entry per offer: its most recent year
        for item in scored:
            if item[0].line not in seen:
                seen.add(item[0].line)
                newest_per_line.append(item)
        return newest_per_line

    @staticmethod
    def _match(ranked: list[tuple[Version, tuple[Any, ...]]], query: "_Query") -> Version | None:
        if not ranked:
            return None
        best, score = ranked[0]
        consistent, contained, _, _ = score
        if not consistent:
            return None
        if query.trim is not None and not contained:
            return None
        if query.trim is None and query.power is None and query.displacement is None:
            return None
        rivals = [v for v, s in ranked[1:] if s == score and v.line != best.line]
        return None if rivals else best

    # -- rendering -------------------------------------------------------------------------
    def render_match(self, version: Version) -> dict[str, Any]:
        modelo = self.modelos[version.modelo_id]
        return {
            "Propulsion": version.propulsion, "Transmision": version.transmision, "Potencia": version.potencia,
            "Cilindrada": version.cilindrada, "Marca": self.marcas[modelo.marca_id].nombre,
            "Modelo": modelo.nombre, "Nombre": version.nombre, "Codename": version.codename,
            "Carroceria": self.carrocerias[version.carroceria_id].nombre, "Segmento": "",
            "_links": {"self": {"href": version.href}},
        }

    def render_candidate(self, version: Version) -> dict[str, Any]:
        return {
            "Nombre": version.nombre, "Codename": version.codename, "Potencia": version.potencia,
            "Cilindrada": version.cilindrada, "Propulsion": version.propulsion, "Transmision": version.transmision,
            "Carroceria": self.carrocerias[version.carroceria_id].nombre, "VersionYear": version.year,
            "_links": {"self": {"href": version.href}},
        }

    def render_version(self, version: Version) -> dict[str, Any]:
        """`GET /v3/versiones/{id}`."""
        body = self.render_match(version)
        modelo = self.modelos[version.modelo_id]
        body["VersionYear"] = version.year
        body["_links"] = {"self": {"href": version.href}, "modelo": {"href": modelo.href},
                          "marca": {"href": self.marcas[modelo.marca_id].href},
                          "carroceria": {"href": self.carrocerias[version.carroceria_id].href}}
        return body

    def render_marca(self, marca: Marca) -> dict[str, Any]:
        return {"Nombre": marca.nombre, "Codename": marca.codename,
                "_links": {"self": {"href": marca.href}, "modelos": {"href": f"/v3/modelos?marca={marca.id}"}}}

    def render_modelo(self, modelo: Modelo) -> dict[str, Any]:
        return {"Nombre": modelo.nombre, "Codename": modelo.codename,
                "Marca": self.marcas[modelo.marca_id].nombre,
                "_links": {"self": {"href": modelo.href}, "marca": {"href": self.marcas[modelo.marca_id].href}}}

    # -- fixtures --------------------------------------------------------------------------
    def fate(self, source: str) -> str:
        """The fixture fate of a reference vehicle: `uk:<derivative_id>` or `br:<MAKE>|<MODEL>|<version>`."""
        return self.fates[source]


def _parse_float(raw: str, name: str, errors: dict[str, list[str]]) -> float | None:
    try:
        return float(raw.replace(",", "."))
    except ValueError:
        errors[name] = [f"No es un número: {raw!r}."]
        return None


@dataclass(frozen=True)
class _Query:
    make: str
    model: str
    trim: str | None
    trim_tokens: frozenset[str]
    year: int | None
    bodystyle: str | None
    transmission: str | None
    fuel: str | None
    displacement: float | None
    power: float | None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> "_Query":
        def text(name: str) -> str | None:
            value = params.get(name)
            return value.strip() if value and value.strip() else None

        errors: dict[str, list[str]] = {}
        for name in ("make", "model"):
            if text(name) is None:
                errors[name] = ["El parámetro es obligatorio."]
        year = None
        if text("year") is not None:
            try:
                year = int(text("year"))  # type: ignore[arg-type]
            except ValueError:
                errors["year"] = ["Debe ser un año (entero)."]
            else:
                if not 1908 <= year <= 2050:
                    errors["year"] = ["Debe estar entre 1908 y 2050."]
        displacement = None
        raw = text("displacement")
        if raw is not None:
            match = re.fullmatch(r"(\d+(?:[.,]\d+)?)\s*(l|cc|cm3)?", raw.lower())
            if match is None:
                errors["displacement"] = [f"Cilindrada ilegible: {raw!r} (p. ej. 2.0 o 1995cc)."]
            else:
                value = _parse_float(match.group(1), "displacement", errors)
                if value is not None:
                    displacement = value / 1000 if match.group(2) in ("cc", "cm3") or value > 20 else value
        power = None
        raw = text("power")
        if raw is not None:
            match = re.fullmatch(r"(\d+(?:[.,]\d+)?)\s*(cv|ps|hp|kw)?", raw.lower())
            if match is None:
                errors["power"] = [f"Potencia ilegible: {raw!r} (p. ej. 156 o 204cv)."]
            else:
                value = _parse_float(match.group(1), "power", errors)
                if value is not None:
                    power = value * KW_TO_CV if match.group(2) == "kw" else value
        if errors:
            raise BadQuery(errors)
        trim = text("trim")
        return cls(
            make=text("make") or "", model=text("model") or "", trim=trim,
            trim_tokens=tokens(trim) if trim else frozenset(), year=year, bodystyle=text("bodystyle"),
            transmission=transmission_of(text("transmissionType")), fuel=fuel_of(text("fuelType")),
            displacement=displacement, power=power,
        )

    def score(self, version: Version, foreign_codes: frozenset[str]) -> tuple[bool, bool, int, int]:
        """(consistent with every attribute sent, trim names it, trim tokens matched, attributes agreeing).

        A trim that carries another version's code (`330e` when this is the `320d`) does not name it.
        """
        agree, disagree = 0, 0
        checks = (
            (self.fuel, lambda: self.fuel == version.propulsion),
            (self.transmission, lambda: self.transmission == version.transmision),
            (self.power, lambda: abs(self.power - version.potencia_cv) <= POWER_TOLERANCE_CV),  # type: ignore[operator]
            (self.displacement, lambda: version.cilindrada_l is not None
             and abs(self.displacement - version.cilindrada_l) <= DISPLACEMENT_TOLERANCE_L + 1e-9),  # type: ignore[operator]
        )
        for sent, agrees in checks:
            if sent is not None:
                if agrees():
                    agree += 1
                else:
                    disagree += 1
        named = [len(key) for key in version.keys if key and key <= self.trim_tokens]
        if named and not (foreign_codes & self.trim_tokens):
            return disagree == 0, True, max(named), agree
        overlap = max((len(key & self.trim_tokens) for key in version.keys), default=0)
        return disagree == 0, False, overlap, agree


# -- building the catalogue from the reference data ----------------------------------------------

@dataclass(frozen=True)
class _Source:
    """One reference vehicle, market-neutral."""

    make: str
    model: str
    display_make: str
    display_model: str
    version_text: str
    key: str
    core: str  # catalogue version name without transmission suffix
    trim: str | None
    fuel: str
    transmission: str
    carroceria_id: int
    engine_cc: int | None
    power_cv: int
    years: range


def _title(word: str) -> str:
    return word if (len(word) <= 4 or "-" in word or any(c.isdigit() for c in word)) else word.capitalize()


def _uk_sources() -> Iterable[_Source]:
    for model in UK_MODELS:
        for d in model.derivatives:
            start = d.name.find(d.trim)
            core = (d.name[:start] + d.trim).strip() if start >= 0 else d.trim
            yield _Source(
                make=model.make, model=model.model, display_make=MAKE_NAMES.get(model.make, model.make),
                display_model=MODEL_NAMES.get(model.model, model.model), version_text=d.name,
                key=f"uk:{d.derivative_id}", core=core, trim=d.trim,
                fuel=_required(fuel_of(d.fuel_type), d.fuel_type),
                transmission=_required(transmission_of(d.transmission), d.transmission),
                carroceria_id=BODY_TO_CARROCERIA[d.body_type], engine_cc=d.engine_cc, power_cv=d.power_ps,
                years=_years(d.year_from, d.year_to),
            )


def _br_sources() -> Iterable[_Source]:
    for model in BR_MODELS:
        for v in model.versions:
            core = " ".join(_title(w) for w in _BR_NOISE.sub(" ", v.name).split())
            transmission = "Manual" if v.transmission == "Manual" else "Automática"
            display_model = MODEL_NAMES.get(model.model) or (
                model.model if any(c.isdigit() for c in model.model) else model.model.title()
            )
            yield _Source(
                make=model.make, model=model.model, display_make=MAKE_NAMES.get(model.make, model.make.title()),
                display_model=display_model, version_text=v.name, key=f"br:{model.make}|{model.model}|{v.name}",
                core=core, trim=None, fuel=_required(fuel_of(v.fuel), v.fuel), transmission=transmission,
                carroceria_id=BODY_TO_CARROCERIA[v.body_type], engine_cc=v.engine_cc, power_cv=v.power_cv,
                years=_years(v.year_from, v.year_to),
            )


def _years(first: int, last: int | None) -> range:
    return range(first, min(last or REFERENCE_YEAR, REFERENCE_YEAR) + 1)


def _required(value: str | None, source: str) -> str:
    if value is None:
        raise ValueError(f"reference value {source!r} has no Autocosmos equivalent")
    return value


@functools.lru_cache(maxsize=1)
def build_catalogue() -> Catalogue:
    """The catalogue; built once per process (about a thousand versions)."""
    catalogue = Catalogue()
    for cid, name, codename, aliases in CARROCERIAS:
        names = frozenset({normalise(name), normalise(codename), *map(normalise, aliases)})
        catalogue.carrocerias[cid] = Carroceria(cid, name, codename, names)

    sources = list(_uk_sources()) + list(_br_sources())
    make_names = sorted({s.display_make for s in sources if s.make not in ABSENT_MAKES})
    marca_by_name: dict[str, Marca] = {}
    for offset, name in enumerate(make_names):
        aliases = {normalise(name), normalise(slug(name))} | {normalise(a) for a in MAKE_ALIASES.get(name, ())}
        marca = Marca(MARCA_BASE_ID + offset, name, slug(name), frozenset(aliases))
        catalogue.marcas[marca.id] = marca
        marca_by_name[name] = marca

    modelo_by_key: dict[tuple[int, str], Modelo] = {}
    next_version = VERSION_BASE_ID
    for source in sorted(sources, key=lambda s: (s.display_make, s.display_model.lower(), s.key)):
        if source.make in ABSENT_MAKES:
            catalogue.fates[source.key] = "absent_make"
            continue
        if (source.make, source.model) in ABSENT_MODELS:
            catalogue.fates[source.key] = "absent_model"
            continue
        marca = marca_by_name[source.display_make]
        display = source.display_model
        modelo = modelo_by_key.get((marca.id, normalise(display)))
        if modelo is None:
            modelo = Modelo(MODELO_BASE_ID + len(catalogue.modelos), marca.id, display, slug(display),
                            frozenset({normalise(display), normalise(source.model)}))
            modelo_by_key[(marca.id, normalise(display))] = modelo
            catalogue.modelos[modelo.id] = modelo
        elif normalise(source.model) not in modelo.names:
            modelo = Modelo(modelo.id, modelo.marca_id, modelo.nombre, modelo.codename,
                            modelo.names | {normalise(source.model)})
            modelo_by_key[(marca.id, normalise(display))] = modelo
            catalogue.modelos[modelo.id] = modelo

        alternative = CANDIDATES_ONLY.get((source.make, source.model, source.version_text))
        if alternative is not None:
            core, power, keys = alternative[0], source.power_cv + alternative[1], (tokens(alternative[0]),)
            catalogue.fates[source.key] = "candidates"
        else:
            core, power = source.core, source.power_cv
            keys = (tokens(core),) + ((tokens(source.trim),) if source.trim else ())
            catalogue.fates[source.key] = "matched"
        suffix = "" if re.search(r"\b(AT|MT|CVT)\b", core) else (" AT" if source.transmission == "Automática" else "")
        nombre = core + suffix
        litres = None if source.engine_cc is None else round(source.engine_cc / 1000, 1)
        for year in source.years:
            version = Version(next_version, modelo.id, nombre, slug(nombre), power, litres, source.fuel,
                              source.transmission, source.carroceria_id, year, keys, source.key)
            catalogue.versiones[version.id] = version
            catalogue._versions_of.setdefault(modelo.id, []).append(version)
            next_version += 1
    return catalogue
