"""`vendors.factory`: one way to build every vendor client, from the environment or from a resource's
settings. What a resource sets reaches the client; what it leaves unset is the environment's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from dealer_pipeline.dealers_file import parse_dealers
from dealer_pipeline.defs.publishing.autochat import AutochatResource
from dealer_pipeline.defs.catalogue.resources import AutocosmosResource
from dealer_pipeline.defs.sources.autotrader import AutotraderResource
from dealer_pipeline.defs.sources.webmotors import WebmotorsResource
from dealer_pipeline.settings import Secret, Settings, load_settings
from dealer_pipeline.vendors.autochat import AutochatClient
from dealer_pipeline.vendors.autocosmos import AutocosmosClient, AutocosmosSigner
from dealer_pipeline.vendors.autotrader import AutotraderClient
from dealer_pipeline.vendors.factory import ClientSettings, VendorClients, build_client, environment
from dealer_pipeline.vendors.webmotors import WebmotorsClient

ENV = {"AUTOTRADER_BASE_URL": "http://127.0.0.1:8101/at/", "AUTOTRADER_KEY": "env-key",
       "AUTOTRADER_SECRET": "env-secret", "WEBMOTORS_BASE_URL": "http://127.0.0.1:8101/wm",
       "AUTOCOSMOS_BASE_URL": "http://127.0.0.1:8101/ac", "AUTOCHAT_BASE_URL": "http://127.0.0.1:8101/ach",
       "AUTOCHAT_TOKEN_URL": "http://127.0.0.1:8102/oauth/token",
       "DEALER_PIPELINE_DEFAULT_429_PAUSE_SECONDS": "12", "DEALER_PIPELINE_HTTP_MAX_WAIT_SECONDS": "45",
       "WM_USER_1": "loja1", "WM_PASS_1": "pass-1"}
DEALERS = """
dealers:
  - dealer_id: webmotors:03347828000109
    webmotors: {username_env: WM_USER_1, password_env: WM_PASS_1}
  - dealer_id: autotrader:10012345
"""


@pytest.fixture
def settings() -> Settings:
    return load_settings(ENV)


@pytest.fixture
def engine() -> sa.Engine:
    return sa.create_engine("sqlite://")  # building a client sends nothing and reads nothing


def _dealer(name: str) -> Any:
    return parse_dealers(DEALERS, path=Path("dealers.yaml"), environ=ENV).by_id()[name]


def test_set_fields_win_unset_fall_back_and_mappings_merge() -> None:
    env = ClientSettings("v", "https://env", "env-key", Secret("env"), policy={"max_attempts": 5, "x": 1},
                         max_in_flight=16, options={"a": 1})
    mine = ClientSettings("v", None, "", None, policy={"max_attempts": 2}, options={"b": 2})
    merged = mine.over(env)
    assert (merged.base_url, merged.key, merged.secret, merged.max_in_flight) == (
        "https://env", "env-key", env.secret, 16)
    assert merged.policy == {"max_attempts": 2, "x": 1} and merged.options == {"a": 1, "b": 2}


def test_every_vendor_is_built_from_the_environment(settings: Settings, engine: sa.Engine) -> None:
    autotrader = build_client(ClientSettings("autotrader"), engine=engine, settings=settings, run_id="r1")
    assert isinstance(autotrader, AutotraderClient)
    http = autotrader.http
    assert (http.policy.base_url, http.auth.key, http.auth.secret.reveal()) == (  # type: ignore[union-attr]
        "http://127.0.0.1:8101/at", "env-key", "env-secret")
    assert (http.policy.default_429_pause_seconds, http.max_wait_seconds, http.run_id, http.max_in_flight) == (
        12.0, 45.0, "r1", 16)
    cosmos = build_client(ClientSettings("autocosmos"), engine=engine, settings=settings)
    assert isinstance(cosmos, AutocosmosClient) and isinstance(cosmos.http.auth, AutocosmosSigner)
    chat = build_client(ClientSettings("autochat"), engine=engine, settings=settings)
    assert isinstance(chat, AutochatClient)
    assert chat.http.auth.token_url == "http://127.0.0.1:8102/oauth/token"  # type: ignore[union-attr]
    wm = build_client(ClientSettings("webmotors"), engine=engine, settings=settings,
                      dealer=_dealer("webmotors:03347828000109"))
    assert isinstance(wm, WebmotorsClient) and wm.http.session is wm.once.session is wm.session
    assert (wm.cnpj, wm.stock_page_size, wm.http.auth.username) == (  # type: ignore[union-attr]
        "03347828000109", 100, "loja1")
    for client in (autotrader, cosmos, chat, wm):
        client.close()


def test_what_a_resource_sets_reaches_its_client(settings: Settings, engine: sa.Engine,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("dealer_pipeline.vendors.factory.get_settings", lambda: settings)
    with AutotraderResource(base_url="https://other.example", key="k2", secret="s2", max_in_flight=3,
                            max_attempts=2, stock_page_size=50).client(engine, "run-9") as at:
        assert (at.http.policy.base_url, at.http.auth.key, at.http.auth.secret.reveal()) == (  # type: ignore
            "https://other.example", "k2", "s2")
        assert (at.http.max_in_flight, at.http.policy.max_attempts, at.stock_page_size, at.http.run_id) == (
            3, 2, 50, "run-9")
        assert at.charge_times_enabled is settings.autotrader_charge_times_enabled  # unset: the environment's
    with AutocosmosResource(base_url="https://ac2.example", contract={"amount_field": "Importe"},
                            max_attempts=7).client(engine) as ac:
        assert (ac.http.policy.base_url, ac.contract.amount_field, ac.http.policy.max_attempts) == (
            "https://ac2.example", "Importe", 7)
    with AutochatResource(token_url="https://t.example/token", client_id="c2",
                          contract={"duplicate_status": "422"}).client(engine) as ach:
        assert ach.http.auth.token_url == "https://t.example/token"  # type: ignore[union-attr]
        assert ach.http.policy.status_table[422].value == "fail" and ach.contract.duplicate_status == 422
    dealer = _dealer("webmotors:03347828000109")
    with WebmotorsResource(base_url="https://wm2.example", client_secret="cs2", stock_page_size=20,
                           origin="Outro", contract={"max_page_size": "40"}).client(engine, dealer) as wm:
        assert (wm.http.policy.base_url, wm.http.auth.client_secret.reveal(), wm.stock_page_size, wm.origin) == (  # type: ignore
            "https://wm2.example", "cs2", 20, "Outro")
        assert wm.contract.max_page_size == 40


def test_bad_settings_fail_before_any_call(settings: Settings, engine: sa.Engine) -> None:
    with pytest.raises(ValueError, match="unknown vendor"):
        build_client(ClientSettings("nobody"), engine=engine, settings=settings)
    with pytest.raises(ValueError, match="not a Webmotors dealer"):
        build_client(ClientSettings("webmotors"), engine=engine, settings=settings)
    with pytest.raises(ValueError, match="not a Webmotors dealer"):
        build_client(ClientSettings("webmotors"), engine=engine, settings=settings,
                     dealer=_dealer("autotrader:10012345"))
    with pytest.raises(ValueError, match="stock page size must be between 1 and 100"):
        build_client(ClientSettings("webmotors", options={"stock_page_size": 500}), engine=engine, settings=settings,
                     dealer=_dealer("webmotors:03347828000109"))
    with pytest.raises(ValueError, match="unknown Autocosmos contract setting"):
        build_client(ClientSettings("autocosmos", contract={"amount": "x"}), engine=engine, settings=settings)
    with pytest.raises(TypeError):
        build_client(ClientSettings("autotrader", policy={"max_atempts": 3}), engine=engine, settings=settings)


def test_clients_on_demand_use_the_settings_given_else_the_environment(settings: Settings, engine: sa.Engine) -> None:
    clients = VendorClients(engine, "run-3", {"autotrader": ClientSettings("autotrader", "https://given.example")},
                            settings=settings)
    with clients.autotrader() as given, clients.get("autochat") as chat:
        assert (given.http.policy.base_url, given.http.run_id) == ("https://given.example", "run-3")
        assert chat.http.policy.base_url == environment("autochat", settings).base_url.rstrip("/")  # type: ignore
