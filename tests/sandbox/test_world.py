"""The generated world: deterministic from its seed, realistic proportions, valid identifiers."""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

import requests
import yaml

from dealer_pipeline.dealers_file import cnpj_is_valid, load_dealers
from dealer_pipeline.sandbox.br_stock import cnpj_check_digits
from dealer_pipeline.sandbox.reference import BR_MODELS, UK_DERIVATIVES, UK_DERIVATIVES_BY_ID, UK_MODELS
from dealer_pipeline.sandbox.runner import SandboxHandle
from dealer_pipeline.sandbox.world import SandboxWorld


def test_same_seed_same_world_different_seed_different_world() -> None:
    first = SandboxWorld(seed=11, dealers=4, vehicles=30).fingerprint()
    assert SandboxWorld(seed=11, dealers=4, vehicles=30).fingerprint() == first
    assert SandboxWorld(seed=12, dealers=4, vehicles=30).fingerprint() != first


def test_generation_does_not_depend_on_access_order() -> None:
    forward = SandboxWorld(seed=3, dealers=5, vehicles=20, cache_dealers=1)
    backward = SandboxWorld(seed=3, dealers=5, vehicles=20, cache_dealers=1)
    ids = [a.advertiser_id for a in forward.uk_advertisers]
    first = {i: [item.encode() for item in forward.uk_stock(i).all()] for i in ids}
    last_item = backward.uk_stock(ids[-1]).slice(19, 1)[0]
    second = {i: [item.encode() for item in backward.uk_stock(i).all()] for i in reversed(ids)}
    assert first == second
    assert last_item.encode() == first[ids[-1]][19]
    stock_id = first[ids[2]][7]
    found = SandboxWorld(seed=3, dealers=5, vehicles=20).find_uk_item(json.loads(stock_id)["metadata"]["stockId"])
    assert found is not None and found[1].encode() == stock_id


def test_proportions_are_realistic() -> None:
    world = SandboxWorld(seed=5, dealers=25, vehicles=80)
    records = [json.loads(item.encode()) for _, item in world.iter_uk_items()]
    states = collections.Counter(r["metadata"]["lifecycleState"] for r in records)
    assert set(states) == {"FORECOURT", "DUE_IN", "SALE_IN_PROGRESS", "SOLD", "WASTEBIN", "DELETED"}
    assert 0.72 < states["FORECOURT"] / len(records) < 0.88
    reserved = sum(r["adverts"]["reservationStatus"] == "Reserved" for r in records) / len(records)
    published = sum(r["adverts"]["retailAdverts"]["advertiserAdvert"]["status"] == "PUBLISHED" for r in records)
    assert 0.02 < reserved < 0.2 and 0.7 < published / len(records) < 0.95
    fuels = collections.Counter(r["vehicle"]["fuelType"] for r in records)
    assert {"Electric", "Petrol Plug-in Hybrid", "Petrol", "Diesel", "Petrol Hybrid"} <= set(fuels)
    assert all(isinstance(r["adverts"]["forecourtPrice"]["amountGBP"], int) for r in records)
    assert len({r["metadata"]["stockId"] for r in records}) == len(records)
    assert len({r["metadata"]["searchId"] for r in records}) == len(records)
    assert sum(not r["media"]["images"] for r in records) > 0
    uk = world.uk_advertisers
    assert [a.index for a in uk if not a.on_integration] == [3] and [a.index for a in uk if not a.stock_sync] == [7]
    hits = [json.loads(blob) for d in world.br_dealers for blob in world.br_stock(d.cnpj).all()]
    statuses = collections.Counter(h["status"] for h in hits)
    assert statuses["Ativo"] / len(hits) > 0.75 and statuses["Vendido"] and statuses["Inativo"]
    assert collections.Counter(h["vehicle"]["fuel"]["name"] for h in hits).most_common(1)[0][0] == "Flex"
    assert all(re.match(r"^\d+\.\d{2}$", h["price"]) for h in hits)
    assert [d.index for d in world.br_dealers if not d.stock_integration] == [4, 14, 24]


def test_identifiers_are_valid() -> None:
    world = SandboxWorld(seed=9, dealers=30, vehicles=1)
    assert cnpj_check_digits("033478280001") == "09"  # the contract's 03.347.828/0001-09
    for dealer in world.br_dealers:
        assert re.match(r"^\d{14}$", dealer.cnpj) and cnpj_is_valid(dealer.cnpj)
    assert len({d.cnpj for d in world.br_dealers}) == 30
    assert all(a.advertiser_id.isdigit() for a in world.uk_advertisers)
    assert len({a.advertiser_id for a in world.uk_advertisers}) == 30
    mails = [d.publish.autocosmos_adminmail for d in [*world.uk_advertisers, *world.br_dealers]]
    assert len({m for m in mails if m}) == sum(1 for m in mails if m)
    assert world.autocosmos_agency(mails[0].upper()) is not None
    assert any(not d.integration_enabled for d in world.autochat_dealerships.values())
    assert any(not a.linked for a in world.autocosmos_agencies.values())


def test_reference_data() -> None:
    assert len({m.make for m in UK_MODELS}) >= 15 and len({m.make for m in BR_MODELS}) == 8
    assert len(UK_DERIVATIVES_BY_ID) == len(UK_DERIVATIVES)
    assert all(re.match(r"^[0-9a-f]{32}$", d.derivative_id) for _, d in UK_DERIVATIVES)
    tucson = UK_DERIVATIVES_BY_ID["35eef09b60b1422b8d4902aa22f841cd"]
    assert tucson[0].model == "Tucson" and tucson[1].power_ps == 132 and tucson[1].power_bhp == 130
    assert all(2 <= len(m.derivatives) or m.model in ("i3", "Juke", "Picanto", "i10", "Zoe", "Captur", "Fabia",
                                                       "Enyaq", "HS") for m in UK_MODELS)
    assert all(v.name == v.name.upper() for m in BR_MODELS for v in m.versions)


def test_dealers_file_loads_with_the_pipeline_parser(tmp_path: Path) -> None:
    world = SandboxWorld(seed=7, dealers=6, vehicles=1)
    env_file = world.write_dealers_file(tmp_path / "dealers.yaml")
    environ = dict(line.removeprefix("export ").split("=", 1) for line in env_file.read_text().splitlines()
                   if line.startswith("export "))
    environ = {k: v.strip("'") for k, v in environ.items()}
    parsed = load_dealers(tmp_path / "dealers.yaml", environ=environ)
    webmotors = parsed.of_source("webmotors")
    assert len(webmotors) == 6
    assert {d.webmotors.username for d in webmotors} == {d.username for d in world.br_dealers}
    assert all(d.webmotors.password.reveal() == world.br_dealer(d.source_dealer_id).password for d in webmotors)
    autotrader = parsed.of_source("autotrader")
    assert autotrader and all(d.autocosmos_adminmail or d.autochat_dealership_id for d in autotrader)
    raw = yaml.safe_load((tmp_path / "dealers.yaml").read_text())
    assert set(raw) == {"dealers"}
    assert all(set(entry) <= {"dealer_id", "name", "webmotors", "publish"} for entry in raw["dealers"])
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"


def test_same_seed_gives_the_same_data_over_http(fresh_sandbox: Callable[..., SandboxHandle],
                                                 sandbox: SandboxHandle) -> None:
    twin = fresh_sandbox(seed=7, dealers=3, vehicles=25)
    other = fresh_sandbox(seed=8, dealers=3, vehicles=25)
    prints = [s.control("GET", "/world/fingerprint")["fingerprint"] for s in (sandbox, twin, other)]
    assert prints[0] == prints[1] != prints[2]
    assert SandboxWorld(7, 3, 25, media_base="http://sandbox").fingerprint() == prints[0]
    dealer = twin.world()["autotrader"][1]["advertiser_id"]
    pages = []
    for s in (twin, other):
        token = requests.post(f"{s.url('autotrader')}/authenticate",
                              data={"key": "sandbox-at-key", "secret": "sandbox-at-secret"}, timeout=10).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        advertiser = s.world()["autotrader"][1]["advertiser_id"]
        pages.append(requests.get(f"{s.url('autotrader')}/stock", params={"advertiserId": advertiser, "pageSize": 200},
                                  headers=headers, timeout=10).text.replace(s.base_url, "BASE"))
    world = SandboxWorld(7, 3, 25, media_base="BASE")
    expected = [item.encode() for item in world.uk_stock(dealer).all()]
    assert json.loads(pages[0])["results"] == [json.loads(e) for e in expected]
    assert pages[0] != pages[1]


def test_cli_serve_help_and_module_entry_point() -> None:
    from click.testing import CliRunner

    from dealer_pipeline.cli import cli

    result = CliRunner().invoke(cli, ["sandbox", "serve", "--help"])
    assert result.exit_code == 0
    for option in ("--host", "--port", "--seed", "--dealers", "--vehicles", "--dealers-file", "--receiver",
                   "--token-ttl"):
        assert option in result.output
    module = subprocess.run([sys.executable, "-m", "dealer_pipeline.sandbox", "serve", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert module.returncode == 0 and "--dealers-file" in module.stdout
    bad = subprocess.run([sys.executable, "-m", "dealer_pipeline.sandbox", "serve", "--at-not-integrated", "1"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "no UK advertiser" in bad.stderr


def test_handle_env_points_the_pipeline_at_the_sandbox(sandbox: SandboxHandle) -> None:
    from dealer_pipeline.settings import SANDBOX_URL, load_settings

    settings = load_settings(sandbox.env())
    assert settings.autotrader_base_url == sandbox.url("autotrader")
    assert settings.autochat_token_url == f"{sandbox.base_url}/autochat/oauth/token"
    assert settings.autotrader_secret.reveal() == "sandbox-at-secret"
    defaults = load_settings({})
    assert defaults.autotrader_base_url == f"{SANDBOX_URL}/autotrader"
    from dealer_pipeline.sandbox.cli import DEFAULT_HOST, DEFAULT_PORT
    from dealer_pipeline.sandbox.runtime import DEFAULT_CREDENTIALS

    assert SANDBOX_URL == f"http://{DEFAULT_HOST}:{DEFAULT_PORT}"
    for field, value in DEFAULT_CREDENTIALS.items():
        configured = getattr(defaults, field)
        assert (configured.reveal() if hasattr(configured, "reveal") else configured) == value, field
    load_dealers(Path(sandbox.env()["DEALER_PIPELINE_DEALERS_FILE"]), environ=sandbox.env())


def test_special_dealers_can_be_turned_off() -> None:
    plain = SandboxWorld(seed=5, dealers=30, vehicles=0, special_dealers=False)
    assert all(a.on_integration and a.stock_sync and a.status == "Active" for a in plain.uk_advertisers)
    assert all(d.stock_integration and d.crm_integration for d in plain.br_dealers)
    assert all(a.linked for a in plain.autocosmos_agencies.values())
    assert all(d.integration_enabled for d in plain.autochat_dealerships.values())
    special = SandboxWorld(seed=5, dealers=30, vehicles=0)
    assert [a.advertiser_id for a in special.uk_advertisers] == [a.advertiser_id for a in plain.uk_advertisers]
    assert sum(not a.on_integration for a in special.uk_advertisers) == 2
