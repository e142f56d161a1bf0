"""Every environment variable the project reads, read once and validated in one place.

A bad value fails at start-up with a message naming the variable; secrets are wrapped in
`Secret`, whose `repr`/`str` never show the value, so they cannot leak through logs,
Dagster metadata or exception text by accident.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Mapping
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from dealer_pipeline.paths import dagster_home

# The sandbox (`dealer-pipeline sandbox serve`) listens here by default and accepts these
# demonstration credentials; with no configuration the pipeline talks to it.
SANDBOX_URL = "http://127.0.0.1:8765"


class SettingsError(ValueError):
    """A variable is missing or malformed; the message names it."""


class Secret:
    """A credential that prints as asterisks; `reveal()` is the only way to the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):  # pickling would put the value on disk or the wire
        raise TypeError("Secret values cannot be pickled")


def _http_url(name: str, raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(f"{name} must be an absolute http(s) URL, got {raw!r}")
    if parts.query or parts.fragment:
        raise SettingsError(f"{name} must not carry a query or fragment, got {raw!r}")
    return raw.rstrip("/")


def _database_url(name: str, raw: str) -> str:
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise SettingsError(f"{name} is not a SQLAlchemy URL: {exc}") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise SettingsError(f"{name} must be a sqlite or postgresql URL, got backend {url.get_backend_name()!r}")
    if url.drivername in ("postgresql", "postgres"):
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which is not installed.
        url = url.set(drivername="postgresql+psycopg2")
    return url.render_as_string(hide_password=False)


def _existing_file(name: str, raw: str) -> Path:
    path = Path(raw).expanduser()
    if path.exists() and not path.is_file():
        raise SettingsError(f"{name} must name a file, {raw!r} is a directory")
    return path


def _non_empty(name: str, raw: str) -> str:
    if not raw.strip():
        raise SettingsError(f"{name} is set but empty")
    return raw.strip()


def _secret(name: str, raw: str) -> Secret:
    return Secret(_non_empty(name, raw))


def _positive_float(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be greater than 0, got {raw!r}")
    return value


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be greater than 0, got {raw!r}")
    return value


def _flag(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Var:
    """One environment variable: its parser and its default (a callable, so paths resolve late)."""

    name: str
    parse: Callable[[str, str], object]
    default: Callable[[], str]
    doc: str


def _default_db() -> str:
    return f"sqlite:///{dagster_home() / 'dealer_pipeline.sqlite'}"


def _default_dealers_file() -> str:
    return str(dagster_home() / "sandbox-dealers.yaml")


def _const(value: str) -> Callable[[], str]:
    return lambda: value


VARIABLES: tuple[Var, ...] = (
    Var("DEALER_PIPELINE_DATABASE_URL", _database_url, _default_db, "SQLAlchemy URL of the canonical store"),
    Var("DEALER_PIPELINE_DEALERS_FILE", _existing_file, _default_dealers_file, "YAML of dealers and targets"),
    Var("AUTOTRADER_BASE_URL", _http_url, _const(f"{SANDBOX_URL}/autotrader"), "Autotrader Connect base URL"),
    Var("AUTOTRADER_KEY", _non_empty, _const("sandbox-at-key"), "Autotrader API key"),
    Var("AUTOTRADER_SECRET", _secret, _const("sandbox-at-secret"), "Autotrader API secret"),
    Var("AUTOTRADER_WEBHOOK_SECRET", _secret, _const("sandbox-at-webhook-secret"), "Autotrader notification secret"),
    Var("AUTOTRADER_CHARGE_TIMES_ENABLED", _flag, _const("true"), "fetch charge times for EV/PHEV stock"),
    Var("AUTOTRADER_CHARGE_TIMES_PATH", _non_empty, _const("/stock/{stockId}/charge-times"),
        "charge-times path template (unconfirmed by the vendor)"),
    Var("WEBMOTORS_BASE_URL", _http_url, _const(f"{SANDBOX_URL}/webmotors"), "Webmotors API base URL"),
    Var("WEBMOTORS_CLIENT_ID", _non_empty, _const("sandbox-wm-client"), "Webmotors app client id"),
    Var("WEBMOTORS_CLIENT_SECRET", _secret, _const("sandbox-wm-secret"), "Webmotors app client secret"),
    Var("WEBMOTORS_LEADS_TOKEN", _secret, _const("sandbox-wm-leads-token"), "secret token of the lead callback URL"),
    Var("AUTOCOSMOS_BASE_URL", _http_url, _const(f"{SANDBOX_URL}/autocosmos"), "Autocosmos v3 base URL"),
    Var("AUTOCOSMOS_APP_KEY", _non_empty, _const("sandbox-ac-app-key"), "Autocosmos AppKey"),
    Var("AUTOCOSMOS_APP_SECRET", _secret, _const("sandbox-ac-app-secret"), "Autocosmos AppSecret"),
    Var("AUTOCOSMOS_WEBHOOK_SECRET", _secret, _const("sandbox-ac-webhook-secret-0001"), "Autocosmos webhook secret"),
    Var("AUTOCHAT_BASE_URL", _http_url, _const(f"{SANDBOX_URL}/autochat"), "Autochat API base URL"),
    Var("AUTOCHAT_TOKEN_URL", _http_url, _const(f"{SANDBOX_URL}/autochat/oauth/token"), "Autochat token URL"),
    Var("AUTOCHAT_CLIENT_ID", _non_empty, _const("sandbox-ach-client"), "Autochat client id"),
    Var("AUTOCHAT_CLIENT_SECRET", _secret, _const("sandbox-ach-secret"), "Autochat client secret"),
    Var("DEALER_PIPELINE_HTTP_MAX_WAIT_SECONDS", _positive_float, _const("120"),
        "total time one call may spend waiting on pauses and retries before it fails"),
    Var("DEALER_PIPELINE_DEFAULT_429_PAUSE_SECONDS", _positive_float, _const("30"),
        "pause after a 429 without Retry-After"),
    Var("DEALER_PIPELINE_WEBHOOK_MAX_BYTES", _positive_int, _const("1048576"), "largest webhook body accepted"),
    Var("DEALER_PIPELINE_FRESHNESS_HOURS", _positive_float, _const("26"),
        "a dealer whose last complete baseline is older than this is stale"),
)


@dataclass(frozen=True)
class Settings:
    database_url: str = field(repr=False)  # may hold the database password: engines render it hidden
    dealers_file: Path
    autotrader_base_url: str
    autotrader_key: str
    autotrader_secret: Secret
    autotrader_webhook_secret: Secret
    autotrader_charge_times_enabled: bool
    autotrader_charge_times_path: str
    webmotors_base_url: str
    webmotors_client_id: str
    webmotors_client_secret: Secret
    webmotors_leads_token: Secret
    autocosmos_base_url: str
    autocosmos_app_key: str
    autocosmos_app_secret: Secret
    autocosmos_webhook_secret: Secret
    autochat_base_url: str
    autochat_token_url: str
    autochat_client_id: str
    autochat_client_secret: Secret
    http_max_wait_seconds: float
    default_429_pause_seconds: float
    webhook_max_bytes: int
    freshness_hours: float


def _field_name(var: Var) -> str:
    return var.name.removeprefix("DEALER_PIPELINE_").lower()


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse every variable; the first bad one raises `SettingsError` naming it."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for var in VARIABLES:
        raw = env.get(var.name)
        if raw is None:
            raw = var.default()
        values[_field_name(var)] = var.parse(var.name, raw)
    expected = {f.name for f in fields(Settings)}
    assert expected == set(values), f"Settings fields and VARIABLES disagree: {expected ^ set(values)}"
    return Settings(**values)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
