"""The go-live checklist (shared `golive.md`): every check ID, what it asks, and how it is judged.

Kept in the package so a certification run needs nothing outside the repository; a test
asserts that this copy and `golive.md` list the same IDs, titles and judging modes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CALL_LOG, DEMONSTRATION = "call log", "demonstration"


@dataclass(frozen=True)
class Check:
    id: str
    title: str
    judged_by: str  # "call log" (the vendor's server view) or "demonstration" (what we store)


CHECKS: tuple[Check, ...] = (
    Check("AT-AUTH-1", "A token is obtained with the given key and secret", "call log"),
    Check("AT-AUTH-2", "After the token expires, a new one is obtained before the next call", "call log"),
    Check("AT-AUTH-3",
          "No authentication on every call: one token serves every process (Dagster runs, sensors, the "
          "webhook receiver) until it expires",
          "call log"),
    Check("AT-ADV-1", "Dealers on the integration come from the Advertisers API", "call log"),
    Check("AT-ADV-2", "The Advertisers API is paged with page and pageSize", "call log"),
    Check("AT-ADV-3", "A single advertiser can be checked with advertiserId", "call log"),
    Check("AT-ADVN-1", "Advertiser notifications: signature checked, 2xx on a match", "call log"),
    Check("AT-ADVN-2", "Notification type ADVERTISER is recognised", "demonstration"),
    Check("AT-ADVN-3",
          "Advertiser details are updated in our store when the dealer changes in Autotrader",
          "demonstration"),
    Check("AT-FAIR-429",
          "On 429, all API activity pauses (Retry-After when given, else a configured pause) before "
          "retrying",
          "demonstration"),
    Check("AT-FAIR-503", "On 503, activity on that service pauses at least 2 s", "demonstration"),
    Check("AT-ERR-400",
          "On 400, no scheduled retry; the bad input is flagged to the operator with the vendor's message",
          "demonstration"),
    Check("AT-ERR-401", "On 401, all API activity stops until a new token is obtained", "demonstration"),
    Check("AT-ERR-403A",
          "On 403 \"advertiser not on your integration\", all activity for that advertiser stops and an "
          "action is raised",
          "demonstration"),
    Check("AT-ERR-403B",
          "On 403 \"advertiser lacks the product\", that service stops for that advertiser and an action "
          "is raised",
          "demonstration"),
    Check("AT-ERR-CFRAY", "The CF-RAY id of every failed call is stored with the failure", "demonstration"),
    Check("AT-NOTIF-1", "Stock notifications: signature checked, 2xx on a match", "call log"),
    Check("AT-NOTIF-2", "403 when the signature does not match (or is missing, or too old)", "call log"),
    Check("AT-NOTIF-3", "Type STOCK_UPDATE is recognised and applied", "demonstration"),
    Check("AT-CREATE-1",
          "A stock item created in Autotrader is created in our store from its notification",
          "demonstration"),
    Check("AT-CREATE-2",
          "Stored identifiers: stockId and searchId, advertiserId, externalStockReference and "
          "externalStockId",
          "demonstration"),
    Check("AT-AVAIL-1",
          "Dealer-website visibility follows advertiserAdvert.status (PUBLISHED shown, NOT_PUBLISHED "
          "hidden)",
          "demonstration"),
    Check("AT-AVAIL-2",
          "Availability follows reservationStatus and lifecycleState SOLD / WASTEBIN / DELETED",
          "demonstration"),
    Check("AT-UPD-VEHICLE",
          "Make, model, mileage, first registration, derivativeId, seats, doors, engine size, CO2 update",
          "demonstration"),
    Check("AT-UPD-MEDIA", "Images, video URL, spin URL update", "demonstration"),
    Check("AT-UPD-ADVERT",
          "Attention grabber, description, description2, price indicator rating update",
          "demonstration"),
    Check("AT-UPD-PRICE", "Supplied price, admin fee, total price, VAT status update", "demonstration"),
    Check("AT-UPD-FEATURES", "Standard and optional features update", "demonstration"),
    Check("AT-UPD-HIGHLIGHTS", "Highlights, and the features' rarity and value ratings, update", "demonstration"),
    Check("AT-BASE-1", "Baseline stock for one retailer with advertiserId", "call log"),
    Check("AT-BASE-2", "Baseline pages with page and pageSize whenever totalResults exceeds the page size", "call log"),
    Check("AT-BASE-3", "stockId and searchId are stored from the baseline", "demonstration"),
    Check("AT-BASE-4",
          "403 from the Stock API: never retried for that advertiser; logged with an action to contact "
          "Autotrader",
          "demonstration"),
    Check("AT-BASE-5", "Response refinement: sections the pipeline does not use are requested with =false", "call log"),
    Check("AT-FEAT-1", "Taxonomy features fetched from the stock features endpoint for a stockId", "call log"),
    Check("AT-FEAT-2",
          "Called once per stock item; repeated only when derivativeId or features change; never on a "
          "schedule",
          "call log"),
    Check("AT-CHG-1", "Charge times fetched from the charge-times endpoint for a stockId", "call log"),
    Check("AT-CHG-2",
          "Vehicles that are not electric or plug-in hybrid are handled (not called, or an empty array "
          "accepted)",
          "demonstration"),
    Check("AT-CHG-3", "Called once per stock item; repeated only when derivativeId changes", "call log"),
    Check("WM-AUTH-1", "One token per dealer user, reused until it expires; re-granted once on 401", "call log"),
    Check("WM-STOCK-1", "The dealer's Cockpit stock is listed completely, page by page", "call log"),
    Check("WM-STATUS-1",
          "Each vehicle's publication status (Publicado / Erro, with the error text) is reported back",
          "call log"),
    Check("WM-LEAD-1",
          "Lead notifications are accepted (authenticated by our secret token), stored once, and fetched "
          "in detail",
          "demonstration"),
    Check("WM-LEAD-2",
          "Leads raised on our channels (Autocosmos enquiries) are inserted into the dealer's Cockpit CRM, "
          "once each",
          "call log"),
    Check("WM-ERR-401",
          "A 401 is reported with the three probable causes (token, integration deactivated, no active "
          "\"Integrador de API\" user)",
          "demonstration"),
    Check("AC-SIGN-1",
          "Every request carries a valid ACS-HMAC signature; a non-idempotent request is never repeated "
          "within the same second",
          "call log"),
    Check("AC-MATCH-1",
          "One versiones/bestmatch call per distinct vehicle specification, cached; not repeated on a "
          "schedule",
          "call log"),
    Check("AC-MATCH-2", "No more than two requests to publish a vehicle (bestmatch + publish)", "call log"),
    Check("AC-MATCH-3",
          "Trim null or Match null: the vehicle is not published blindly; Candidates are ranked, and an "
          "unresolved vehicle goes to a review queue",
          "demonstration"),
    Check("AC-PUB-1", "Create with POST; the ExternalId is our stable vehicle id and never changes", "call log"),
    Check("AC-PUB-2", "A price-only change uses PATCH, not PUT", "call log"),
    Check("AC-PUB-3", "Reserved or hidden vehicles are suspended (Activa false) and reactivated later", "call log"),
    Check("AC-PUB-4", "Sold or removed vehicles are archived once; an archived ExternalId is never reused", "call log"),
    Check("AC-PUB-5",
          "A 409 on create is reconciled (read, then PUT), never dodged by changing the ExternalId",
          "call log"),
    Check("AC-PUB-6", "A PUT never sends an empty photo list", "call log"),
    Check("AC-PHOTO-1",
          "Photos are checked before sending: reachable, JPG/PNG/WEBP, at least 640x360; the rest are "
          "dropped and flagged",
          "demonstration"),
    Check("AC-STATE-1",
          "Publications that the vendor suspended (e.g. left with no valid photo) are detected and "
          "reported",
          "demonstration"),
    Check("AC-HOOK-1",
          "Webhooks are verified (Notification-Signature); invitacionagencia_aceptada links the agency",
          "demonstration"),
    Check("ACH-AUTH-1", "One token reused for its 24 h lifetime, across processes", "call log"),
    Check("ACH-CAR-1", "Cars are created with the documented schema; images is always present", "call log"),
    Check("ACH-CAR-2",
          "Options are sent by name from GET api/options; unknown ones are dropped and flagged, not sent",
          "call log"),
    Check("ACH-CAR-3",
          "Changes update the car; sold or removed cars are deleted; a 403 (integration not enabled) stops "
          "that dealer",
          "call log"),
)

BY_ID: dict[str, Check] = {check.id: check for check in CHECKS}

_ROW = re.compile(r"^\|\s*(?P<id>[A-Z]+(?:-[A-Z0-9]+)+)\s*\|(?P<title>.*)\|(?P<judged>[^|]*)\|\s*$")


def parse_golive(text: str) -> list[Check]:
    """The checks of a `golive.md` text, in order (table rows whose first cell is an ID)."""
    found = []
    for line in text.splitlines():
        match = _ROW.match(line.strip())
        if match:
            title = match["title"].strip().replace("`", "")
            found.append(Check(match["id"], title, match["judged"].strip()))
    return found
