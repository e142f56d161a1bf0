"""Autocosmos enquiries (consultas) per agency (api/autocosmos.md 2.6).

Buyers' enquiries about publications; the sandbox creates them on request (a control
route) since no buyer visits the sandbox. Ids are opaque and unique per process.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import threading
from dataclasses import dataclass
from typing import Any

_ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def parse_instant(text: str) -> dt.datetime:
    """An ISO 8601 instant with a zone (`2026-01-01T00:00:00Z`); ValueError otherwise."""
    if not _ISO_UTC.match(text):
        raise ValueError(f"not an ISO 8601 instant with time zone: {text!r}")
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(dt.timezone.utc)


def format_instant(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Enquiry:
    id: str
    adminmail: str
    external_id: str
    nombre: str
    email: str
    telefono: str
    mensaje: str
    fecha: dt.datetime

    def render(self) -> dict[str, Any]:
        return {
            "Id": self.id, "ExternalId": self.external_id, "Nombre": self.nombre, "Email": self.email,
            "Telefono": self.telefono, "Mensaje": self.mensaje, "Fecha": format_instant(self.fecha),
        }


class EnquiryBook:
    def __init__(self) -> None:
        self._entries: list[Enquiry] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def add(
        self, adminmail: str, external_id: str, *, nombre: str, email: str, telefono: str, mensaje: str,
        fecha: dt.datetime | None = None,
    ) -> Enquiry:
        with self._lock:
            enquiry = Enquiry(
                f"c-{next(self._ids):06d}", adminmail.lower(), external_id, nombre, email, telefono, mensaje,
                (fecha or dt.datetime.now(dt.timezone.utc)).replace(microsecond=0),
            )
            self._entries.append(enquiry)
            return enquiry

    def since(self, adminmail: str, desde: dt.datetime | None) -> list[Enquiry]:
        """Entries with `Fecha` >= `desde`, oldest first."""
        with self._lock:
            mine = [e for e in self._entries if e.adminmail == adminmail.lower()]
        return sorted((e for e in mine if desde is None or e.fecha >= desde), key=lambda e: (e.fecha, e.id))
