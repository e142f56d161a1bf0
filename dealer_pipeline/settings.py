"""Every environment variable the project reads, read once and validated in one place.

`Settings` is a pydantic model whose field aliases are the variable names. A bad value fails at
start-up with a message naming the variable; secrets are `Secret`s (pydantic's `SecretStr`,
which never shows its value in `repr`/`str`), so they cannot leak through logs, Dagster metadata
or exception text by accident.
"""

from __future__ import annotations

import functools
import ipaddress
import os
from pathlib import Path
from typing import Annotated, Any, Mapping, NamedTuple, Optional
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator, BaseModel, ConfigDict, Field, PositiveFloat, PositiveInt, SecretStr,
    ValidationError,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from dealer_pipeline.paths import dagster_home
from dealer_pipeline.validation import NotBlank, ProblemTemplates, Text, describe

# The sandbox (`dealer-pipeline sandbox serve`) listens here by default and accepts these
# demonstration credentials; with no configuration the pipeline talks to it.
SANDBOX_URL = "http://127.0.0.1:8765"


class SettingsError(ValueError):
    """A variable is missing or malformed; the message names it."""


class Secret(SecretStr):
    """A credential that prints as asterisks; `reveal()` is the only way to the value."""

    def reveal(self) -> str:
        return self.get_secret_value()

    def __reduce__(self):  # pickling would put the value on disk or the wire
        raise TypeError("Secret values cannot be pickled")


def _http_url(raw: str) -> str:
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an absolute http(s) URL, got {raw!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"must not carry a query or fragment, got {raw!r}")
    return raw.rstrip("/")


def _database_url(raw: str) -> str:
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ValueError(f"is not a SQLAlchemy URL: {exc}") from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"must be a sqlite or postgresql URL, got backend {url.get_backend_name()!r}")
    if url.drivername in ("postgresql", "postgres"):
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which is not installed.
        url = url.set(drivername="postgresql+psycopg2")
    return url.render_as_string(hide_password=False)


def _file_path(path: Path) -> Path:
    path = path.expanduser()
    if path.exists() and not path.is_file():
        raise ValueError(f"must name a file, {str(path)!r} is a directory")
    return path


def _secret_http_url(secret: Secret) -> Secret:
    """An absolute http(s) URL whose value is never quoted back (its path is the credential)."""
    parts = urlsplit(secret.reveal())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL")
    return secret


HttpUrl = Annotated[str, AfterValidator(_http_url)]
DatabaseUrl = Annotated[str, AfterValidator(_database_url)]
FilePath = Annotated[Path, AfterValidator(_file_path)]
SecretText = Annotated[Secret, *NotBlank]
WebhookSecret = Annotated[Secret, *NotBlank, AfterValidator(_secret_http_url)]

# What each kind of pydantic error means for a variable read from the environment.
_PROBLEMS: ProblemTemplates = {
    "too_short": "is set but empty",
    "float_parsing": "must be a number, got {input!r}",
    "int_parsing": "must be a whole number, got {input!r}",
    "greater_than": "must be greater than {gt}, got {input!r}",
    "bool_parsing": "must be true or false, got {input!r}",
}


def _var(name: str, default: Any, doc: str, **extra: Any) -> Any:
    """A field read from `name`; defaults are written as the environment would spell them."""
    factory = default if callable(default) else None
    return Field(alias=name, description=doc, **({"default_factory": factory} if factory else {"default": default}),
                 **extra)


def _default_db() -> str:
    return f"sqlite:///{dagster_home() / 'dealer_pipeline.sqlite'}"


def _default_dealers_file() -> str:
    return str(dagster_home() / "sandbox-dealers.yaml")


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, validate_default=True, extra="ignore", populate_by_name=True)

    # The URL may hold the database password: engines render it hidden, and so does repr.
    database_url: DatabaseUrl = _var("DEALER_PIPELINE_DATABASE_URL", _default_db,
                                     "SQLAlchemy URL of the canonical store", repr=False)
    dealers_file: FilePath = _var("DEALER_PIPELINE_DEALERS_FILE", _default_dealers_file, "YAML of dealers and targets")
    autotrader_base_url: HttpUrl = _var("AUTOTRADER_BASE_URL", f"{SANDBOX_URL}/autotrader",
                                        "Autotrader Connect base URL")
    autotrader_key: Text = _var("AUTOTRADER_KEY", "sandbox-at-key", "Autotrader API key")
    autotrader_secret: SecretText = _var("AUTOTRADER_SECRET", "sandbox-at-secret", "Autotrader API secret")
    autotrader_webhook_secret: SecretText = _var("AUTOTRADER_WEBHOOK_SECRET", "sandbox-at-webhook-secret",
                                                 "Autotrader notification secret")
    autotrader_webhook_secret_previous: Optional[SecretText] = _var(
        "AUTOTRADER_WEBHOOK_SECRET_PREVIOUS", None, "the notification secret being rotated out (also accepted)")
    autotrader_charge_times_enabled: bool = _var("AUTOTRADER_CHARGE_TIMES_ENABLED", "true",
                                                 "fetch charge times for EV/PHEV stock")
    autotrader_charge_times_path: Text = _var("AUTOTRADER_CHARGE_TIMES_PATH", "/stock/{stockId}/charge-times",
                                              "charge-times path template (unconfirmed by the vendor)")
    webmotors_base_url: HttpUrl = _var("WEBMOTORS_BASE_URL", f"{SANDBOX_URL}/webmotors", "Webmotors API base URL")
    webmotors_client_id: Text = _var("WEBMOTORS_CLIENT_ID", "sandbox-wm-client", "Webmotors app client id")
    webmotors_client_secret: SecretText = _var("WEBMOTORS_CLIENT_SECRET", "sandbox-wm-secret",
                                               "Webmotors app client secret")
    webmotors_leads_token: SecretText = _var("WEBMOTORS_LEADS_TOKEN", "sandbox-wm-leads-token",
                                             "secret token of the lead callback URL")
    webmotors_leads_token_previous: Optional[SecretText] = _var(
        "WEBMOTORS_LEADS_TOKEN_PREVIOUS", None, "the lead callback token being rotated out (also accepted)")
    autocosmos_base_url: HttpUrl = _var("AUTOCOSMOS_BASE_URL", f"{SANDBOX_URL}/autocosmos", "Autocosmos v3 base URL")
    autocosmos_app_key: Text = _var("AUTOCOSMOS_APP_KEY", "sandbox-ac-app-key", "Autocosmos AppKey")
    autocosmos_app_secret: SecretText = _var("AUTOCOSMOS_APP_SECRET", "sandbox-ac-app-secret", "Autocosmos AppSecret")
    autocosmos_webhook_secret: SecretText = _var("AUTOCOSMOS_WEBHOOK_SECRET", "sandbox-ac-webhook-secret-0001",
                                                 "Autocosmos webhook secret")
    autocosmos_webhook_secret_previous: Optional[SecretText] = _var(
        "AUTOCOSMOS_WEBHOOK_SECRET_PREVIOUS", None, "the webhook secret being rotated out (also accepted)")
    autochat_base_url: HttpUrl = _var("AUTOCHAT_BASE_URL", f"{SANDBOX_URL}/autochat", "Autochat API base URL")
    autochat_token_url: HttpUrl = _var("AUTOCHAT_TOKEN_URL", f"{SANDBOX_URL}/autochat/oauth/token",
                                       "Autochat token URL")
    autochat_client_id: Text = _var("AUTOCHAT_CLIENT_ID", "sandbox-ach-client", "Autochat client id")
    autochat_client_secret: SecretText = _var("AUTOCHAT_CLIENT_SECRET", "sandbox-ach-secret", "Autochat client secret")
    http_max_wait_seconds: PositiveFloat = _var(
        "DEALER_PIPELINE_HTTP_MAX_WAIT_SECONDS", "120",
        "total time one call may spend waiting on pauses and retries before it fails")
    default_429_pause_seconds: PositiveFloat = _var("DEALER_PIPELINE_DEFAULT_429_PAUSE_SECONDS", "30",
                                                    "pause after a 429 without Retry-After")
    webhook_max_bytes: PositiveInt = _var("DEALER_PIPELINE_WEBHOOK_MAX_BYTES", "1048576", "largest webhook body accepted")
    freshness_hours: PositiveFloat = _var("DEALER_PIPELINE_FRESHNESS_HOURS", "26",
                                          "a dealer whose last complete baseline is older than this is stale")
    alert_webhook_url: Optional[WebhookSecret] = _var(
        "DEALER_PIPELINE_ALERT_WEBHOOK_URL", None,
        "Slack-compatible incoming webhook the alert sensors post to (a secret; unset: alerts are only logged)")
    ui_base_url: HttpUrl = _var("DEALER_PIPELINE_UI_BASE_URL", "http://127.0.0.1:3000",
                                "the Dagster UI as people open it, for the run links in alerts")


class Var(NamedTuple):
    """One environment variable, as the README documents it."""

    name: str
    doc: str


VARIABLES: tuple[Var, ...] = tuple(Var(f.alias or n, f.description or "") for n, f in Settings.model_fields.items())
_SECRET_VARIABLES = frozenset(f.alias for f in Settings.model_fields.values()
                              if f.annotation in (Secret, Optional[SecretText], Optional[WebhookSecret]))
_ALIASES = {f.alias: name for name, f in Settings.model_fields.items()}

# Each vendor's URLs and the variables that are its credentials. The defaults are the sandbox's
# own (public, in this repository), so they apply only while every URL of that vendor is loopback.
_VENDORS: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("AUTOTRADER_BASE_URL",), ("AUTOTRADER_KEY", "AUTOTRADER_SECRET", "AUTOTRADER_WEBHOOK_SECRET")),
    (("WEBMOTORS_BASE_URL",), ("WEBMOTORS_CLIENT_ID", "WEBMOTORS_CLIENT_SECRET", "WEBMOTORS_LEADS_TOKEN")),
    (("AUTOCOSMOS_BASE_URL",), ("AUTOCOSMOS_APP_KEY", "AUTOCOSMOS_APP_SECRET", "AUTOCOSMOS_WEBHOOK_SECRET")),
    (("AUTOCHAT_BASE_URL", "AUTOCHAT_TOKEN_URL"), ("AUTOCHAT_CLIENT_ID", "AUTOCHAT_CLIENT_SECRET")),
)


def is_loopback_host(host: str | None) -> bool:
    """`localhost` or a loopback address: this machine, where the sandbox runs."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


_WEBHOOK_SECRETS = ("AUTOTRADER_WEBHOOK_SECRET", "AUTOCOSMOS_WEBHOOK_SECRET", "WEBMOTORS_LEADS_TOKEN")


def sandbox_webhook_secrets(settings: Settings) -> list[str]:
    """The webhook secrets still at the sandbox's public value (fine only on loopback)."""
    return [name for name in _WEBHOOK_SECRETS
            if getattr(settings, _ALIASES[name]).reveal() == Settings.model_fields[_ALIASES[name]].default]


def _outside_the_sandbox(settings: Settings, given: Mapping[str, str]) -> list[str]:
    """Problems of the vendors configured away from loopback: plain http, sandbox credentials."""
    problems = []
    for url_names, secret_names in _VENDORS:
        urls = {name: getattr(settings, _ALIASES[name]) for name in url_names}
        remote = [name for name, url in urls.items() if not is_loopback_host(urlsplit(url).hostname)]
        if not remote:
            continue
        problems += [f"{name} must be https outside the local sandbox, got {urls[name]!r}"
                     for name in remote if urlsplit(urls[name]).scheme != "https"]
        for name in secret_names:
            default = Settings.model_fields[_ALIASES[name]].default
            if name not in given:
                problems.append(f"{name} must be set: {remote[0]} is not the local sandbox")
            elif given[name].strip() == default:
                problems.append(f"{name} is the sandbox's public value: {remote[0]} is not the local sandbox")
    return problems


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse every variable; a bad one raises `SettingsError` naming it (the value only if not secret)."""
    env = os.environ if environ is None else environ
    given = {var.name: env[var.name] for var in VARIABLES if var.name in env}
    try:
        settings = Settings.model_validate(given)
    except ValidationError as exc:
        problems = [f"{error['loc'][0]} {describe(error, _PROBLEMS, secret=error['loc'][0] in _SECRET_VARIABLES)}"
                    for error in exc.errors()]
    else:
        problems = _outside_the_sandbox(settings, given)
        if not problems:
            return settings
    # Raised outside the `except` so the ValidationError (which quotes inputs) is not chained.
    raise SettingsError("; ".join(problems))


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
