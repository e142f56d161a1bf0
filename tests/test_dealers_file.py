"""The dealers file: the interface.md example loads; every mistake names the dealer and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealer_pipeline.dealers_file import DealersFileError, cnpj_is_valid, load_dealers, parse_dealers

EXAMPLE = """
dealers:
  - dealer_id: "webmotors:03347828000109"      # webmotors:<CNPJ digits>
    name: "Loja Exemplo"
    webmotors:
      username_env: WM_03347828000109_USER
      password_env: WM_03347828000109_PASSWORD
    publish:
      autocosmos: {adminmail: "ventas@agencia.com.ar"}
      autochat: {dealership_id: "dlr-001"}
  - dealer_id: "autotrader:10012345"
    publish:
      autochat: {dealership_id: "dlr-002"}
"""
ENV = {"WM_03347828000109_USER": "integrador@loja.com.br", "WM_03347828000109_PASSWORD": "pw-never-printed"}


def _parse(text: str, env: dict[str, str] | None = None):
    return parse_dealers(text, path=Path("dealers.yaml"), environ=ENV if env is None else env)


def test_the_interface_example_loads() -> None:
    dealers = _parse(EXAMPLE)
    wm, at = dealers.dealers
    assert (wm.source, wm.source_dealer_id, wm.name) == ("webmotors", "03347828000109", "Loja Exemplo")
    assert wm.webmotors.username == "integrador@loja.com.br"
    assert wm.webmotors.password.reveal() == "pw-never-printed"
    assert "pw-never-printed" not in repr(dealers)
    assert wm.autocosmos_adminmail == "ventas@agencia.com.ar" and wm.publishes_to("autochat")
    assert at.source == "autotrader" and at.webmotors is None and not at.publishes_to("autocosmos")
    assert dealers.by_adminmail("VENTAS@agencia.com.ar") == wm
    assert [d.dealer_id for d in dealers.of_source("autotrader")] == ["autotrader:10012345"]


@pytest.mark.parametrize(
    ("mutation", "expected"),
    [
        (("publish:\n      autochat: {dealership_id: \"dlr-002\"}", "publish:\n      autochat: {dealership_id: \"dlr-002\", colour: red}"),
         "dealer 'autotrader:10012345': unknown key publish.autochat.colour"),
        (("name: \"Loja Exemplo\"", "nmae: \"Loja Exemplo\""), "dealer 'webmotors:03347828000109': unknown key nmae"),
        (("webmotors:03347828000109", "webmotors:03347828000108"), "invalid CNPJ"),
        (("autotrader:10012345", "autotrader:ABC"), "dealer 'autotrader:ABC': dealer_id must be"),
        (("ventas@agencia.com.ar", "ventas-at-agencia"), "publish.autocosmos.adminmail must be an e-mail"),
        (("password_env: WM_03347828000109_PASSWORD", "password_env: WM_MISSING_PASSWORD"),
         "webmotors.password_env names WM_MISSING_PASSWORD, which is not set"),
        (("  - dealer_id: \"autotrader:10012345\"", "  - dealer_id: \"autotrader:10012345\"\n  - dealer_id: \"autotrader:10012345\""),
         "dealer 'autotrader:10012345': listed twice"),
    ],
)
def test_mistakes_name_the_dealer_and_field(mutation: tuple[str, str], expected: str) -> None:
    old, new = mutation
    assert old in EXAMPLE
    with pytest.raises(DealersFileError, match=expected):
        _parse(EXAMPLE.replace(old, new, 1))


def test_webmotors_dealer_needs_credentials() -> None:
    with pytest.raises(DealersFileError, match="webmotors.*is required"):
        _parse('dealers:\n  - dealer_id: "webmotors:11222333000181"\n')


def test_missing_file_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(DealersFileError, match="dealers file not found"):
        load_dealers(tmp_path / "nope.yaml", environ={})


def test_malformed_yaml_is_reported() -> None:
    with pytest.raises(DealersFileError, match="not valid YAML"):
        _parse("dealers: [\n  - {")


def test_cnpj_check_digits() -> None:
    assert cnpj_is_valid("03347828000109") and cnpj_is_valid("11222333000181")
    assert not cnpj_is_valid("11222333000182") and not cnpj_is_valid("00000000000000") and not cnpj_is_valid("123")
