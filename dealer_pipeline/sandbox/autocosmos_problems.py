"""Autocosmos ProblemDetails error bodies (api/autocosmos.md 2.7).

Every error the Autocosmos sandbox returns goes through `problem()`, so the media type,
the PascalCase key order and the exact Titles cannot drift between routes.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Mapping, Sequence

from starlette.responses import Response

PROBLEM_MEDIA_TYPE = "application/problem+json"

TITLES: dict[int, str] = {
    400: "Validación de información esperada fallida",
    401: "No autorizado",
    403: "Operación prohibida",
    404: "Entidad no encontrada",
    409: "Entidad duplicada",
    415: "Tipo de contenido no soportado",
}
ARCHIVED_TITLE = "Publicación archivada"


class Problem(Exception):
    """Raised anywhere in a request; the route turns it into a ProblemDetails response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        errors: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or TITLES.get(status) or HTTPStatus(status).phrase
        self.errors = errors


def validation_failed(errors: Mapping[str, Sequence[str]], detail: str = "Revise los errores de validación.") -> Problem:
    return Problem(400, detail, errors=errors)


def problem_body(problem: Problem, instance: str) -> dict[str, object]:
    body: dict[str, object] = {}
    if problem.status == 400:
        body["Errors"] = {key: list(messages) for key, messages in (problem.errors or {}).items()}
    body.update(
        Type=f"https://httpstatuses.com/{problem.status}",
        Title=problem.title,
        Status=problem.status,
        Detail=problem.detail,
        Instance=instance,
        Extensions={},
    )
    return body


def problem_response(problem: Problem, instance: str) -> Response:
    content = json.dumps(problem_body(problem, instance), ensure_ascii=False, separators=(",", ":"))
    return Response(content.encode("utf-8"), status_code=problem.status, media_type=PROBLEM_MEDIA_TYPE)
