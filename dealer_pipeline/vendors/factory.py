"""The one way a vendor client is built: plain settings in, a ready adapter out.

`ClientSettings` is what a deployment may set for one vendor (base URL, credentials, contract
overrides, policy knobs, concurrency, adapter options); a field left unset falls back to the
`AUTOTRADER_*`, `WEBMOTORS_*`, `AUTOCOSMOS_*` or `AUTOCHAT_*` settings. The Dagster resources
fill one from their config and hand it down, so sources, event follow-ups and publishing all
build their clients here from the same values and a resource override is never ignored.
`VendorClients` carries those settings for code that makes clients on demand (follow-ups).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import sqlalchemy as sa

from dealer_pipeline.dealers_file import DealerEntry
from dealer_pipeline.http import CallLog, VendorClient, VendorPolicy, new_session
from dealer_pipeline.settings import Secret, Settings, get_settings
from dealer_pipeline.vendors import autochat, autocosmos, autotrader, webmotors


@dataclass(frozen=True)
class ClientSettings:
    """One vendor's client settings; None (or empty) means "the environment's"."""

    vendor: str
    base_url: str | None = None
    key: str | None = None  # Autotrader key, Autocosmos AppKey, Webmotors or Autochat client id
    secret: Secret | None = None
    token_url: str | None = None  # Autochat's token endpoint
    contract: Any = None  # the vendor's contract, or a mapping of overrides to it
    policy: Mapping[str, Any] = field(default_factory=dict)  # `VendorPolicy` fields (attempts, timeouts, ...)
    max_in_flight: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)  # adapter fields (page sizes, origin, ...)

    def over(self, defaults: ClientSettings) -> ClientSettings:
        """These settings, with `defaults` wherever they leave a field unset (mappings are merged)."""
        merged: dict[str, Any] = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(defaults, f.name)
            if isinstance(mine, Mapping) and isinstance(theirs, Mapping):
                merged[f.name] = {**theirs, **mine}
            else:
                merged[f.name] = theirs if mine is None or mine == "" else mine
        return replace(self, **merged)


def environment(vendor: str, settings: Settings) -> ClientSettings:
    """A vendor's client settings as the environment gives them."""
    s = settings
    known = {
        autotrader.VENDOR: lambda: ClientSettings(
            vendor, s.autotrader_base_url, s.autotrader_key, s.autotrader_secret, options={
                "charge_times_enabled": s.autotrader_charge_times_enabled,
                "charge_times_path": s.autotrader_charge_times_path}),
        webmotors.VENDOR: lambda: ClientSettings(vendor, s.webmotors_base_url, s.webmotors_client_id,
                                                 s.webmotors_client_secret),
        autocosmos.VENDOR: lambda: ClientSettings(vendor, s.autocosmos_base_url, s.autocosmos_app_key,
                                                  s.autocosmos_app_secret),
        autochat.VENDOR: lambda: ClientSettings(vendor, s.autochat_base_url, s.autochat_client_id,
                                                s.autochat_client_secret, token_url=s.autochat_token_url),
    }
    if vendor not in known:
        raise ValueError(f"unknown vendor {vendor!r}; known: {sorted(known)}")
    return known[vendor]()


@dataclass(frozen=True)
class _Parts:
    """What every client needs, resolved once: the settings and the shared transport arguments."""

    config: ClientSettings
    settings: Settings
    engine: sa.Engine
    run_id: str | None

    @property
    def base_url(self) -> str:
        return str(self.config.base_url).rstrip("/")

    def contract(self, cls: Any) -> Any:
        value = self.config.contract
        return value if isinstance(value, cls) else cls.with_overrides(value)

    def policy(self, cls: type[VendorPolicy], **defaults: Any) -> VendorPolicy:
        return cls(base_url=self.base_url, **{"default_429_pause_seconds": self.settings.default_429_pause_seconds,
                                              **defaults, **dict(self.config.policy)})

    def client(self, policy: VendorPolicy, auth: Any, **shared: Any) -> VendorClient:
        return VendorClient(policy, engine=self.engine, auth=auth, max_wait_seconds=self.settings.http_max_wait_seconds,
                            run_id=self.run_id, max_in_flight=self.config.max_in_flight or 16, **shared)


def _autotrader(p: _Parts, dealer: DealerEntry | None) -> autotrader.AutotraderClient:
    auth = autotrader.AutotraderAuth(p.base_url, str(p.config.key), _secret(p.config.secret))
    return autotrader.AutotraderClient(http=p.client(p.policy(autotrader.AutotraderPolicy), auth), **p.config.options)


def _autocosmos(p: _Parts, dealer: DealerEntry | None) -> autocosmos.AutocosmosClient:
    contract = p.contract(autocosmos.AutocosmosContract)
    signer = autocosmos.AutocosmosSigner(str(p.config.key), _secret(p.config.secret), contract)
    return autocosmos.AutocosmosClient(http=p.client(p.policy(autocosmos.AutocosmosPolicy), signer),
                                       contract=contract, **p.config.options)


def _autochat(p: _Parts, dealer: DealerEntry | None) -> autochat.AutochatClient:
    contract = p.contract(autochat.AutochatContract)
    auth = autochat.AutochatAuth(str(p.config.token_url).rstrip("/"), str(p.config.key), _secret(p.config.secret),
                                 contract.audience)
    policy = p.policy(autochat.AutochatPolicy, status_table=contract.status_table())
    return autochat.AutochatClient(http=p.client(policy, auth), contract=contract, **p.config.options)


def _webmotors(p: _Parts, dealer: DealerEntry | None) -> webmotors.WebmotorsClient:
    if dealer is None or dealer.source != webmotors.VENDOR or dealer.webmotors is None:
        raise ValueError(f"dealer {getattr(dealer, 'dealer_id', None)!r} is not a Webmotors dealer with credentials")
    contract = p.contract(webmotors.WebmotorsContract)
    login = dealer.webmotors
    auth = webmotors.WebmotorsAuth(
        p.base_url, str(p.config.key), _secret(p.config.secret), login.username, login.password, dealer.dealer_id,
        contract, credential_source=f"the values of {login.username_env} and {login.password_env} (named in the "
                                    f"dealers file)")
    policy = p.policy(webmotors.WebmotorsPolicy)
    session = new_session()
    shared = {"session": session, "call_log": CallLog(p.engine)}
    options = {"stock_page_size": contract.max_page_size, **p.config.options}
    return webmotors.WebmotorsClient(
        http=p.client(policy, auth, **shared), once=p.client(policy, auth, **shared), dealer_id=dealer.dealer_id,
        cnpj=dealer.source_dealer_id, contract=contract, session=session, **options)


_BUILDERS: Mapping[str, Callable[[_Parts, DealerEntry | None], Any]] = {
    autotrader.VENDOR: _autotrader, autocosmos.VENDOR: _autocosmos, autochat.VENDOR: _autochat,
    webmotors.VENDOR: _webmotors,
}


def build_client(config: ClientSettings, *, engine: sa.Engine | None = None, run_id: str | None = None,
                 settings: Settings | None = None, dealer: DealerEntry | None = None) -> Any:
    """The vendor's client (a Webmotors client serves one `dealer`), from `config` over the environment."""
    from dealer_pipeline.store.engine import get_engine

    settings = settings or get_settings()
    parts = _Parts(config.over(environment(config.vendor, settings)), settings, engine or get_engine(), run_id)
    return _BUILDERS[config.vendor](parts, dealer)


def _secret(value: Secret | str | None) -> Secret:
    return value if isinstance(value, Secret) else Secret(value or "")


@dataclass(frozen=True)
class VendorClients:
    """Clients made on demand for one run, each from its vendor's settings (the environment's if not given)."""

    engine: sa.Engine
    run_id: str | None = None
    configs: Mapping[str, ClientSettings] = field(default_factory=dict)
    settings: Settings | None = None

    def get(self, vendor: str, dealer: DealerEntry | None = None) -> Any:
        config = self.configs.get(vendor) or ClientSettings(vendor)
        return build_client(config, engine=self.engine, run_id=self.run_id, settings=self.settings, dealer=dealer)

    def autotrader(self) -> autotrader.AutotraderClient:
        return self.get(autotrader.VENDOR)

    def webmotors(self, dealer: str) -> webmotors.WebmotorsClient:
        """The client of `webmotors:<CNPJ>` (or the bare CNPJ) as the dealers file lists it."""
        return self.get(webmotors.VENDOR, webmotors.dealer_entry(dealer))
