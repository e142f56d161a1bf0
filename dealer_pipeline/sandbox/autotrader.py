"""Autotrader Connect, as api/autotrader.md Part 2 binds it: `/authenticate`, `/advertisers`,
`/stock`, `/stock/{stockId}/features`, `/stock/{stockId}/charge-times`, the `warnings` error
bodies, 403 kinds A and B, token expiry; and, under `/_sandbox/autotrader`, the change
endpoints that mutate a record and deliver the signed `STOCK_UPDATE` / `ADVERTISER`
notification (2.6) to the registered receiver.

Checks run in the order a gateway applies them: token (401), then parameters (400), then the
advertiser's access (403), then the resource (404).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import hashlib
import hmac
import json
import time
from datetime import datetime, timezone
from typing import Any, Mapping
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from dealer_pipeline.sandbox import uk_stock
from dealer_pipeline.sandbox.control import json_object
from dealer_pipeline.sandbox.faults import FaultRule
from dealer_pipeline.sandbox.media import image_id as make_image_id
from dealer_pipeline.sandbox.reference import (PLUGGABLE_FUEL_TYPES, UK_DERIVATIVES, UK_DERIVATIVES_BY_ID,
                                                  UkDerivative)
from dealer_pipeline.sandbox.runtime import SandboxRuntime
from dealer_pipeline.sandbox.world import UK_SECTIONS, SandboxWorld, UkAdvertiser, UkItem

VENDOR = "autotrader"
ADVERTISERS_MAX_PAGE_SIZE = 100
STOCK_MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 20
STOCK_PRODUCT = "Stock Sync"
LIFECYCLE_STATES = ("DUE_IN", "FORECOURT", "SALE_IN_PROGRESS", "SOLD", "WASTEBIN", "DELETED")
ADVERT_STATUSES = ("PUBLISHED", "NOT_PUBLISHED", "REJECTED", "CAPPED")
STOCK_FILTERS = {"lifecycleState": "lifecycle", "stockId": "stock_id", "searchId": "search_id",
                 "registration": "registration", "vin": "vin"}
MSG_401 = "Access token is missing, invalid or expired"


# -- bodies -----------------------------------------------------------------------------------
def warnings_body(message: str, feature: str | None = None) -> dict[str, Any]:
    warning: dict[str, Any] = {"type": "ERROR"}
    if feature is not None:
        warning["feature"] = feature
    warning["message"] = message
    return {"warnings": [warning]}


def _error(status: int, message: str, feature: str | None = None) -> JSONResponse:
    return JSONResponse(warnings_body(message, feature), status_code=status)


def forbidden_a(advertiser_id: str) -> JSONResponse:
    return _error(403, f"Advertiser {advertiser_id} is not on your integration")


def forbidden_b(advertiser_id: str, product: str = STOCK_PRODUCT) -> JSONResponse:
    return _error(403, f"Advertiser {advertiser_id} does not have access to the {product} product")


def render_fault(status: int, rule: FaultRule | None, facts: Mapping[str, Any]) -> tuple[bytes, str]:
    """Bodies of scripted faults, exactly as the real errors of 2.7."""
    if rule is not None and rule.body is not None:
        body = rule.body if isinstance(rule.body, str) else json.dumps(rule.body, separators=(",", ":"))
        return body.encode(), "application/json"
    advertiser = facts.get("advertiser_id") or (rule.advertiser_id if rule else None) or "unknown"
    if status == 401:
        payload = warnings_body(MSG_401)
    elif status == 403 and rule is not None and rule.kind == "B":
        payload = warnings_body(f"Advertiser {advertiser} does not have access to the "
                                f"{rule.product or STOCK_PRODUCT} product")
    elif status == 403:
        payload = warnings_body(f"Advertiser {advertiser} is not on your integration")
    elif status == 400:
        payload = warnings_body("Invalid request", "request")
    elif status == 404:
        payload = warnings_body("Resource not found")
    elif status == 429:
        payload = warnings_body("Too many requests: fair usage limit exceeded")
    else:
        return b"", "text/plain"
    return json.dumps(payload, separators=(",", ":")).encode(), "application/json"


def iso_millis(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def sign(secret: str, t: int, raw: bytes) -> str:
    """`Autotrader-Signature` value: `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>." + raw)>` (2.6)."""
    digest = hmac.new(secret.encode(), str(t).encode() + b"." + raw, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


@functools.lru_cache(maxsize=8192)
def _features_body(derivative_id: str, record_features: bytes) -> bytes:
    """The features endpoint's body; the pipeline calls it once per stock item, so it is cached."""
    features = uk_stock.taxonomy_features(derivative_id, json.loads(record_features))
    return json.dumps({"features": features}, separators=(",", ":")).encode()


# -- the API ----------------------------------------------------------------------------------
class AutotraderApi:
    def __init__(self, world: SandboxWorld, runtime: SandboxRuntime) -> None:
        self.world = world
        self.runtime = runtime

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header[:7].lower() != "bearer ":
            return False
        return self.runtime.tokens.valid(VENDOR, header[7:].strip()) is not None

    async def authenticate(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            return _error(400, "Credentials must be sent as an application/x-www-form-urlencoded body with "
                               "key and secret", "body")
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        for field in ("key", "secret"):
            if not form.get(field):
                return _error(400, f"{field} is required", field)
        credentials = self.runtime.config.credentials
        key_ok = hmac.compare_digest(form["key"], credentials["autotrader_key"])
        secret_ok = hmac.compare_digest(form["secret"], credentials["autotrader_secret"])
        if not (key_ok and secret_ok):
            return _error(401, MSG_401)
        issued = self.runtime.tokens.issue(VENDOR, {"key": form["key"]}, self.runtime.config.ttl(VENDOR))
        expires = datetime.fromtimestamp(issued.expires_at, timezone.utc)
        return JSONResponse({"access_token": issued.token, "expires_at": iso_millis(expires)})

    @staticmethod
    def _paging(request: Request, max_size: int) -> tuple[int, int] | JSONResponse:
        values = {}
        for name, default, low, high in (("page", 1, 1, None), ("pageSize", DEFAULT_PAGE_SIZE, 1, max_size)):
            raw = request.query_params.get(name)
            if raw is None:
                values[name] = default
                continue
            try:
                value = int(raw)
            except ValueError:
                return _error(400, f"{name} must be a whole number", name)
            if value < low or (high is not None and value > high):
                rule = f"between {low} and {high}" if high else f"at least {low}"
                return _error(400, f"{name} must be {rule}", name)
            values[name] = value
        return values["page"], values["pageSize"]

    async def advertisers(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, MSG_401)
        paging = self._paging(request, ADVERTISERS_MAX_PAGE_SIZE)
        if isinstance(paging, JSONResponse):
            return paging
        page, size = paging
        wanted = request.query_params.get("advertiserId")
        listed = sorted((a for a in self.world.uk_advertisers if a.on_integration), key=lambda a: a.advertiser_id)
        if wanted is not None:
            listed = [a for a in listed if a.advertiser_id == wanted]
        window = listed[(page - 1) * size: page * size]
        return JSONResponse({"results": [a.record() for a in window], "totalResults": len(listed)})

    def _stock_access(self, request: Request) -> UkAdvertiser | Response:
        advertiser_id = request.query_params.get("advertiserId")
        if not advertiser_id:
            return _error(400, "advertiserId is required", "advertiserId")
        advertiser = self.world.advertiser(advertiser_id)
        if advertiser is None or not advertiser.on_integration:
            return forbidden_a(advertiser_id)
        if not advertiser.stock_sync:
            return forbidden_b(advertiser_id)
        return advertiser

    async def stock(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, MSG_401)
        paging = self._paging(request, STOCK_MAX_PAGE_SIZE)
        if isinstance(paging, JSONResponse):
            return paging
        access = self._stock_access(request)
        if isinstance(access, Response):
            return access
        page, size = paging
        stock = self.world.uk_stock(access.advertiser_id)
        assert stock is not None
        filters = {attr: request.query_params[param] for param, attr in STOCK_FILTERS.items()
                   if request.query_params.get(param)}
        if filters:
            matching = [item for item in stock.all()
                        if all(getattr(item, attr) == value for attr, value in filters.items())]
            total, window = len(matching), matching[(page - 1) * size: page * size]
        else:
            total, window = len(stock), stock.slice((page - 1) * size, size)
        omit = frozenset(name for name in UK_SECTIONS if request.query_params.get(name) == "false")
        body = b'{"results":[' + b",".join(item.encode(omit) for item in window) + b'],"totalResults":' + \
            str(total).encode() + b"}"
        return Response(body, media_type="application/json")

    def _item(self, request: Request) -> tuple[UkItem, UkAdvertiser] | Response:
        if not self._authorized(request):
            return _error(401, MSG_401)
        access = self._stock_access(request)
        if isinstance(access, Response):
            return access
        stock_id = request.path_params["stock_id"]
        stock = self.world.uk_stock(access.advertiser_id)
        item = stock.get(stock_id) if stock else None
        if item is None:
            return _error(404, f"Stock item {stock_id} of advertiser {access.advertiser_id} not found")
        return item, access

    async def features(self, request: Request) -> Response:
        found = self._item(request)
        if isinstance(found, Response):
            return found
        item, _ = found
        body = _features_body(item.derivative_id or item.stock_id, item.sections["features"])
        return Response(body, media_type="application/json")

    async def charge_times(self, request: Request) -> Response:
        found = self._item(request)
        if isinstance(found, Response):
            return found
        item, _ = found
        if item.fuel_type not in PLUGGABLE_FUEL_TYPES:
            return JSONResponse({"chargeTimes": []})
        reference = UK_DERIVATIVES_BY_ID.get(item.derivative_id or "")
        if reference is None or reference[1].fuel_type != item.fuel_type:
            stand_in = UkDerivative("", "", "", "", item.fuel_type or "Electric", "Automatic", None, 150, 5, 5, 0,
                                    2020, None, battery_kwh=50.0 if item.fuel_type == "Electric" else 12.0)
            return JSONResponse({"chargeTimes": uk_stock.charge_times(stand_in)})
        return JSONResponse({"chargeTimes": uk_stock.charge_times(reference[1])})

    async def not_found(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, MSG_401)
        return _error(404, f"Resource {request.url.path.removeprefix('/autotrader')} not found")


def build_vendor_app(world: SandboxWorld, runtime: SandboxRuntime) -> Starlette:
    api = AutotraderApi(world, runtime)
    runtime.error_renderers[VENDOR] = render_fault

    async def method_not_allowed(request: Request) -> Response:
        return _error(405, f"Method {request.method} not allowed here")

    routes = [
        Route("/authenticate", api.authenticate, methods=["POST"]),
        Route("/authenticate", method_not_allowed, methods=["GET", "PUT", "PATCH", "DELETE"]),
        Route("/advertisers", api.advertisers, methods=["GET"]),
        Route("/stock", api.stock, methods=["GET"]),
        Route("/stock/{stock_id}/features", api.features, methods=["GET"]),
        Route("/stock/{stock_id}/charge-times", api.charge_times, methods=["GET"]),
        Route("/{rest:path}", api.not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]
    return Starlette(routes=routes)


# -- changes and notifications ------------------------------------------------------------------
class ChangeError(ValueError):
    """A change request the sandbox cannot apply; answered 400 with the message."""


CHANGE_KEYS = {
    "price", "admin_fee", "vat_status", "mileage", "images", "video", "spin", "features", "add_features",
    "remove_features", "feature_ratings", "highlights", "reservation", "lifecycle", "advertiser_advert",
    "autotrader_advert", "derivative_id", "attention_grabber", "description", "description2",
    "price_indicator_rating", "make", "model", "registration", "vin", "first_registration_date", "seats", "doors",
    "engine_cc", "co2", "colour", "external_stock_id", "external_stock_reference", "set",
}
OPTION_KEYS = {"deliver", "duplicate", "out_of_order"}


def _set_path(record: dict[str, Any], dotted: str, value: Any) -> None:
    target = record
    parts = dotted.split(".")
    for part in parts[:-1]:
        if not isinstance(target.get(part), dict):
            raise ChangeError(f"set: {dotted!r} does not name a field of the record")
        target = target[part]
    target[parts[-1]] = value


def _int(name: str, value: Any, low: int = 0) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        raise ChangeError(f"{name} must be a whole number >= {low}")
    return value


def apply_change(record: dict[str, Any], change: Mapping[str, Any], *, media_base: str, seed: str) -> None:
    """Mutate `record` in place as described by `change` (keys of `CHANGE_KEYS`, see docs/sandbox.md)."""
    unknown = set(change) - CHANGE_KEYS
    if unknown:
        raise ChangeError(f"unknown change fields {sorted(unknown)}; known: {sorted(CHANGE_KEYS)}")
    vehicle, adverts, metadata = record["vehicle"], record["adverts"], record["metadata"]
    retail = adverts["retailAdverts"]
    if "admin_fee" in change:
        retail["adminFee"] = {"amountGBP": _int("admin_fee", change["admin_fee"])}
    if "price" in change:
        price = _int("price", change["price"], 1)
        adverts["forecourtPrice"] = {"amountGBP": price}
        retail["suppliedPrice"] = {"amountGBP": price}
    if "price" in change or "admin_fee" in change:
        fee = (retail.get("adminFee") or {}).get("amountGBP") or 0
        retail["totalPrice"] = {"amountGBP": retail["suppliedPrice"]["amountGBP"] + fee}
    if "vat_status" in change:
        if change["vat_status"] not in ("Inc VAT", "Ex VAT", "No VAT"):
            raise ChangeError("vat_status must be Inc VAT, Ex VAT or No VAT")
        retail["vatStatus"] = adverts["forecourtPriceVatStatus"] = change["vat_status"]
    if "mileage" in change:
        vehicle["odometerReadingMiles"] = _int("mileage", change["mileage"])
    if "images" in change:
        record["media"]["images"] = _images(change["images"], media_base, seed)
    for key in ("video", "spin"):
        if key in change:
            record["media"][key] = {"href": change[key]}
    if "features" in change:
        if not isinstance(change["features"], list) or not all(isinstance(f, dict) for f in change["features"]):
            raise ChangeError("features must be a list of feature objects")
        record["features"] = change["features"]
    if "add_features" in change:
        pool = {f[0]: f for f in uk_stock.STANDARD_FEATURES} | {f[0]: f for f in uk_stock.OPTIONAL_FEATURES}
        have = {f["name"] for f in record["features"]}
        for name in change["add_features"]:
            if name in have:
                continue
            entry = pool.get(name, (name, name, "Other"))
            price = entry[3] if len(entry) > 3 else 0
            record["features"].append({"name": entry[0], "genericName": entry[1], "type": "Optional" if price else
                                       "Standard", "category": entry[2], "basicPrice": price,
                                       "vatPrice": round(price * 1.2), "factoryFitted": True, "rarityRating": None,
                                       "valueRating": None})
    if "remove_features" in change:
        drop = set(change["remove_features"])
        record["features"] = [f for f in record["features"] if f["name"] not in drop]
    if "feature_ratings" in change:
        for feature in record["features"]:
            ratings = change["feature_ratings"].get(feature["name"])
            if ratings:
                for field in ("rarityRating", "valueRating"):
                    if field in ratings:
                        feature[field] = ratings[field]
    if "highlights" in change:
        record["highlights"] = [{"name": str(name)} for name in change["highlights"]]
    if "reservation" in change:
        if change["reservation"] not in ("Reserved", None):
            raise ChangeError('reservation must be "Reserved" or null')
        adverts["reservationStatus"] = change["reservation"]
    if "lifecycle" in change:
        if change["lifecycle"] not in LIFECYCLE_STATES:
            raise ChangeError(f"lifecycle must be one of {LIFECYCLE_STATES}")
        metadata["lifecycleState"] = change["lifecycle"]
        if change["lifecycle"] == "SOLD":
            adverts["soldDate"] = datetime.now(timezone.utc).date().isoformat()
    for key, advert in (("advertiser_advert", "advertiserAdvert"), ("autotrader_advert", "autotraderAdvert")):
        if key in change:
            if change[key] not in ADVERT_STATUSES:
                raise ChangeError(f"{key} must be one of {ADVERT_STATUSES}")
            retail[advert] = {"status": change[key]}
    if "derivative_id" in change:
        _switch_derivative(vehicle, str(change["derivative_id"]))
    for key, field in (("attention_grabber", "attentionGrabber"), ("description", "description"),
                       ("description2", "description2"), ("price_indicator_rating", "priceIndicatorRating")):
        if key in change:
            retail[field] = change[key]
    for key, field in (("make", "make"), ("model", "model"), ("registration", "registration"), ("vin", "vin"),
                       ("first_registration_date", "firstRegistrationDate"), ("seats", "seats"), ("doors", "doors"),
                       ("engine_cc", "engineCapacityCC"), ("co2", "co2EmissionGPKM"), ("colour", "colour")):
        if key in change:
            vehicle[field] = change[key]
    for key, field in (("external_stock_id", "externalStockId"),
                       ("external_stock_reference", "externalStockReference")):
        if key in change:
            metadata[field] = change[key]
    for dotted, value in (change.get("set") or {}).items():
        _set_path(record, dotted, value)


def _images(spec: Any, media_base: str, seed: str) -> list[dict[str, str]]:
    """`images`: a count (fresh normal photos), or a list of names / full hrefs / {imageId, href}."""
    if isinstance(spec, int) and not isinstance(spec, bool):
        out = []
        for n in range(_int("images", spec)):
            random_hex = hashlib.sha256(f"{seed}:{n}".encode()).hexdigest()[:30]
            image = make_image_id(random_hex, "normal", n)
            out.append({"imageId": image, "href": f"{media_base}/media/{{resize}}/{image}.jpg"})
        return out
    if not isinstance(spec, list):
        raise ChangeError("images must be a count or a list")
    out = []
    for entry in spec:
        if isinstance(entry, dict):
            out.append({"imageId": str(entry.get("imageId", "")), "href": str(entry["href"])})
        elif isinstance(entry, str) and entry.startswith(("http://", "https://")):
            out.append({"imageId": hashlib.md5(entry.encode()).hexdigest(), "href": entry})
        elif isinstance(entry, str):
            out.append({"imageId": entry, "href": f"{media_base}/media/{{resize}}/{entry}.jpg"})
        else:
            raise ChangeError("images entries are names, hrefs or {imageId, href}")
    return out


def _switch_derivative(vehicle: dict[str, Any], derivative_id: str) -> None:
    found = UK_DERIVATIVES_BY_ID.get(derivative_id)
    vehicle["derivativeId"] = derivative_id
    if found is None:
        return
    model, derivative = found
    cc = derivative.engine_cc
    vehicle.update({
        "make": model.make, "model": model.model, "generation": model.generation, "derivative": derivative.name,
        "trim": derivative.trim, "bodyType": derivative.body_type, "fuelType": derivative.fuel_type,
        "transmissionType": derivative.transmission, "drivetrain": derivative.drivetrain, "seats": derivative.seats,
        "doors": derivative.doors, "co2EmissionGPKM": derivative.co2_g_km, "engineCapacityCC": cc,
        "badgeEngineSizeLitres": round(cc / 1000, 1) if cc else None, "enginePowerPS": derivative.power_ps,
        "enginePowerBHP": derivative.power_bhp,
    })


class Notifier:
    """Builds, signs and delivers Autotrader notifications (api/autotrader.md 2.6)."""

    def __init__(self, runtime: SandboxRuntime) -> None:
        self.runtime = runtime

    def build(self, kind: str, subject_id: str, data: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        now = datetime.now(timezone.utc)
        body = json.dumps({"id": subject_id, "time": iso_millis(now), "type": kind, "data": data},
                          ensure_ascii=False, separators=(",", ":")).encode()
        secret = self.runtime.config.credentials["autotrader_webhook_secret"]
        headers = {"Content-Type": "application/json", "Autotrader-Signature": sign(secret, int(time.time()), body)}
        return body, headers

    async def send(self, bodies: list[tuple[bytes, dict[str, str]]], *, deliver: bool, event: str) -> dict[str, Any]:
        url = self.runtime.config.notification_url(VENDOR)
        if not deliver:
            return {"delivered": [], "requests": [
                {"method": "PUT", "url": url, "headers": headers, "body": body.decode()} for body, headers in bodies]}
        if url is None:
            return {"delivered": [], "note": "no receiver registered (start with --receiver or set receiver_url)"}
        results = []
        for body, headers in bodies:
            result = await self.runtime.deliver(VENDOR, "PUT", url, headers, body, event=event)
            results.append(result)
            if not _ok(result) and self.runtime.config.autotrader_notification_retries:
                self.runtime.spawn(self._retry(url, body, headers, event))
        return {"delivered": results}

    async def _retry(self, url: str, body: bytes, headers: dict[str, str], event: str) -> None:
        for attempt in range(2, self.runtime.config.autotrader_notification_retries + 2):
            await asyncio.sleep(self.runtime.config.autotrader_notification_retry_interval)
            result = await self.runtime.deliver(VENDOR, "PUT", url, headers, body, event=event, attempt=attempt)
            if _ok(result):
                return


def _ok(result: Mapping[str, Any]) -> bool:
    status = result.get("status")
    return isinstance(status, int) and 200 <= status < 300


def _options(payload: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    change = {k: v for k, v in payload.items() if k not in OPTION_KEYS}
    options = {"deliver": payload.get("deliver", True), "duplicate": payload.get("duplicate", 0),
               "out_of_order": payload.get("out_of_order", False)}
    if not isinstance(options["deliver"], bool) or not isinstance(options["out_of_order"], bool):
        raise ChangeError("deliver and out_of_order are true or false")
    _int("duplicate", options["duplicate"])
    return change, options


async def _payload(request: Request) -> dict[str, Any]:
    return await json_object(request, ChangeError)


def build_control_app(world: SandboxWorld, runtime: SandboxRuntime) -> Starlette:
    """`/_sandbox/autotrader/...`: change stock and advertisers, deliver notifications."""
    notifier = Notifier(runtime)

    def bump(record: dict[str, Any]) -> None:
        now = iso_millis(datetime.now(timezone.utc))
        metadata = record["metadata"]
        metadata["versionNumber"] = int(metadata.get("versionNumber") or 0) + 1
        metadata["lastUpdated"] = metadata["lastUpdatedByAdvertiser"] = now

    async def publish(record: dict[str, Any], previous: dict[str, Any] | None, options: Mapping[str, Any]
                      ) -> dict[str, Any]:
        stock_id = record["metadata"]["stockId"]
        notes = [notifier.build("STOCK_UPDATE", stock_id, record)]
        notes += [notes[0]] * options["duplicate"]
        if options["out_of_order"] and previous is not None:
            notes.append(notifier.build("STOCK_UPDATE", stock_id, previous))
        outcome = await notifier.send(notes, deliver=options["deliver"], event=f"STOCK_UPDATE {stock_id}")
        return {"stockId": stock_id, "versionNumber": record["metadata"]["versionNumber"],
                "lifecycleState": record["metadata"]["lifecycleState"], **outcome, "record": record}

    def locate(stock_id: str) -> tuple[UkAdvertiser, UkItem]:
        found = world.find_uk_item(stock_id)
        if found is None:
            raise LookupError(f"no stock item {stock_id}")
        advertiser, _ = found
        stock = world.pin_uk(advertiser.advertiser_id)
        item = stock.get(stock_id)
        assert item is not None
        return advertiser, item

    async def guarded(handler: Any, request: Request) -> Response:
        try:
            return await handler(request)
        except ChangeError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except LookupError as exc:
            return JSONResponse({"error": str(exc).strip("'\"")}, status_code=404)

    async def change(request: Request) -> Response:
        advertiser, item = locate(request.path_params["stock_id"])
        change_spec, options = _options(await _payload(request))
        previous = item.record()
        record = copy.deepcopy(previous)
        apply_change(record, change_spec, media_base=world.media_base,
                     seed=f"{record['metadata']['stockId']}:{record['metadata']['versionNumber']}")
        bump(record)
        world.pin_uk(advertiser.advertiser_id).put(UkItem(record))
        return JSONResponse(await publish(record, previous, options))

    async def read(request: Request) -> Response:
        _, item = locate(request.path_params["stock_id"])
        return JSONResponse(item.record())

    async def delete(request: Request) -> Response:
        advertiser, item = locate(request.path_params["stock_id"])
        payload = await _payload(request)
        state = payload.pop("state", "DELETED")
        remove = payload.pop("remove", False)
        if state not in ("DELETED", "WASTEBIN", "SOLD"):
            raise ChangeError("state must be DELETED, WASTEBIN or SOLD")
        change_spec, options = _options(payload)
        if change_spec:
            raise ChangeError(f"unknown fields {sorted(change_spec)}")
        previous = item.record()
        record = copy.deepcopy(previous)
        apply_change(record, {"lifecycle": state, "advertiser_advert": "NOT_PUBLISHED"}, media_base=world.media_base,
                     seed="")
        bump(record)
        stock = world.pin_uk(advertiser.advertiser_id)
        if remove:
            stock.remove(item.stock_id)
        else:
            stock.put(UkItem(record))
        result = await publish(record, previous, options)
        result["removed_from_stock_list"] = bool(remove)
        return JSONResponse(result)

    async def new_stock(request: Request) -> Response:
        advertiser_id = request.path_params["advertiser_id"]
        advertiser = world.advertiser(advertiser_id)
        if advertiser is None:
            raise LookupError(f"no advertiser {advertiser_id}")
        payload = await _payload(request)
        derivative = payload.pop("derivative_id", None)
        change_spec, options = _options(payload)
        index = None
        if derivative is not None:
            ids = [d.derivative_id for _, d in UK_DERIVATIVES]
            if derivative not in ids:
                raise ChangeError(f"unknown derivative_id {derivative!r}")
            index = ids.index(derivative)
        record = world.new_uk_record(advertiser_id, derivative_index=index)
        apply_change(record, {"lifecycle": "FORECOURT", **change_spec}, media_base=world.media_base,
                     seed=record["metadata"]["stockId"])
        record["metadata"]["versionNumber"] = 0
        bump(record)
        world.pin_uk(advertiser_id).put(UkItem(record))
        return JSONResponse(await publish(record, None, options), status_code=201)

    async def advertiser_change(request: Request) -> Response:
        advertiser = world.advertiser(request.path_params["advertiser_id"])
        if advertiser is None:
            raise LookupError(f"no advertiser {request.path_params['advertiser_id']}")
        payload = await _payload(request)
        options = {"deliver": payload.pop("deliver", True), "duplicate": payload.pop("duplicate", 0)}
        allowed = {"name", "status", "segment", "website", "phone", "strapline", "location"}
        unknown = set(payload) - allowed
        if unknown:
            raise ChangeError(f"unknown advertiser fields {sorted(unknown)}; known: {sorted(allowed)}")
        for key, value in payload.items():
            if key == "location":
                if not isinstance(value, dict):
                    raise ChangeError("location must be an object")
                advertiser.location = {**advertiser.location, **value}
            else:
                setattr(advertiser, key, value)
        world.advertiser_changed(advertiser)
        data = advertiser.record()
        note = notifier.build("ADVERTISER", advertiser.advertiser_id, data)
        outcome = await notifier.send([note] * (1 + _int("duplicate", options["duplicate"])),
                                      deliver=bool(options["deliver"]), event=f"ADVERTISER {advertiser.advertiser_id}")
        return JSONResponse({"advertiserId": advertiser.advertiser_id, **outcome, "record": data})

    async def access(request: Request) -> Response:
        advertiser = world.advertiser(request.path_params["advertiser_id"])
        if advertiser is None:
            raise LookupError(f"no advertiser {request.path_params['advertiser_id']}")
        payload = await _payload(request)
        unknown = set(payload) - {"on_integration", "stock_sync"}
        if unknown:
            raise ChangeError(f"unknown fields {sorted(unknown)}")
        for key, value in payload.items():
            if not isinstance(value, bool):
                raise ChangeError(f"{key} must be true or false")
            setattr(advertiser, key, value)
        return JSONResponse({"advertiserId": advertiser.advertiser_id, "on_integration": advertiser.on_integration,
                             "stock_sync": advertiser.stock_sync})

    def route(path: str, handler: Any, methods: list[str]) -> Route:
        async def endpoint(request: Request) -> Response:
            return await guarded(handler, request)
        return Route(path, endpoint, methods=methods)

    return Starlette(routes=[
        route("/stock/{stock_id}", read, ["GET"]),
        route("/stock/{stock_id}/change", change, ["POST"]),
        route("/stock/{stock_id}/delete", delete, ["POST"]),
        route("/advertisers/{advertiser_id}/stock", new_stock, ["POST"]),
        route("/advertisers/{advertiser_id}/change", advertiser_change, ["POST"]),
        route("/advertisers/{advertiser_id}/access", access, ["POST"]),
    ])
