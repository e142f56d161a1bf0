"""Autocosmos publications per agency and their lifecycle (api/autocosmos.md 2.3, 2.4).

States: `Activa` <-> `Suspendida` any number of times; `Archivada` is final and its
ExternalId is never reusable in that agency. A publication is `Suspendida` when the
client asked for it (`Activa: false`), when photo processing left it without a valid
photo (lifted only by a PUT that brings one), or when moderation suspended it. Tests can make
the vendor act on its own (`vendor_action`: lose the photos, archive, delete).
ExternalIds compare case-insensitively; the case of the first POST is kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from dealer_pipeline.sandbox.autocosmos_problems import ARCHIVED_TITLE, Problem, validation_failed
from dealer_pipeline.sandbox.autocosmos_validation import CatalogueRefs, merge_patch, validate_publication

ACTIVA, SUSPENDIDA, ARCHIVADA = "Activa", "Suspendida", "Archivada"


@dataclass
class Publication:
    adminmail: str
    external_id: str
    fields: dict[str, Any]
    photos_sent: list[str]
    photos_kept: list[str] | None = None  # None until processing of the last sent list settles
    photo_generation: int = 0
    photo_suspended: bool = False
    moderation_suspended: bool = False
    archived: bool = False

    @property
    def estado(self) -> str:
        if self.archived:
            return ARCHIVADA
        if not self.fields.get("Activa", True) or self.photo_suspended or self.moderation_suspended:
            return SUSPENDIDA
        return ACTIVA

    @property
    def photos(self) -> list[str]:
        return list(self.photos_sent if self.photos_kept is None else self.photos_kept)

    def href(self) -> str:
        return f"/v3/publicaciones/{self.adminmail}/{self.external_id}"

    def render(self) -> dict[str, Any]:
        """The publication as GET returns it: body fields, `Estado`, `_links.self`."""
        body: dict[str, Any] = {"ExternalId": self.external_id}
        body.update((k, v) for k, v in self.fields.items() if k != "ExternalId")
        body["Fotos"] = self.photos
        estado = self.estado
        body["Activa"] = estado == ACTIVA
        body["Estado"] = estado
        body["_links"] = {"self": {"href": self.href()}}
        return body


@dataclass(frozen=True)
class PhotoJob:
    """Photos to download for one publication; stale when a newer job supersedes it."""

    adminmail: str
    external_id: str
    generation: int
    urls: tuple[str, ...]
    lifts_suspension: bool  # only a POST/PUT that keeps a photo clears a photo suspension


@dataclass
class _Agency:
    publications: dict[str, Publication] = field(default_factory=dict)


class PublicationBook:
    """Every agency's publications; all methods are atomic and raise `Problem` on refusal."""

    def __init__(self, catalogue: CatalogueRefs, operators: Callable[[str], frozenset[str]]) -> None:
        self._catalogue = catalogue
        self._operators = operators
        self._agencies: dict[str, _Agency] = {}
        self._lock = threading.RLock()

    # -- reads -----------------------------------------------------------------------------
    def get(self, adminmail: str, external_id: str) -> Publication:
        with self._lock:
            return self._existing(adminmail, external_id)

    def list(self, adminmail: str, operador: str | None = None) -> list[Publication]:
        with self._lock:
            entries = list(self._agency(adminmail).publications.values())
        if operador is None:
            return entries
        wanted = operador.strip().lower()
        return [p for p in entries if p.fields.get("OperadorResponsable", adminmail).lower() == wanted]

    # -- writes ----------------------------------------------------------------------------
    def create(self, adminmail: str, body: Any) -> tuple[Publication, PhotoJob]:
        fields = self._validated(adminmail, body)
        external_id = fields["ExternalId"]
        with self._lock:
            agency = self._agency(adminmail)
            existing = agency.publications.get(external_id.lower())
            if existing is not None:
                if existing.archived:
                    raise Problem(409, f"La publicación {existing.external_id} está archivada; su ExternalId no puede reutilizarse.", title=ARCHIVED_TITLE)
                raise Problem(409, f"Ya existe una publicación con ExternalId {existing.external_id}.")
            publication = Publication(adminmail, external_id, fields, list(fields["Fotos"]))
            agency.publications[external_id.lower()] = publication
            return publication, self._photo_job(publication, lifts_suspension=True)

    def replace(self, adminmail: str, external_id: str, body: Any) -> tuple[Publication, PhotoJob]:
        with self._lock:
            publication = self._modifiable(adminmail, external_id)
            if isinstance(body, dict):
                sent_id = body.get("ExternalId")
                if sent_id is None:
                    body = {**body, "ExternalId": publication.external_id}
                elif isinstance(sent_id, str) and sent_id.lower() != publication.external_id.lower():
                    raise validation_failed({"ExternalId": ["Debe coincidir con el ExternalId de la ruta."]})
            fields = self._validated(adminmail, body)
            fields["ExternalId"] = publication.external_id
            publication.fields = fields
            publication.photos_sent = list(fields["Fotos"])
            return publication, self._photo_job(publication, lifts_suspension=True)

    def patch(self, adminmail: str, external_id: str, patch: Any) -> tuple[Publication, PhotoJob | None]:
        with self._lock:
            publication = self._modifiable(adminmail, external_id)
            if not isinstance(patch, dict):
                raise validation_failed({"$": ["El documento merge-patch debe ser un objeto JSON."]})
            current = {**publication.fields, "ExternalId": publication.external_id, "Fotos": publication.photos}
            merged = merge_patch(current, patch)
            if merged.get("ExternalId") is None:
                merged["ExternalId"] = publication.external_id
            elif not isinstance(merged["ExternalId"], str) or merged["ExternalId"].lower() != publication.external_id.lower():
                raise validation_failed({"ExternalId": ["El ExternalId no puede cambiarse."]})
            fields = self._validated(adminmail, merged)
            fields["ExternalId"] = publication.external_id
            publication.fields = fields
            if "Fotos" not in patch:
                return publication, None
            publication.photos_sent = list(fields["Fotos"])
            return publication, self._photo_job(publication, lifts_suspension=False)

    def archive(self, adminmail: str, external_id: str) -> None:
        with self._lock:
            self._modifiable(adminmail, external_id).archived = True

    def moderate(self, adminmail: str, external_id: str, suspended: bool) -> Publication:
        """The vendor's moderation suspends or releases a publication on its own."""
        with self._lock:
            publication = self._modifiable(adminmail, external_id)
            publication.moderation_suspended = suspended
            return publication

    def vendor_action(self, adminmail: str, external_id: str, action: str,
                      fields: dict[str, Any] | None = None) -> Publication | None:
        """What Autocosmos may do on its own: lose every photo (`photo_loss`: suspended until a PUT brings
        a valid one), `archive` (final), `delete` (gone; the ExternalId may be created again), or `edit`
        (`fields` changed outside the API, e.g. in the agency's dashboard). Returns the publication (None
        once deleted)."""
        with self._lock:
            if action == "delete":
                self._existing(adminmail, external_id)
                del self._agency(adminmail).publications[external_id.lower()]
                return None
            publication = self._modifiable(adminmail, external_id)
            if action == "photo_loss":
                publication.photo_generation += 1  # a photo job still running is stale now
                publication.photos_kept = []
                publication.photo_suspended = True
            elif action == "archive":
                publication.archived = True
            elif action == "edit":
                publication.fields.update({k: v for k, v in (fields or {}).items() if k not in ("ExternalId", "Fotos")})
            else:
                raise ValueError(f"unknown vendor action {action!r}: photo_loss, archive, delete or edit")
            return publication

    def finish_photos(self, job: PhotoJob, kept: list[str]) -> bool:
        """Apply a settled photo job; False when a newer job or archiving made it stale."""
        with self._lock:
            publication = self._agency(job.adminmail).publications.get(job.external_id.lower())
            if publication is None or publication.archived or publication.photo_generation != job.generation:
                return False
            publication.photos_kept = list(kept)
            if not kept:
                publication.photo_suspended = True
            elif job.lifts_suspension:
                publication.photo_suspended = False
            return True

    # -- helpers ---------------------------------------------------------------------------
    def _agency(self, adminmail: str) -> _Agency:
        return self._agencies.setdefault(adminmail.lower(), _Agency())

    def _existing(self, adminmail: str, external_id: str) -> Publication:
        publication = self._agency(adminmail).publications.get(external_id.lower())
        if publication is None:
            raise Problem(404, f"No existe la publicación {external_id} en la agencia {adminmail}.")
        return publication

    def _modifiable(self, adminmail: str, external_id: str) -> Publication:
        publication = self._existing(adminmail, external_id)
        if publication.archived:
            raise Problem(409, f"La publicación {publication.external_id} está archivada y no admite cambios.", title=ARCHIVED_TITLE)
        return publication

    def _validated(self, adminmail: str, body: Any) -> dict[str, Any]:
        operators = self._operators(adminmail)
        fields, errors = validate_publication(
            body, catalogue=self._catalogue, is_operator=lambda email: email.strip().lower() in operators
        )
        if errors:
            raise validation_failed(errors)
        return fields

    @staticmethod
    def _photo_job(publication: Publication, *, lifts_suspension: bool) -> PhotoJob:
        publication.photo_generation += 1
        publication.photos_kept = None
        return PhotoJob(
            publication.adminmail,
            publication.external_id,
            publication.photo_generation,
            tuple(publication.photos_sent),
            lifts_suspension,
        )
