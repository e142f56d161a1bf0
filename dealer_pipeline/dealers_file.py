"""The dealers file (`DEALER_PIPELINE_DEALERS_FILE`): which dealers are synced from Webmotors
and where each dealer's stock is published.

Validated on load: an unknown key, a malformed id, a missing env var or a duplicate dealer
is a `DealersFileError` naming the dealer and the field. Credentials are referenced by
env-var name in the file and resolved into `Secret`s here, so the file itself holds none.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from dealer_pipeline.settings import Secret

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_AUTOTRADER_ID = re.compile(r"^autotrader:(\d{1,20})$")
_WEBMOTORS_ID = re.compile(r"^webmotors:(\d{14})$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class DealersFileError(ValueError):
    """The dealers file is unreadable or invalid; the message names the dealer and field."""


@dataclass(frozen=True)
class WebmotorsCredentials:
    """The dealer's "Integrador de API" user; values resolved from the referenced env vars."""

    username: str
    password: Secret
    username_env: str
    password_env: str


@dataclass(frozen=True)
class DealerEntry:
    dealer_id: str
    source: str
    source_dealer_id: str
    name: str | None
    webmotors: WebmotorsCredentials | None
    autocosmos_adminmail: str | None
    autochat_dealership_id: str | None

    def publishes_to(self, target: str) -> bool:
        return {"autocosmos": self.autocosmos_adminmail, "autochat": self.autochat_dealership_id}.get(target) is not None


@dataclass(frozen=True)
class DealersFile:
    path: Path
    dealers: tuple[DealerEntry, ...]

    def by_id(self) -> dict[str, DealerEntry]:
        return {d.dealer_id: d for d in self.dealers}

    def of_source(self, source: str) -> list[DealerEntry]:
        return [d for d in self.dealers if d.source == source]

    def by_adminmail(self, adminmail: str) -> DealerEntry | None:
        wanted = adminmail.strip().lower()
        return next((d for d in self.dealers if (d.autocosmos_adminmail or "").lower() == wanted), None)


def cnpj_is_valid(digits: str) -> bool:
    """The two CNPJ check digits (módulo 11) match the first twelve digits."""
    if len(digits) != 14 or not digits.isdigit() or len(set(digits)) == 1:
        return False
    numbers = [int(c) for c in digits]
    for position in (12, 13):
        weights = list(range(position - 7, 1, -1)) + list(range(9, 1, -1))
        remainder = sum(n * w for n, w in zip(numbers[:position], weights)) % 11
        if numbers[position] != (0 if remainder < 2 else 11 - remainder):
            return False
    return True


def _where(index: int, dealer_id: object) -> str:
    return f"dealer {dealer_id!r}" if isinstance(dealer_id, str) and dealer_id else f"dealer #{index + 1}"


def _check_keys(where: str, prefix: str, mapping: Any, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(mapping, Mapping):
        raise DealersFileError(f"{where}: {prefix} must be a mapping")
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise DealersFileError(f"{where}: unknown key {prefix + '.' if prefix else ''}{unknown[0]}")
    return mapping


def _env_value(where: str, field: str, name: Any, environ: Mapping[str, str]) -> str:
    if not isinstance(name, str) or not _ENV_NAME.match(name):
        raise DealersFileError(f"{where}: {field} must be an environment variable name, got {name!r}")
    value = environ.get(name)
    if not value:
        raise DealersFileError(f"{where}: {field} names {name}, which is not set in the environment")
    return value


def _webmotors(where: str, raw: Any, environ: Mapping[str, str]) -> WebmotorsCredentials:
    section = _check_keys(where, "webmotors", raw, {"username_env", "password_env"})
    for key in ("username_env", "password_env"):
        if key not in section:
            raise DealersFileError(f"{where}: webmotors.{key} is required")
    return WebmotorsCredentials(
        username=_env_value(where, "webmotors.username_env", section["username_env"], environ),
        password=Secret(_env_value(where, "webmotors.password_env", section["password_env"], environ)),
        username_env=section["username_env"],
        password_env=section["password_env"],
    )


def _publish(where: str, raw: Any) -> tuple[str | None, str | None]:
    section = _check_keys(where, "publish", raw or {}, {"autocosmos", "autochat"})
    adminmail = dealership = None
    if "autocosmos" in section:
        target = _check_keys(where, "publish.autocosmos", section["autocosmos"], {"adminmail"})
        adminmail = target.get("adminmail")
        if not isinstance(adminmail, str) or not _EMAIL.match(adminmail):
            raise DealersFileError(f"{where}: publish.autocosmos.adminmail must be an e-mail address, got {adminmail!r}")
    if "autochat" in section:
        target = _check_keys(where, "publish.autochat", section["autochat"], {"dealership_id"})
        dealership = target.get("dealership_id")
        if not isinstance(dealership, str) or not dealership.strip():
            raise DealersFileError(f"{where}: publish.autochat.dealership_id must be a non-empty string")
    return adminmail, dealership


def _source_of(where: str, dealer_id: Any) -> tuple[str, str]:
    if not isinstance(dealer_id, str):
        raise DealersFileError(f"{where}: dealer_id is required (e.g. 'webmotors:03347828000109')")
    if match := _AUTOTRADER_ID.match(dealer_id):
        return "autotrader", match.group(1)
    if match := _WEBMOTORS_ID.match(dealer_id):
        if not cnpj_is_valid(match.group(1)):
            raise DealersFileError(f"{where}: dealer_id has an invalid CNPJ (check digits do not match)")
        return "webmotors", match.group(1)
    raise DealersFileError(
        f"{where}: dealer_id must be 'autotrader:<advertiserId digits>' or 'webmotors:<14 CNPJ digits>'"
    )


def _entry(index: int, raw: Any, environ: Mapping[str, str]) -> DealerEntry:
    dealer_id = raw.get("dealer_id") if isinstance(raw, Mapping) else None
    where = _where(index, dealer_id)
    section = _check_keys(where, "", raw, {"dealer_id", "name", "webmotors", "publish"})
    source, source_id = _source_of(where, dealer_id)
    if source == "webmotors" and "webmotors" not in section:
        raise DealersFileError(f"{where}: webmotors (username_env, password_env) is required for a Webmotors dealer")
    if source == "autotrader" and "webmotors" in section:
        raise DealersFileError(f"{where}: webmotors credentials are only for webmotors: dealers")
    name = section.get("name")
    if name is not None and not isinstance(name, str):
        raise DealersFileError(f"{where}: name must be text")
    adminmail, dealership = _publish(where, section.get("publish"))
    return DealerEntry(
        dealer_id=dealer_id,
        source=source,
        source_dealer_id=source_id,
        name=name,
        webmotors=_webmotors(where, section["webmotors"], environ) if source == "webmotors" else None,
        autocosmos_adminmail=adminmail,
        autochat_dealership_id=dealership,
    )


def parse_dealers(text: str, *, path: Path, environ: Mapping[str, str] | None = None) -> DealersFile:
    env = os.environ if environ is None else environ
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DealersFileError(f"{path}: not valid YAML: {exc}") from None
    if document is None:
        document = {"dealers": []}
    _check_keys(str(path), "", document, {"dealers"})
    raw_dealers = document.get("dealers") or []
    if not isinstance(raw_dealers, list):
        raise DealersFileError(f"{path}: dealers must be a list")
    entries = [_entry(i, raw, env) for i, raw in enumerate(raw_dealers)]
    seen: set[str] = set()
    for entry in entries:
        if entry.dealer_id in seen:
            raise DealersFileError(f"dealer {entry.dealer_id!r}: listed twice")
        seen.add(entry.dealer_id)
    return DealersFile(path=path, dealers=tuple(entries))


def load_dealers(path: Path | None = None, *, environ: Mapping[str, str] | None = None) -> DealersFile:
    """Read and validate the dealers file (default: `DEALER_PIPELINE_DEALERS_FILE`)."""
    if path is None:
        from dealer_pipeline.settings import get_settings

        path = get_settings().dealers_file
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DealersFileError(
            f"{path}: dealers file not found (set DEALER_PIPELINE_DEALERS_FILE, or run "
            "`dealer-pipeline sandbox serve --dealers-file PATH` to write the sandbox's)"
        ) from None
    return parse_dealers(text, path=Path(path), environ=environ)
