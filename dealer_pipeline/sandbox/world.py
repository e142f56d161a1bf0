"""The sandbox's world: UK advertisers, Brazilian dealers, their stock and publish targets.

Built deterministically from `(seed, dealers, vehicles)`: `dealers` applies to each market
(N Autotrader advertisers and N Webmotors dealers), `vehicles` is vehicles per dealer. Every
dealer has its own `random.Random` seeded from `(seed, market, index)`, so a dealer's stock can
be generated lazily, on first access, and is identical whatever the access order. Generated
stock lives in a small LRU cache (it can always be regenerated); a dealer whose stock was
changed through a control endpoint is pinned in memory so the change sticks.

Small fixed proportions of dealers are special, by index (documented in docs/sandbox.md):
UK advertiser `i % 25 == 3` is not on the integration (403 kind A), `i % 25 == 7` lacks the
Stock Sync product (403 kind B), `i % 20 == 13` has status Inactive; Webmotors dealer
`i % 10 == 4` has its integrations deactivated (401); `special_dealers=False` turns these access
rules (and the two below marked *access*) off, for clean benchmark runs. Publish targets: a dealer has an
Autocosmos adminmail unless `i % 5 == 2` (not yet linked to our app when `i % 9 == 8`, *access*), and
an Autochat dealership unless `i % 4 == 1` (integration off when `i % 7 == 5`, *access*). Each can also be
set explicitly (constructor arguments, CLI options, control endpoints).

Stock ids carry their dealer and position: an Autotrader stockId is `<8 hex world prefix><6 hex
advertiser index><4 hex serial><14 hex>`, a Webmotors ad id is `10_000_000 + index * 100_000 +
1 + 3 * serial + (0..2)`, so one record is found (and generated) without touching the others.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import json.encoder
import random
import shlex
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from dealer_pipeline.sandbox import br_stock, uk_stock

UK_SECTIONS = uk_stock.SECTIONS
WM_ID_BASE = 10_000_000
WM_ID_STRIDE = 100_000
MAX_VEHICLES = 30_000


# Reusable C encoders (compact separators): building a new encoder per call costs a third of
# serialization when a record is eleven separately serialized sections. UK records are ASCII, for
# which the escaping encoder is faster still (any non-ASCII text would be \u-escaped, same JSON).
def _c_encoder(escape: Any) -> Any:
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return None
    return make(None, json.JSONEncoder().default, escape, None, ":", ",", False, False, True)


_ENCODE = _c_encoder(json.encoder.encode_basestring)
_ENCODE_ASCII = _c_encoder(json.encoder.encode_basestring_ascii)


def _dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8, identical to `json.dumps(value, ensure_ascii=False, separators=(",", ":"))`."""
    if _ENCODE is None:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    return "".join(_ENCODE(value, 0)).encode()


def _dumps_ascii(value: Any) -> bytes:
    """Compact JSON with non-ASCII escaped (the same JSON value as `_dumps`)."""
    if _ENCODE_ASCII is None:
        return json.dumps(value, separators=(",", ":")).encode()
    return "".join(_ENCODE_ASCII(value, 0)).encode()


@dataclass
class PublishTargets:
    """Where a dealer's stock is published (the dealers file's `publish` block)."""

    autocosmos_adminmail: str | None = None
    autochat_dealership_id: str | None = None


@dataclass
class UkAdvertiser:
    index: int
    advertiser_id: str
    name: str
    status: str
    segment: str
    website: str
    phone: str
    strapline: str
    location: dict[str, Any]
    slug: str
    on_integration: bool = True
    stock_sync: bool = True
    publish: PublishTargets = field(default_factory=PublishTargets)

    @property
    def dealer_id(self) -> str:
        return f"autotrader:{self.advertiser_id}"

    def record(self) -> dict[str, Any]:
        """The advertiser as `/advertisers` lists it (api/autotrader.md 2.2)."""
        capabilities = ["Stock Sync", "Stock Updates"] if self.stock_sync else ["Stock Updates"]
        return {"advertiserId": self.advertiser_id, "name": self.name, "status": self.status,
                "segment": self.segment, "website": self.website, "phone": self.phone,
                "location": dict(self.location), "capabilities": {"atConnect": capabilities}}

    def stock_section(self) -> dict[str, Any]:
        """The `advertiser` section of its stock records."""
        return {"advertiserId": self.advertiser_id, "name": self.name, "segment": self.segment,
                "website": self.website, "phone": self.phone, "advertStrapline": self.strapline,
                "location": dict(self.location)}


@dataclass
class BrDealer:
    index: int
    cnpj: str
    name: str
    slug: str
    city: str
    state: str
    codigo_cliente: str
    username: str
    password: str
    user_active: bool = True
    stock_integration: bool = True
    crm_integration: bool = True
    publish: PublishTargets = field(default_factory=PublishTargets)

    @property
    def dealer_id(self) -> str:
        return f"webmotors:{self.cnpj}"

    @property
    def cnpj_formatted(self) -> str:
        return br_stock.format_cnpj(self.cnpj)

    @property
    def username_env(self) -> str:
        return f"WM_{self.cnpj}_USER"

    @property
    def password_env(self) -> str:
        return f"WM_{self.cnpj}_PASSWORD"


@dataclass
class AutocosmosAgency:
    """An agency on Autocosmos, keyed by its admin e-mail; `linked` = our app may publish for it."""

    adminmail: str
    name: str
    dealer_id: str
    linked: bool = True


@dataclass
class AutochatDealership:
    dealership_id: str
    name: str
    dealer_id: str
    integration_enabled: bool = True


class UkItem:
    """One Autotrader stock record, kept as pre-serialized sections (cheap to page, small in memory)."""

    __slots__ = ("stock_id", "search_id", "lifecycle", "registration", "vin", "derivative_id", "fuel_type",
                 "sections")

    def __init__(self, record: dict[str, Any], advertiser_bytes: bytes | None = None) -> None:
        vehicle = record.get("vehicle") or {}
        metadata = record["metadata"]
        self.stock_id: str = metadata["stockId"]
        self.search_id: str | None = metadata.get("searchId")
        self.lifecycle: str | None = metadata.get("lifecycleState")
        self.registration: str | None = vehicle.get("registration")
        self.vin: str | None = vehicle.get("vin")
        self.derivative_id: str | None = vehicle.get("derivativeId")
        self.fuel_type: str | None = vehicle.get("fuelType")
        self.sections: dict[str, bytes] = {}
        for name in UK_SECTIONS:
            if name == "advertiser" and advertiser_bytes is not None:
                self.sections[name] = advertiser_bytes
            else:
                self.sections[name] = _dumps_ascii(record[name])

    def record(self) -> dict[str, Any]:
        """The full record as a dict (a fresh copy)."""
        out = {name: json.loads(self.sections[name]) for name in UK_SECTIONS}
        out["warnings"] = []
        return out

    def section(self, name: str) -> Any:
        return json.loads(self.sections[name])

    def encode(self, omit: frozenset[str] = frozenset()) -> bytes:
        """The record's JSON with the `omit` sections left out (response refinement)."""
        parts = [b'"%s":%s' % (name.encode(), self.sections[name]) for name in UK_SECTIONS if name not in omit]
        parts.append(b'"warnings":[]')
        return b"{" + b",".join(parts) + b"}"


class UkStock:
    """One advertiser's stock, ordered by stockId.

    Untouched stock is generated record by record on demand (record `n` from its own random
    generator), so a page or a single record costs only what it shows. The first change
    materializes the whole list, which the world then keeps in memory.
    """

    def __init__(self, world: "SandboxWorld", advertiser: UkAdvertiser) -> None:
        self._world = world
        self._advertiser = advertiser
        self.advertiser_id = advertiser.advertiser_id
        self._sparse: dict[int, UkItem] = {}
        self._items: list[UkItem] | None = None
        self._by_id: dict[str, UkItem] = {}
        self.next_serial = world.vehicles

    @property
    def materialized(self) -> bool:
        return self._items is not None

    def __len__(self) -> int:
        return len(self._items) if self._items is not None else self._world.vehicles

    def _generated(self, n: int) -> UkItem:
        item = self._sparse.get(n)
        if item is None:
            item = self._world.generate_uk_item(self._advertiser, n)
            self._sparse[n] = item
        return item

    def slice(self, offset: int, limit: int) -> list[UkItem]:
        if self._items is not None:
            return self._items[offset:offset + limit]
        return [self._generated(n) for n in range(offset, min(offset + limit, self._world.vehicles))]

    def all(self) -> list[UkItem]:
        return self.slice(0, len(self))

    def get(self, stock_id: str) -> UkItem | None:
        if self._items is not None:
            return self._by_id.get(stock_id)
        n = self._world.uk_serial_of(stock_id)
        if n is None or n >= self._world.vehicles:
            return None
        item = self._generated(n)
        return item if item.stock_id == stock_id else None

    def materialize(self) -> None:
        if self._items is None:
            self._items = self.all()
            self._by_id = {item.stock_id: item for item in self._items}
            self._sparse = {}

    def put(self, item: UkItem) -> None:
        self.materialize()
        assert self._items is not None
        keys = [existing.stock_id for existing in self._items]
        position = bisect.bisect_left(keys, item.stock_id)
        if position < len(keys) and keys[position] == item.stock_id:
            self._items[position] = item
        else:
            self._items.insert(position, item)
        self._by_id[item.stock_id] = item

    def remove(self, stock_id: str) -> None:
        self.materialize()
        assert self._items is not None
        self._items = [item for item in self._items if item.stock_id != stock_id]
        self._by_id.pop(stock_id, None)


class BrStock:
    """One Webmotors dealer's hits, ordered by id, kept as serialized JSON; lazy like `UkStock`."""

    def __init__(self, world: "SandboxWorld", dealer: BrDealer) -> None:
        self._world = world
        self._dealer = dealer
        self.cnpj = dealer.cnpj
        self._sparse: dict[int, bytes] = {}
        self._ids: list[int] | None = None
        self._blobs: dict[int, bytes] = {}
        self.next_serial = world.vehicles

    @property
    def materialized(self) -> bool:
        return self._ids is not None

    def __len__(self) -> int:
        return len(self._ids) if self._ids is not None else self._world.vehicles

    def _generated(self, n: int) -> bytes:
        blob = self._sparse.get(n)
        if blob is None:
            blob = _dumps(self._world.generate_br_hit(self._dealer, n))
            self._sparse[n] = blob
        return blob

    def slice(self, offset: int, limit: int) -> list[bytes]:
        if self._ids is not None:
            return [self._blobs[i] for i in self._ids[offset:offset + limit]]
        return [self._generated(n) for n in range(offset, min(offset + limit, self._world.vehicles))]

    def all(self) -> list[bytes]:
        return self.slice(0, len(self))

    def get(self, ad_id: int) -> dict[str, Any] | None:
        if self._ids is not None:
            blob = self._blobs.get(ad_id)
            return json.loads(blob) if blob else None
        n = self._world.br_serial_of(ad_id)
        if n is None or n >= self._world.vehicles:
            return None
        hit = json.loads(self._generated(n))
        return hit if hit["id"] == ad_id else None

    def materialize(self) -> None:
        if self._ids is None:
            blobs = self.all()
            self._ids = []
            for blob in blobs:
                ad_id = json.loads(blob)["id"]
                self._ids.append(ad_id)
                self._blobs[ad_id] = blob
            self._sparse = {}

    def put(self, hit: dict[str, Any]) -> None:
        self.materialize()
        assert self._ids is not None
        ad_id = hit["id"]
        if ad_id not in self._blobs:
            bisect.insort(self._ids, ad_id)
        self._blobs[ad_id] = _dumps(hit)

    def remove(self, ad_id: int) -> None:
        self.materialize()
        assert self._ids is not None
        self._ids.remove(ad_id)
        del self._blobs[ad_id]


class SandboxWorld:
    """Dealers and stock of both markets, generated from a seed (see the module docstring)."""

    def __init__(self, seed: int = 7, dealers: int = 3, vehicles: int = 25, *,
                 media_base: str = "http://127.0.0.1:8765", cache_dealers: int = 64,
                 not_integrated: Iterable[str] = (), no_stock_sync: Iterable[str] = (),
                 wm_deactivated: Iterable[str] = (), special_dealers: bool = True) -> None:
        if dealers < 0 or vehicles < 0:
            raise ValueError("dealers and vehicles must be >= 0")
        if vehicles > MAX_VEHICLES:
            raise ValueError(f"at most {MAX_VEHICLES} vehicles per dealer")
        self.seed = seed
        self.dealers = dealers
        self.vehicles = vehicles
        self.media_base = media_base.rstrip("/")
        self._cache_size = max(1, cache_dealers)
        self.special_dealers = special_dealers
        self._lock = threading.RLock()
        self.uk_prefix = hashlib.sha256(f"{seed}:uk-prefix".encode()).hexdigest()[:8]
        self.uk_advertisers: list[UkAdvertiser] = [self._make_advertiser(i) for i in range(dealers)]
        self.br_dealers: list[BrDealer] = [self._make_br_dealer(i) for i in range(dealers)]
        self._by_advertiser_id = {a.advertiser_id: a for a in self.uk_advertisers}
        self._by_cnpj = {d.cnpj: d for d in self.br_dealers}
        self._by_username = {d.username.lower(): d for d in self.br_dealers}
        for advertiser_id in not_integrated:
            self.advertiser_or_raise(advertiser_id).on_integration = False
        for advertiser_id in no_stock_sync:
            self.advertiser_or_raise(advertiser_id).stock_sync = False
        for cnpj in wm_deactivated:
            dealer = self.br_dealer_or_raise(cnpj)
            dealer.stock_integration = dealer.crm_integration = False
        self.autocosmos_agencies: dict[str, AutocosmosAgency] = {}
        self.autochat_dealerships: dict[str, AutochatDealership] = {}
        for dealer in [*self.uk_advertisers, *self.br_dealers]:
            self._register_targets(dealer)
        self._section_bytes: dict[str, bytes] = {}
        self._uk_cache: OrderedDict[str, UkStock] = OrderedDict()
        self._uk_pinned: dict[str, UkStock] = {}
        self._br_cache: OrderedDict[str, BrStock] = OrderedDict()
        self._br_pinned: dict[str, BrStock] = {}
        self.created_at = datetime.now(timezone.utc)

    # -- dealers ---------------------------------------------------------------------------
    def _rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def _special(self, i: int, every: int, at: int) -> bool:
        """Whether dealer `i` gets a special access rule (see the module docstring)."""
        return self.special_dealers and i % every == at

    def _make_advertiser(self, i: int) -> UkAdvertiser:
        rng = self._rng("uk-advertiser", i)
        advertiser_id = str(10_000_000 + i * 1009 + rng.randrange(1000))
        f = uk_stock.advertiser_fields(rng, i)
        return UkAdvertiser(
            index=i, advertiser_id=advertiser_id, name=f["name"],
            status="Inactive" if self._special(i, 20, 13) else "Active",
            segment=f["segment"], website=f["website"], phone=f["phone"], strapline=f["strapline"],
            location=f["location"], slug=f["slug"], on_integration=not self._special(i, 25, 3),
            stock_sync=not self._special(i, 25, 7),
            publish=self._targets(i, "uk", f["slug"], "co.uk", "stock"),
        )

    def _make_br_dealer(self, i: int) -> BrDealer:
        rng = self._rng("br-dealer", i)
        f = br_stock.dealer_fields(rng, i)
        password = "Wm-" + hashlib.sha256(f"{self.seed}:{f['cnpj']}:password".encode()).hexdigest()[:16]
        active = not self._special(i, 10, 4)
        return BrDealer(
            index=i, cnpj=f["cnpj"], name=f["name"], slug=f["slug"], city=f["city"], state=f["state"],
            codigo_cliente=f["codigo_cliente"], username=f"integrador@{f['slug']}.com.br", password=password,
            stock_integration=active, crm_integration=active,
            publish=self._targets(i, "br", f["slug"], "com.br", "vendas"),
        )

    @staticmethod
    def _targets(i: int, market: str, slug: str, tld: str, mailbox: str) -> PublishTargets:
        return PublishTargets(
            autocosmos_adminmail=f"{mailbox}@{slug}.{tld}" if i % 5 != 2 else None,
            autochat_dealership_id=f"dlr-{market}-{i + 1:04d}" if i % 4 != 1 else None,
        )

    def _register_targets(self, dealer: UkAdvertiser | BrDealer) -> None:
        targets = dealer.publish
        if targets.autocosmos_adminmail:
            self.autocosmos_agencies[targets.autocosmos_adminmail.lower()] = AutocosmosAgency(
                targets.autocosmos_adminmail, dealer.name, dealer.dealer_id,
                linked=not self._special(dealer.index, 9, 8))
        if targets.autochat_dealership_id:
            self.autochat_dealerships[targets.autochat_dealership_id] = AutochatDealership(
                targets.autochat_dealership_id, dealer.name, dealer.dealer_id,
                integration_enabled=not self._special(dealer.index, 7, 5))

    def advertiser(self, advertiser_id: str | None) -> UkAdvertiser | None:
        return self._by_advertiser_id.get(advertiser_id or "")

    def advertiser_or_raise(self, advertiser_id: str) -> UkAdvertiser:
        advertiser = self.advertiser(advertiser_id)
        if advertiser is None:
            raise KeyError(f"no UK advertiser {advertiser_id!r} in this world")
        return advertiser

    def br_dealer(self, cnpj: str | None) -> BrDealer | None:
        digits = "".join(c for c in (cnpj or "") if c.isdigit())
        return self._by_cnpj.get(digits)

    def br_dealer_or_raise(self, cnpj: str) -> BrDealer:
        dealer = self.br_dealer(cnpj)
        if dealer is None:
            raise KeyError(f"no Webmotors dealer with CNPJ {cnpj!r} in this world")
        return dealer

    def br_dealer_by_username(self, username: str) -> BrDealer | None:
        return self._by_username.get(username.lower())

    def autocosmos_agency(self, adminmail: str) -> AutocosmosAgency | None:
        return self.autocosmos_agencies.get(adminmail.lower())

    def autochat_dealership(self, dealership_id: str) -> AutochatDealership | None:
        return self.autochat_dealerships.get(dealership_id)

    # -- UK stock --------------------------------------------------------------------------
    def uk_stock_id(self, advertiser: UkAdvertiser, n: int, rng: random.Random) -> str:
        return f"{self.uk_prefix}{advertiser.index:06x}{n:04x}{rng.getrandbits(56):014x}"

    def uk_serial_of(self, stock_id: str) -> int | None:
        try:
            return int(stock_id[14:18], 16)
        except ValueError:
            return None

    def generate_uk_item(self, advertiser: UkAdvertiser, n: int) -> UkItem:
        """Record `n` of the advertiser's generated stock (its own random generator)."""
        rng = self._rng("uk-stock", advertiser.index, n)
        section = advertiser.stock_section()
        stock_id = self.uk_stock_id(advertiser, n, rng)
        record = uk_stock.stock_record(rng, stock_id=stock_id, advertiser=section, media_base=self.media_base,
                                       serial=advertiser.index * 100_000 + n + 1)
        return UkItem(record, self._advertiser_bytes(advertiser))

    def _advertiser_bytes(self, advertiser: UkAdvertiser) -> bytes:
        cached = self._section_bytes.get(advertiser.advertiser_id)
        if cached is None:
            cached = _dumps_ascii(advertiser.stock_section())
            self._section_bytes[advertiser.advertiser_id] = cached
        return cached

    def advertiser_changed(self, advertiser: UkAdvertiser) -> None:
        """Refresh the `advertiser` section of the advertiser's records after a change."""
        self._section_bytes.pop(advertiser.advertiser_id, None)
        fresh = self._advertiser_bytes(advertiser)
        with self._lock:
            self._uk_cache.pop(advertiser.advertiser_id, None)
            stock = self._uk_pinned.get(advertiser.advertiser_id)
            if stock is not None:
                for item in stock.all():
                    item.sections["advertiser"] = fresh

    def uk_stock(self, advertiser_id: str) -> UkStock | None:
        """The advertiser's stock (generated as used), or None for an unknown advertiser."""
        advertiser = self.advertiser(advertiser_id)
        if advertiser is None:
            return None
        with self._lock:
            stock = self._uk_pinned.get(advertiser_id) or self._uk_cache.get(advertiser_id)
            if stock is None:
                stock = UkStock(self, advertiser)
                self._uk_cache[advertiser_id] = stock
                while len(self._uk_cache) > self._cache_size:
                    self._uk_cache.popitem(last=False)
            elif advertiser_id in self._uk_cache:
                self._uk_cache.move_to_end(advertiser_id)
            return stock

    def pin_uk(self, advertiser_id: str) -> UkStock:
        """The advertiser's stock, materialized and kept in memory from now on (before a change)."""
        with self._lock:
            stock = self.uk_stock(advertiser_id)
            if stock is None:
                raise KeyError(advertiser_id)
            self._uk_cache.pop(advertiser_id, None)
            self._uk_pinned[advertiser_id] = stock
            stock.materialize()
            return stock

    def new_uk_record(self, advertiser_id: str, derivative_index: int | None = None) -> dict[str, Any]:
        """A new, not yet stored stock record for the advertiser (deterministic per serial)."""
        stock = self.pin_uk(advertiser_id)
        advertiser = self.advertiser_or_raise(advertiser_id)
        n = stock.next_serial
        if n >= 0x10000:
            raise ValueError("no stock serials left for this advertiser")
        stock.next_serial += 1
        rng = self._rng("uk-new", advertiser.index, n)
        return uk_stock.stock_record(rng, stock_id=self.uk_stock_id(advertiser, n, rng),
                                     advertiser=advertiser.stock_section(), media_base=self.media_base,
                                     serial=advertiser.index * 100_000 + n + 1, derivative_index=derivative_index)

    def find_uk_item(self, stock_id: str) -> tuple[UkAdvertiser, UkItem] | None:
        """Locate a stock item by id through the advertiser index embedded in it."""
        if len(stock_id) != 32 or not stock_id.startswith(self.uk_prefix):
            return None
        try:
            index = int(stock_id[8:14], 16)
        except ValueError:
            return None
        if index >= len(self.uk_advertisers):
            return None
        advertiser = self.uk_advertisers[index]
        stock = self.uk_stock(advertiser.advertiser_id)
        item = stock.get(stock_id) if stock else None
        return (advertiser, item) if item else None

    # -- Brazilian stock -------------------------------------------------------------------
    def br_ad_id(self, dealer: BrDealer, n: int, rng: random.Random) -> int:
        return WM_ID_BASE + dealer.index * WM_ID_STRIDE + 1 + n * 3 + int(rng.random() * 3)

    def br_serial_of(self, ad_id: int) -> int | None:
        offset = (ad_id - WM_ID_BASE) % WM_ID_STRIDE - 1
        return offset // 3 if offset >= 0 else None

    def generate_br_hit(self, dealer: BrDealer, n: int) -> dict[str, Any]:
        rng = self._rng("br-stock", dealer.index, n)
        return br_stock.stock_hit(rng, ad_id=self.br_ad_id(dealer, n, rng), media_base=self.media_base)

    def br_stock(self, cnpj: str) -> BrStock | None:
        dealer = self.br_dealer(cnpj)
        if dealer is None:
            return None
        with self._lock:
            stock = self._br_pinned.get(dealer.cnpj) or self._br_cache.get(dealer.cnpj)
            if stock is None:
                stock = BrStock(self, dealer)
                self._br_cache[dealer.cnpj] = stock
                while len(self._br_cache) > self._cache_size:
                    self._br_cache.popitem(last=False)
            elif dealer.cnpj in self._br_cache:
                self._br_cache.move_to_end(dealer.cnpj)
            return stock

    def pin_br(self, cnpj: str) -> BrStock:
        with self._lock:
            stock = self.br_stock(cnpj)
            if stock is None:
                raise KeyError(cnpj)
            self._br_cache.pop(stock.cnpj, None)
            self._br_pinned[stock.cnpj] = stock
            stock.materialize()
            return stock

    def new_br_hit(self, cnpj: str) -> dict[str, Any]:
        """A new, not yet stored hit for the dealer (deterministic per serial)."""
        stock = self.pin_br(cnpj)
        dealer = self.br_dealer_or_raise(cnpj)
        n = stock.next_serial
        if 1 + n * 3 + 2 >= WM_ID_STRIDE:
            raise ValueError("no ad ids left for this dealer")
        stock.next_serial += 1
        rng = self._rng("br-new", dealer.index, n)
        return br_stock.stock_hit(rng, ad_id=self.br_ad_id(dealer, n, rng), media_base=self.media_base)

    def find_br_hit(self, ad_id: int) -> tuple[BrDealer, dict[str, Any]] | None:
        index = (ad_id - WM_ID_BASE) // WM_ID_STRIDE
        if ad_id < WM_ID_BASE or index >= len(self.br_dealers):
            return None
        dealer = self.br_dealers[index]
        stock = self.br_stock(dealer.cnpj)
        hit = stock.get(ad_id) if stock else None
        return (dealer, hit) if hit else None

    # -- whole-world views -----------------------------------------------------------------
    def iter_uk_items(self) -> Iterator[tuple[UkAdvertiser, UkItem]]:
        for advertiser in self.uk_advertisers:
            stock = self.uk_stock(advertiser.advertiser_id)
            assert stock is not None
            for item in stock.all():
                yield advertiser, item

    def fingerprint(self) -> str:
        """SHA-256 over every dealer and every record, in order (the determinism check)."""
        digest = hashlib.sha256()
        for advertiser in self.uk_advertisers:
            digest.update(_dumps([advertiser.record(), advertiser.on_integration, advertiser.stock_sync,
                                  advertiser.publish.__dict__]))
            stock = self.uk_stock(advertiser.advertiser_id)
            assert stock is not None
            for item in stock.all():
                digest.update(item.encode())
        for dealer in self.br_dealers:
            digest.update(_dumps([dealer.cnpj, dealer.name, dealer.username, dealer.password, dealer.codigo_cliente,
                                  dealer.stock_integration, dealer.publish.__dict__]))
            stock = self.br_stock(dealer.cnpj)
            assert stock is not None
            for blob in stock.all():
                digest.update(blob)
        return digest.hexdigest()

    def summary(self) -> dict[str, Any]:
        """Dealers of both markets with their ids, access flags and publish targets (`/_sandbox/world`)."""
        return {
            "seed": self.seed, "dealers": self.dealers, "vehicles": self.vehicles,
            "autotrader": [
                {"dealer_id": a.dealer_id, "advertiser_id": a.advertiser_id, "name": a.name, "status": a.status,
                 "on_integration": a.on_integration, "stock_sync": a.stock_sync, **self._targets_json(a.publish)}
                for a in self.uk_advertisers
            ],
            "webmotors": [
                {"dealer_id": d.dealer_id, "cnpj": d.cnpj, "cnpj_formatted": d.cnpj_formatted, "name": d.name,
                 "codigo_cliente": d.codigo_cliente, "username": d.username, "password": d.password,
                 "username_env": d.username_env, "password_env": d.password_env, "user_active": d.user_active,
                 "stock_integration": d.stock_integration, "crm_integration": d.crm_integration,
                 **self._targets_json(d.publish)}
                for d in self.br_dealers
            ],
            "autocosmos_agencies": [a.__dict__ for a in self.autocosmos_agencies.values()],
            "autochat_dealerships": [d.__dict__ for d in self.autochat_dealerships.values()],
        }

    @staticmethod
    def _targets_json(targets: PublishTargets) -> dict[str, Any]:
        return {"autocosmos_adminmail": targets.autocosmos_adminmail,
                "autochat_dealership_id": targets.autochat_dealership_id}

    # -- the dealers file ------------------------------------------------------------------
    def dealers_yaml(self) -> str:
        """The dealers file of interface.md for this world (Webmotors dealers, and Autotrader
        advertisers that have a publish target)."""
        q = json.dumps
        lines = ["# Dealers of the sandbox world (seed %d); written by `dealer-pipeline sandbox serve`." % self.seed,
                 "# Webmotors user credentials are in the .env file beside this one.", "dealers:"]
        for dealer in self.br_dealers:
            lines += [f"  - dealer_id: {q(dealer.dealer_id)}", f"    name: {q(dealer.name, ensure_ascii=False)}",
                      "    webmotors:", f"      username_env: {dealer.username_env}",
                      f"      password_env: {dealer.password_env}"]
            lines += self._publish_yaml(dealer.publish, always=True)
        for advertiser in self.uk_advertisers:
            block = self._publish_yaml(advertiser.publish, always=False)
            if block:
                lines += [f"  - dealer_id: {q(advertiser.dealer_id)}", f"    name: {q(advertiser.name)}", *block]
        return "\n".join(lines) + "\n"

    @staticmethod
    def _publish_yaml(targets: PublishTargets, *, always: bool) -> list[str]:
        entries = []
        if targets.autocosmos_adminmail:
            entries.append(f"      autocosmos: {{adminmail: {json.dumps(targets.autocosmos_adminmail)}}}")
        if targets.autochat_dealership_id:
            entries.append(f"      autochat: {{dealership_id: {json.dumps(targets.autochat_dealership_id)}}}")
        if not entries:
            return ["    publish: {}"] if always else []
        return ["    publish:", *entries]

    def dealer_credentials(self) -> dict[str, str]:
        """Env var name -> value for every Webmotors dealer user."""
        out: dict[str, str] = {}
        for dealer in self.br_dealers:
            out[dealer.username_env] = dealer.username
            out[dealer.password_env] = dealer.password
        return out

    def write_dealers_file(self, path: Path) -> Path:
        """Write the dealers YAML at `path` and its credentials as `export` lines at `path.env`."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.dealers_yaml(), encoding="utf-8")
        env_path = path.with_name(path.name + ".env")
        lines = ["# Credentials of the sandbox's Webmotors dealer users; `source` this file."]
        lines += [f"export {name}={shlex.quote(value)}" for name, value in self.dealer_credentials().items()]
        env_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        env_path.chmod(0o600)
        return env_path
