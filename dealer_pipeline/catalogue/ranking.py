"""Ranking best-match candidates when no version matched (`Match` null, `Candidates` present).

Each candidate is scored by how well it agrees with what we know of the vehicle: fuel,
transmission, body, displacement, power, year and the words of its name found in our
derivative text. Only attributes known on both sides count; the confidence is the top score,
scaled down when little was known (few attributes say little) and halved on a near tie
(two different versions equally plausible). A caller accepts the top candidate only at or
above a threshold; anything else goes to the review queue, never to a blind publication.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from dealer_pipeline.catalogue.spec import fold

#: Attribute -> weight in the score.
WEIGHTS: Mapping[str, float] = {"fuel": 3.0, "transmission": 2.0, "body": 1.0, "displacement": 2.0,
                                "power": 2.0, "year": 1.0, "name": 2.0}
#: Known weight below which the confidence is scaled down (fuel + transmission + two more).
FULL_COVERAGE = 8.0
#: A runner-up this close to the top (another version) makes the top unsafe to accept.
TIE_MARGIN = 0.03
DEFAULT_THRESHOLD = 0.8
POWER_EXACT_CV = 3.0
POWER_ZERO_SHARE = 0.25      # power differing by 25 % or more scores 0
DISPLACEMENT_TOLERANCE_L = 0.1

_FUEL_SYNONYMS = {"gasolina": "nafta", "petrol": "nafta", "electrico": "electrico", "eletrico": "electrico",
                  "naftaelectrico": "naftaelectrico", "hibridoenchufable": "hibridoenchufable"}
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_TOKEN = re.compile(r"\d+\.\d+|[a-z0-9]+")
_NAME_NOISE = frozenset({"at", "mt"})


@dataclass(frozen=True)
class RankedCandidate:
    href: str
    name: str | None
    year: int | None
    fuel: str | None
    transmission: str | None
    body: str | None
    score: float
    agreement: Mapping[str, float]

    def as_json(self) -> dict[str, Any]:
        return {"href": self.href, "Nombre": self.name, "VersionYear": self.year, "Propulsion": self.fuel,
                "Transmision": self.transmission, "Carroceria": self.body, "score": round(self.score, 3),
                "agreement": {k: round(v, 3) for k, v in self.agreement.items()}}


@dataclass(frozen=True)
class Ranking:
    candidates: list[RankedCandidate]
    confidence: float
    reason: str | None   # why the top one cannot be accepted as is (tie, little known), or None

    def accepted(self, threshold: float) -> RankedCandidate | None:
        if not self.candidates or self.confidence < threshold:
            return None
        return self.candidates[0]


def _fuel(text: Any) -> str | None:
    if not text:
        return None
    key = fold(str(text))
    return _FUEL_SYNONYMS.get(key, key)


def _gearbox(text: Any) -> str | None:
    if not text:
        return None
    key = fold(str(text))
    if key in ("a", "at", "auto") or key.startswith("automat") or key == "cvt":
        return "automatic"
    if key in ("m", "mt") or key.startswith("manual"):
        return "manual"
    return key


def _number(text: Any) -> float | None:
    if text is None:
        return None
    found = _NUMBER.search(str(text))
    return float(found.group(0).replace(",", ".")) if found else None


def _tokens(text: str | None) -> set[str]:
    plain = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    return set(_TOKEN.findall(plain))


def _power_score(ours: float, theirs: float) -> float:
    gap = abs(ours - theirs)
    if gap <= POWER_EXACT_CV:
        return 1.0
    return max(0.0, 1.0 - (gap - POWER_EXACT_CV) / (POWER_ZERO_SHARE * ours))


def _agreement(params: Mapping[str, str], candidate: Mapping[str, Any]) -> dict[str, float]:
    found: dict[str, float] = {}
    ours, theirs = _fuel(params.get("fuelType")), _fuel(candidate.get("Propulsion"))
    if ours and theirs:
        found["fuel"] = float(ours == theirs)
    ours, theirs = _gearbox(params.get("transmissionType")), _gearbox(candidate.get("Transmision"))
    if ours and theirs:
        found["transmission"] = float(ours == theirs)
    ours, theirs = params.get("bodystyle"), candidate.get("Carroceria")
    if ours and theirs:
        found["body"] = float(fold(ours) == fold(str(theirs)))
    ours_l, theirs_l = _number(params.get("displacement")), _number(candidate.get("Cilindrada"))
    if ours_l and theirs_l:
        found["displacement"] = float(abs(ours_l - theirs_l) <= DISPLACEMENT_TOLERANCE_L + 1e-9)
    ours_cv, theirs_cv = _number(params.get("power")), _number(candidate.get("Potencia"))
    if ours_cv and theirs_cv:
        found["power"] = _power_score(ours_cv, theirs_cv)
    year, their_year = params.get("year"), candidate.get("VersionYear")
    if year and isinstance(their_year, int):
        gap = abs(int(year) - their_year)
        found["year"] = 1.0 if gap == 0 else 0.5 if gap == 1 else 0.0
    name = _tokens(candidate.get("Nombre")) - _NAME_NOISE
    text = _tokens(params.get("trim"))
    if name and text:
        found["name"] = len(name & text) / len(name)
    return found


def _href(candidate: Mapping[str, Any]) -> str | None:
    href = ((candidate.get("_links") or {}).get("self") or {}).get("href")
    return href if isinstance(href, str) and href else None


def rank_candidates(params: Mapping[str, str], candidates: Sequence[Mapping[str, Any]]) -> Ranking:
    """Candidates best first with their scores, and the confidence in the top one."""
    ranked: list[RankedCandidate] = []
    for candidate in candidates:
        href = _href(candidate)
        if href is None or not isinstance(candidate, Mapping):
            continue
        agreement = _agreement(params, candidate)
        weight = sum(WEIGHTS[k] for k in agreement)
        score = sum(WEIGHTS[k] * v for k, v in agreement.items()) / weight if weight else 0.0
        year = candidate.get("VersionYear")
        ranked.append(RankedCandidate(href, candidate.get("Nombre"), year if isinstance(year, int) else None,
                                      candidate.get("Propulsion"), candidate.get("Transmision"),
                                      candidate.get("Carroceria"), score, agreement))
    ranked.sort(key=lambda c: (c.score, sum(WEIGHTS[k] for k in c.agreement)), reverse=True)
    if not ranked:
        return Ranking([], 0.0, "no usable candidate")
    top = ranked[0]
    known = sum(WEIGHTS[k] for k in top.agreement)
    confidence = top.score * min(1.0, known / FULL_COVERAGE)
    reason = None
    if known < FULL_COVERAGE:
        reason = f"little known about the vehicle (weight {known:g} of {FULL_COVERAGE:g})"
    runner = next((c for c in ranked[1:] if c.href != top.href), None)
    if runner is not None and top.score - runner.score < TIE_MARGIN:
        confidence *= 0.5
        reason = f"near tie with {runner.name or runner.href} ({runner.score:.3f} vs {top.score:.3f})"
    return Ranking(ranked, round(confidence, 3), reason)
