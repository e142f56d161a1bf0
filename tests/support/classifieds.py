"""What the classifieds show, read from the sandbox's state (its control routes), and what the store
holds for the same vehicle: the two sides a freshness test or bench compares."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, TypeVar

import sqlalchemy as sa

from dealer_pipeline.dealers_file import DealerEntry
from dealer_pipeline.publishing.core import external_id_for
from dealer_pipeline.sandbox.runner import SandboxHandle
from dealer_pipeline.store.schema import vehicles

ARCHIVED = "Archivada"
#: Sandbox stock created for sale and shown on the dealer site (the sandbox picks a random state otherwise).
FOR_SALE = {"reservation": None, "advertiser_advert": "PUBLISHED"}
T = TypeVar("T")


@dataclass(frozen=True)
class Listing:
    """One vehicle on both classifieds: None where it is not listed (never created, or deleted)."""

    autocosmos: dict[str, Any] | None
    autochat: dict[str, Any] | None

    def prices(self) -> tuple[Decimal | None, Decimal | None]:
        ac = (self.autocosmos or {}).get("Precio", {}).get("Monto") if self.live_on_autocosmos else None
        ach = (self.autochat or {}).get("salesPrice")
        return (None if ac is None else Decimal(str(ac)), None if ach is None else Decimal(str(ach)))

    @property
    def live_on_autocosmos(self) -> bool:
        return self.autocosmos is not None and self.autocosmos.get("Estado") != ARCHIVED

    def shows_price(self, price: Decimal) -> bool:
        """Both classifieds list the vehicle at `price`."""
        return self.prices() == (price, price)

    @property
    def gone(self) -> bool:
        """Archived on Autocosmos and deleted from Autochat (what a sale does)."""
        return self.autocosmos is not None and not self.live_on_autocosmos and self.autochat is None


def listing(sandbox: SandboxHandle, entry: DealerEntry, vehicle_id: str) -> Listing:
    """The vehicle as the sandbox's Autocosmos agency and Autochat dealership hold it now."""
    external_id = external_id_for(vehicle_id)
    publications = sandbox.control("GET", f"/autocosmos/publicaciones/{entry.autocosmos_adminmail}")
    cars = sandbox.control("GET", "/autochat/cars", params={"dealershipId": entry.autochat_dealership_id})
    return Listing(next((p for p in publications if p.get("ExternalId") == external_id), None),
                   next((c for c in cars if c.get("internalId") == external_id), None))


def new_stock_for_sale(sandbox: SandboxHandle, advertiser_id: str) -> str:
    """A new Autotrader stock item (its notification delivered), for sale, shown on the dealer site and of
    a derivative the Autocosmos catalogue matches (the others wait for a person's review); its vehicle id."""
    fates = sandbox.control("GET", "/autocosmos/catalogue/fates")
    derivative = sorted(key for key, fate in fates.items() if key.startswith("uk:") and fate == "matched")[0]
    made = sandbox.control("POST", f"/autotrader/advertisers/{advertiser_id}/stock",
                           {**FOR_SALE, "derivative_id": derivative.removeprefix("uk:")})
    return f"autotrader:{made['stockId']}"


def stored(engine: sa.Engine, vehicle_id: str) -> sa.RowMapping | None:
    """The vehicle's version, price and availability in `vehicles` (None before it is created)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(vehicles.c.source_version, vehicles.c.price_amount, vehicles.c.availability)
                            .where(vehicles.c.vehicle_id == vehicle_id)).mappings().first()


def wait_for(check: Callable[[], T], what: str, *, timeout: float = 240, every: float = 0.5,
             context: Callable[[], str] = lambda: "") -> T:
    """Poll `check` until it returns something true (its value); AssertionError naming `what` after `timeout`
    (generous: the machines that run this are shared and slow), with `context()` for the reader."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except Exception:  # noqa: BLE001 - a read that failed now is tried again
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not seen within {timeout:.0f} s\n{context()}")
        time.sleep(every)
