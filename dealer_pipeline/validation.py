"""Turning pydantic's validation errors into sentences that name what is wrong, in our words.

Settings and the dealers file both validate with pydantic; each gives a table of templates, keyed by
pydantic's error type, for the phrase that follows the variable or field's name. Our own validators
raise `ValueError` with the phrase itself.
"""

from __future__ import annotations

from typing import Annotated, Any, Mapping

from pydantic import BeforeValidator, Field
from pydantic_core import ErrorDetails

ProblemTemplates = Mapping[str, str]


def _stripped(raw: Any) -> Any:
    return raw.strip() if isinstance(raw, str) else raw


# Text that must not be blank; a validator may annotate other str-like types the same way.
NotBlank = (BeforeValidator(_stripped), Field(min_length=1))
Text = Annotated[str, *NotBlank]


def describe(error: ErrorDetails, templates: ProblemTemplates, *, secret: bool = False) -> str:
    """The phrase after the field's name; a secret's value is never quoted."""
    context = dict(error.get("ctx") or {})
    if error["type"] == "value_error" and "error" in context:
        return str(context["error"])
    template = templates.get(error["type"])
    if template is None:
        return error["msg"][:1].lower() + error["msg"][1:]
    if secret:
        template = template.split(", got")[0]
    return template.format(input=error.get("input"), **context)
