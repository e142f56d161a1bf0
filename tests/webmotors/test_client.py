"""The client's publishing and lead calls (status report, lead detail, CRM insertion) against the
sandbox, and its pure helpers (paging guards, listing consistency, contract overrides)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from dealer_pipeline.http import PaginationError, VendorUnavailable
from dealer_pipeline.vendors.webmotors import (
    StockPage,
    WebmotorsContract,
    WebmotorsNotFound,
    collect_listing,
    paginate_stock,
    unwrap_lead,
)
from tests.webmotors.conftest import Harness

STATUS_PREFIX, CRM_PATH = "/marketplace/v1/anuncios/", "/crm/v1/leads"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_report_status_publicado_and_erro(harness: Harness) -> None:
    mine, other = harness.cnpj(0), harness.cnpj(1)
    ad = harness.vendor_hits(mine)[0]["id"]
    foreign = harness.vendor_hits(other)[0]["id"]
    harness.mark()
    harness.sandbox.fault(vendor="webmotors", path=STATUS_PREFIX, method="PUT", status=500)
    with harness.client(mine, policy_overrides={"backoff_base_seconds": 0.05}) as client:
        client.report_status(ad, "Publicado", url=f"https://classificado.example.com/anuncio/{ad}")
        client.report_status(ad, "Erro", message="Foto principal ausente")
        with pytest.raises(ValueError):
            client.report_status(ad, "Publicado")  # no url: refused before any call
        with pytest.raises(WebmotorsNotFound):
            client.report_status(foreign, "Erro", message="x")  # another dealer's ad: 404, not retried
    assert [(c["method"], c["status"]) for c in harness.calls(STATUS_PREFIX)] == [
        ("PUT", 500), ("PUT", 204), ("PUT", 204), ("PUT", 404)]
    reports = harness.sandbox.control("GET", "/webmotors/status-reports", params={"id": ad})
    assert [(r["status"], r["url"], r["mensagem"]) for r in reports[-2:]] == [
        ("Publicado", f"https://classificado.example.com/anuncio/{ad}", None), ("Erro", None, "Foto principal ausente")]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_get_lead_detail_and_unknown_lead(harness: Harness) -> None:
    cnpj = harness.cnpj(0)
    lead = harness.sandbox.control("POST", "/webmotors/leads", {"cnpj": cnpj, "deliver": False, "tipo": 2})
    with harness.client(cnpj) as client:
        assert client.get_lead(lead["IdLead"], lead["notice"]["IdTipoLead"]) == lead["detail"]
        assert client.get_lead("1", 2) is None
        assert client.get_lead(lead["IdLead"], 1) is None  # the id with another lead type is not that lead
    assert [c["status"] for c in harness.calls("/lead/")] == [200, 404, 404]


def test_unwrap_lead_accepts_bare_and_wrapped_objects() -> None:
    detail = {"id": 460046, "status": "Não respondido", "cliente": {"nome": "Maria Souza"}}
    assert unwrap_lead(detail) == detail
    assert unwrap_lead({"Retorno": detail}) == detail
    assert unwrap_lead({"data": detail, "status": 200}) == detail
    assert unwrap_lead([detail]) is None and unwrap_lead({}) is None


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_crm_lead_resent_only_after_429_never_after_timeout_or_500(harness: Harness) -> None:
    cnpj = harness.cnpj(0)
    ad = harness.vendor_hits(cnpj)[0]["id"]
    fault = harness.sandbox.fault
    stored_before = len(harness.sandbox.control("GET", "/webmotors/crm-leads"))
    lead: dict[str, Any] = {"nome": "Maria Souza", "email": "maria@example.com", "telefone": "11988887777",
                            "mensagem": "Tenho interesse no Civic.", "anuncio_id": ad}
    with harness.client(cnpj, policy_overrides={"read_timeout_seconds": 0.5}, origin="Classificado Exemplo") as client:
        fault(vendor="webmotors", path=CRM_PATH, method="POST", status=429, retry_after=0.3)
        first = client.insert_crm_lead(**lead)
        harness.mark()
        fault(vendor="webmotors", path=CRM_PATH, method="POST", delay_seconds=1.0)
        with pytest.raises(VendorUnavailable):
            client.insert_crm_lead(**lead)
        timed_out = _finished_calls(harness, CRM_PATH)  # logged by the sandbox once it answered (after 1 s)
        harness.mark()
        fault(vendor="webmotors", path=CRM_PATH, method="POST", status=500)
        with pytest.raises(VendorUnavailable):
            client.insert_crm_lead(**lead)
        failed = harness.calls(CRM_PATH)
        with pytest.raises(ValueError):
            client.insert_crm_lead(nome="Sem Contato")  # neither email nor telefone: refused before any call
    assert isinstance(first, int)
    assert len(timed_out) == 1 and [c["status"] for c in failed] == [500]
    harness.sandbox.settle()
    stored = harness.sandbox.control("GET", "/webmotors/crm-leads")[stored_before:]
    # The 429 was answered before Webmotors acted: one lead. The timed-out one may or may not exist
    # (here the sandbox dropped it when we hung up); either way it was sent once, never twice.
    assert [s["id"] for s in stored][:1] == [first] and len(stored) <= 2
    assert {(s["cnpj"], s["origem"], s["anuncio_id"]) for s in stored} == {(cnpj, "Classificado Exemplo", ad)}


def _finished_calls(harness: Harness, path: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while not (calls := harness.calls(path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return calls


# ---- paging and consistency, on pages made here --------------------------------------------------
def _pages(*pages: list[int], total: int | list[int]) -> Any:
    totals = total if isinstance(total, list) else [total] * len(pages)

    def fetch(number: int) -> StockPage:
        if number > len(pages):
            return StockPage(number, 2, [], totals[-1])
        return StockPage(number, 2, [{"id": i} for i in pages[number - 1]], totals[number - 1])
    return fetch


def _ids(fetch: Any) -> list[int]:
    return [hit["id"] for page in paginate_stock(fetch, 2, lambda h: h["id"], "test") for hit in page.hits]


def test_paging_stops_at_total_or_an_empty_page_and_refuses_repeats() -> None:
    assert _ids(_pages([1, 2], [3, 4], [5], total=5)) == [1, 2, 3, 4, 5]
    assert _ids(_pages([1, 2], [3, 4], total=9)) == [1, 2, 3, 4]  # an empty page ends it
    with pytest.raises(PaginationError, match="repeats page 1"):
        _ids(_pages([1, 2], [1, 2], [3, 4], total=6))
    with pytest.raises(PaginationError, match="beyond total"):  # pages that never add up to total
        list(paginate_stock(lambda n: StockPage(n, 2, [{"id": n}], 5), 2, lambda h: h["id"], "test"))


def test_a_listing_that_moved_during_the_download_is_not_consistent() -> None:
    def key(hit: dict[str, Any]) -> Any:
        return hit["id"]

    steady = collect_listing(paginate_stock(_pages([1, 2], [3], total=3), 2, key, "t"), key)
    assert steady.consistent and [h["id"] for h in steady.hits] == [1, 2, 3]
    shifted = collect_listing(paginate_stock(_pages([1, 2], [2, 3], [4], total=[5, 4, 4]), 2, key, "t"), key)
    assert not shifted.consistent and "total changed" in (shifted.note or "") and "two pages" in (shifted.note or "")
    assert [h["id"] for h in shifted.hits] == [1, 2, 3, 4]


def test_contract_overrides_are_validated() -> None:
    contract = WebmotorsContract.with_overrides({"stock_path": "/marketplace/v1/estoque", "max_page_size": "50",
                                                  "lead_wrappers": "Retorno, resultado"})
    assert (contract.stock_path, contract.max_page_size, contract.lead_wrappers) == (
        "/marketplace/v1/estoque", 50, ("Retorno", "resultado"))
    for bad in ({"stock_pth": "/x"}, {"max_page_size": "many"}, {"stock_path": "estoque"},
                {"status_path": "/anuncios/status"}):
        with pytest.raises(ValueError):
            WebmotorsContract.with_overrides(bad)
