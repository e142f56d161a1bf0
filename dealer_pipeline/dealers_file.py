"""The dealers file (`DEALER_PIPELINE_DEALERS_FILE`): which dealers are synced from Webmotors
and where each dealer's stock is published.

Validated on load by pydantic models: an unknown key, a malformed id, a missing env var or a
duplicate dealer is a `DealersFileError` naming the dealer and the field. Credentials are
referenced by env-var name in the file and resolved into `Secret`s here, so the file holds none.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Mapping

import yaml
from pydantic import (
    AfterValidator, BaseModel, BeforeValidator, ConfigDict, PrivateAttr, ValidationError, ValidationInfo,
    field_validator, model_validator,
)
from pydantic_core import ErrorDetails

from dealer_pipeline.settings import Secret
from dealer_pipeline.validation import ProblemTemplates, Text, describe

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DEALER_ID = re.compile(r"^(?:autotrader:(?P<autotrader>\d{1,20})|webmotors:(?P<webmotors>\d{14}))$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_PROBLEMS: ProblemTemplates = {
    "missing": "is required",
    "string_type": "must be text",
    "too_short": "must be a non-empty string",
    "model_type": "must be a mapping",
    "list_type": "must be a list",
}


class DealersFileError(ValueError):
    """The dealers file is unreadable or invalid; the message names the dealer and field."""


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


def _dealer_id(raw: str) -> str:
    match = _DEALER_ID.match(raw)
    if match is None:
        raise ValueError("must be 'autotrader:<advertiserId digits>' or 'webmotors:<14 CNPJ digits>'")
    if match["webmotors"] and not cnpj_is_valid(match["webmotors"]):
        raise ValueError("has an invalid CNPJ (check digits do not match)")
    return raw


def _email(raw: str) -> str:
    if not _EMAIL.match(raw):
        raise ValueError(f"must be an e-mail address, got {raw!r}")
    return raw


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class WebmotorsCredentials(_Strict):
    """The dealer's "Integrador de API" user: env-var names in the file, values from the environment."""

    username_env: str
    password_env: str
    _username: str = PrivateAttr()
    _password: Secret = PrivateAttr()

    @field_validator("username_env", "password_env")
    @classmethod
    def _set_in_environment(cls, name: str, info: ValidationInfo) -> str:
        if not _ENV_NAME.match(name):
            raise ValueError(f"must be an environment variable name, got {name!r}")
        if not _environ(info).get(name):
            raise ValueError(f"names {name}, which is not set in the environment")
        return name

    @model_validator(mode="after")
    def _resolve(self, info: ValidationInfo) -> WebmotorsCredentials:
        self._username = _environ(info)[self.username_env]
        self._password = Secret(_environ(info)[self.password_env])
        return self

    username = property(lambda self: self._username)
    password = property(lambda self: self._password)


class AutocosmosTarget(_Strict):
    adminmail: Annotated[str, AfterValidator(_email)]


class AutochatTarget(_Strict):
    dealership_id: Text


class Publish(_Strict):
    autocosmos: AutocosmosTarget | None = None
    autochat: AutochatTarget | None = None


class DealerEntry(_Strict):
    dealer_id: Annotated[str, AfterValidator(_dealer_id)]
    name: str | None = None
    webmotors: WebmotorsCredentials | None = None
    publish: Annotated[Publish, BeforeValidator(lambda raw: {} if raw is None else raw)] = Publish()

    @model_validator(mode="after")
    def _credentials_match_source(self) -> DealerEntry:
        if self.source == "webmotors" and self.webmotors is None:
            raise ValueError("webmotors (username_env, password_env) is required for a Webmotors dealer")
        if self.source == "autotrader" and self.webmotors is not None:
            raise ValueError("webmotors credentials are only for webmotors: dealers")
        return self

    source = property(lambda self: self.dealer_id.partition(":")[0])
    source_dealer_id = property(lambda self: self.dealer_id.partition(":")[2])

    @property
    def autocosmos_adminmail(self) -> str | None:
        return self.publish.autocosmos.adminmail if self.publish.autocosmos else None

    @property
    def autochat_dealership_id(self) -> str | None:
        return self.publish.autochat.dealership_id if self.publish.autochat else None

    def publishes_to(self, target: str) -> bool:
        return {"autocosmos": self.autocosmos_adminmail, "autochat": self.autochat_dealership_id}.get(target) is not None


class _Document(_Strict):
    dealers: Annotated[list[DealerEntry], BeforeValidator(lambda raw: [] if raw is None else raw)] = []


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


def _environ(info: ValidationInfo) -> Mapping[str, str]:
    return (info.context or {}).get("environ", os.environ)


def _sentence(error: ErrorDetails, document: Any, path: Path) -> str:
    """`dealer 'x': field problem` for an error inside a dealer, `path: field problem` otherwise."""
    loc = list(error["loc"])
    where = str(path)
    if loc[:1] == ["dealers"] and len(loc) > 1 and isinstance(loc[1], int):
        raw = document["dealers"][loc[1]]
        dealer_id = raw.get("dealer_id") if isinstance(raw, Mapping) else None
        where = f"dealer {dealer_id!r}" if isinstance(dealer_id, str) and dealer_id else f"dealer #{loc[1] + 1}"
        loc = loc[2:]
    field = ".".join(str(part) for part in loc)
    if error["type"] == "extra_forbidden":
        return f"{where}: unknown key {field}"
    return f"{where}: {field + ' ' if field else ''}{describe(error, _PROBLEMS)}"


def parse_dealers(text: str, *, path: Path, environ: Mapping[str, str] | None = None) -> DealersFile:
    env = os.environ if environ is None else environ
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise DealersFileError(f"{path}: not valid YAML: {exc}") from None
    document = {} if document is None else document
    try:
        dealers = _Document.model_validate(document, context={"environ": env}).dealers
    except ValidationError as exc:
        problem = _sentence(exc.errors()[0], document, path)
    else:
        seen: set[str] = set()
        for entry in dealers:
            if entry.dealer_id in seen:
                raise DealersFileError(f"dealer {entry.dealer_id!r}: listed twice")
            seen.add(entry.dealer_id)
        return DealersFile(path=path, dealers=tuple(dealers))
    # Raised outside the `except` so the ValidationError (which quotes inputs) is not chained.
    raise DealersFileError(problem)


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
