"""The canonical store's tables (SQLAlchemy Core metadata).

Names and columns that analysts and other programs rely on are fixed by `interface.md`;
the rest (token cache, pauses, sync runs, enrichment state, quality findings) exist so
that several processes can share vendor etiquette and so that every rule is queryable.
Every schema change goes through an Alembic migration in `migrations/versions/`.
"""

from __future__ import annotations

import sqlalchemy as sa

from dealer_pipeline.store import dictionary
from dealer_pipeline.store.types import JSONDocument, Money, UTCDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite autoincrements only INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column:
    return sa.Column("id", BigId, primary_key=True, autoincrement=True)


dealers = sa.Table(
    "dealers",
    metadata,
    sa.Column("dealer_id", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("source_dealer_id", sa.Text, nullable=False),
    sa.Column("name", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("segment", sa.Text),
    sa.Column("postcode", sa.Text),
    sa.Column("source_updated_at", UTCDateTime),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("left_at", UTCDateTime),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("raw", JSONDocument),
    sa.UniqueConstraint("source", "source_dealer_id"),
    sa.Index(None, "status"),
)

vehicles = sa.Table(
    "vehicles",
    metadata,
    sa.Column("vehicle_id", sa.Text, primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("source_vehicle_id", sa.Text, nullable=False),
    sa.Column("dealer_id", sa.Text, nullable=False),
    sa.Column("search_id", sa.Text),
    sa.Column("external_stock_id", sa.Text),
    sa.Column("external_stock_reference", sa.Text),
    sa.Column("vin", sa.Text),
    sa.Column("registration", sa.Text),
    sa.Column("make", sa.Text),
    sa.Column("model", sa.Text),
    sa.Column("trim", sa.Text),
    sa.Column("derivative", sa.Text),
    sa.Column("derivative_id", sa.Text),
    sa.Column("vehicle_type", sa.Text),
    sa.Column("condition", sa.Text),
    sa.Column("body_type", sa.Text),
    sa.Column("fuel_type", sa.Text),
    sa.Column("source_fuel_type", sa.Text),
    sa.Column("transmission", sa.Text),
    sa.Column("source_transmission", sa.Text),
    sa.Column("doors", sa.Integer),
    sa.Column("seats", sa.Integer),
    sa.Column("engine_cc", sa.Integer),
    sa.Column("power_kw", sa.Numeric(7, 1)),
    sa.Column("co2_g_km", sa.Integer),
    sa.Column("colour", sa.Text),
    sa.Column("model_year", sa.Integer),
    sa.Column("manufacture_year", sa.Integer),
    sa.Column("first_registration_date", sa.Date),
    sa.Column("mileage_km", sa.Integer),
    sa.Column("price_amount", Money),
    sa.Column("price_currency", sa.String(3)),
    sa.Column("supplied_price_amount", Money),
    sa.Column("admin_fee_amount", Money),
    sa.Column("vat_status", sa.Text),
    sa.Column("price_indicator_rating", sa.Text),
    sa.Column("lifecycle_state", sa.Text),
    sa.Column("reservation_status", sa.Text),
    sa.Column("availability", sa.Text, nullable=False),
    sa.Column("shown_on_dealer_site", sa.Boolean),
    sa.Column("attention_grabber", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("description2", sa.Text),
    sa.Column("images", JSONDocument),
    sa.Column("video_url", sa.Text),
    sa.Column("spin_url", sa.Text),
    sa.Column("features", JSONDocument),
    sa.Column("highlights", JSONDocument),
    sa.Column("source_version", sa.BigInteger),
    sa.Column("source_updated_at", UTCDateTime),
    sa.Column("last_seen_in_baseline_at", UTCDateTime),
    sa.Column("first_seen_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("raw", JSONDocument),
    sa.UniqueConstraint("source", "source_vehicle_id"),
    sa.Index(None, "dealer_id", "availability"),
    sa.Index(None, "updated_at"),
)

vehicle_changes = sa.Table(
    "vehicle_changes",
    metadata,
    _id(),
    sa.Column("vehicle_id", sa.Text, nullable=False),
    sa.Column("field", sa.Text, nullable=False),
    sa.Column("old_value", sa.Text),
    sa.Column("new_value", sa.Text),
    sa.Column("changed_at", UTCDateTime, nullable=False),
    sa.Column("cause", sa.Text, nullable=False),
    sa.Column("source_version", sa.BigInteger),
    sa.Index(None, "vehicle_id", "changed_at"),
    sa.Index(None, "field", "changed_at"),
)

webhook_events = sa.Table(
    "webhook_events",
    metadata,
    _id(),
    sa.Column("source", sa.Text, nullable=False, comment="autotrader, autocosmos, webmotors"),
    sa.Column("event_key", sa.Text, nullable=False, comment="unique per source: dedupes redeliveries"),
    sa.Column("event_type", sa.Text),
    sa.Column("subject_id", sa.Text, comment="stockId, advertiserId, adminmail, lead id"),
    sa.Column("subject_version", sa.BigInteger),
    sa.Column("dealer_id", sa.Text),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("headers", JSONDocument),
    sa.Column("body", sa.Text, comment="the raw body as received (UTF-8)"),
    sa.Column("status", sa.Text, nullable=False, comment="pending, applied, ignored, failed"),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("error", sa.Text),
    sa.Column("processed_at", UTCDateTime),
    sa.UniqueConstraint("source", "event_key"),
    sa.Index(None, "status", "id"),
)

publish_requests = sa.Table(
    "publish_requests",
    metadata,
    _id(),
    sa.Column("dealer_id", sa.Text, nullable=False),
    sa.Column("vehicle_id", sa.Text, comment="the vehicle whose change asks for it; null for the whole dealer"),
    sa.Column("reason", sa.Text, nullable=False, comment="the fields that changed, or the block a vendor signal lifted"),
    sa.Column("event_id", sa.BigInteger, comment="the webhook event whose application asked for it"),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

webhook_rejections = sa.Table(
    "webhook_rejections",
    metadata,
    _id(),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("http_status", sa.Integer, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("remote_addr", sa.Text),
    sa.Column("headers", JSONDocument),
    sa.Column("body", sa.Text, comment="null when the body was over the size cap"),
    sa.Column("body_bytes", sa.Integer),
    sa.Index(None, "received_at"),
)

api_calls = sa.Table(
    "api_calls",
    metadata,
    _id(),
    sa.Column("ts", UTCDateTime, nullable=False),
    sa.Column("vendor", sa.Text, nullable=False),
    sa.Column("service", sa.Text),
    sa.Column("method", sa.Text, nullable=False),
    sa.Column("path", sa.Text, nullable=False, comment="path and query, secrets removed"),
    sa.Column("status", sa.Integer, comment="null when no response arrived"),
    sa.Column("duration_ms", sa.Integer),
    sa.Column("cf_ray", sa.Text),
    sa.Column("dealer_id", sa.Text),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
    sa.Column("error", sa.Text),
    sa.Column("run_id", sa.Text),
    sa.Index(None, "vendor", "ts"),
    sa.Index(None, "dealer_id", "ts"),
)

api_blocks = sa.Table(
    "api_blocks",
    metadata,
    _id(),
    sa.Column("vendor", sa.Text, nullable=False),
    sa.Column("service", sa.Text),
    sa.Column("dealer_id", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("message", sa.Text),
    sa.Column("action", sa.Text),
    sa.Column("method", sa.Text),
    sa.Column("path", sa.Text),
    sa.Column("cf_ray", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("resolved_at", UTCDateTime),
    sa.Column("resolved_note", sa.Text),
    sa.Index(None, "vendor", "dealer_id", "resolved_at"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("token_key", sa.Text, primary_key=True, comment="vendor + hash of (base URL, client, user)"),
    sa.Column("vendor", sa.Text, nullable=False),
    sa.Column("ciphertext", sa.Text, comment="token encrypted with a key derived from the vendor secret"),
    sa.Column("expires_at", UTCDateTime),
    sa.Column("obtained_at", UTCDateTime),
    sa.Column("lease_owner", sa.Text, comment="the process refreshing it now"),
    sa.Column("lease_until", UTCDateTime),
    sa.Column("invalidated_at", UTCDateTime, comment="set on a 401: stop using it"),
)

api_pauses = sa.Table(
    "api_pauses",
    metadata,
    sa.Column("scope", sa.Text, primary_key=True, comment="vendor, or vendor/service"),
    sa.Column("vendor", sa.Text, nullable=False),
    sa.Column("paused_until", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("cf_ray", sa.Text),
    sa.Column("set_at", UTCDateTime, nullable=False),
)

sync_runs = sa.Table(
    "sync_runs",
    metadata,
    _id(),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("dealer_id", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("complete", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("pages", sa.Integer),
    sa.Column("records", sa.Integer),
    sa.Column("created", sa.Integer),
    sa.Column("updated", sa.Integer),
    sa.Column("removed", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Index(None, "dealer_id", "kind", "started_at"),
)

dealer_leases = sa.Table(
    "dealer_leases",
    metadata,
    sa.Column("dealer_id", sa.Text, primary_key=True),
    sa.Column("owner", sa.Text, nullable=False, comment="the process and thread syncing the dealer now"),
    sa.Column("run_id", sa.Text, comment="the Dagster run it works for"),
    sa.Column("work", sa.Text, nullable=False, comment="baseline, features, charge_times, ..."),
    sa.Column("acquired_at", UTCDateTime, nullable=False),
    sa.Column("until", UTCDateTime, nullable=False, comment="taken over by another run after this (a crashed holder)"),
)

stock_enrichments = sa.Table(
    "stock_enrichments",
    metadata,
    sa.Column("vehicle_id", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True, comment="features, charge_times"),
    sa.Column("derivative_id", sa.Text, comment="derivativeId when fetched"),
    sa.Column("features_hash", sa.Text, comment="hash of the record's features when fetched"),
    sa.Column("fetched_at", UTCDateTime, nullable=False),
    sa.Column("payload", JSONDocument),
)

rejected_records = sa.Table(
    "rejected_records",
    metadata,
    _id(),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False, comment="stock, advertiser"),
    sa.Column("dealer_id", sa.Text, comment="the dealer whose listing held it, when known"),
    sa.Column("reason", sa.Text, nullable=False, comment="why it could not be keyed or normalized"),
    sa.Column("run_id", sa.Text),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("raw", JSONDocument, comment="the vendor record as received"),
    sa.Index(None, "dealer_id", "received_at"),
)

quality_findings = sa.Table(
    "quality_findings",
    metadata,
    sa.Column("vehicle_id", sa.Text, primary_key=True),
    sa.Column("check_name", sa.Text, primary_key=True),
    sa.Column("dealer_id", sa.Text, nullable=False),
    sa.Column("severity", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("detected_at", UTCDateTime, nullable=False),
    sa.Index(None, "dealer_id", "severity"),
)

catalog_matches = sa.Table(
    "catalog_matches",
    metadata,
    sa.Column("spec_key", sa.Text, primary_key=True, comment="hash of the normalised request parameters"),
    sa.Column("params", JSONDocument, nullable=False),
    sa.Column("make_href", sa.Text),
    sa.Column("model_href", sa.Text),
    sa.Column("version_href", sa.Text),
    sa.Column("fuel_type", sa.Text),
    sa.Column("transmission", sa.Text),
    sa.Column("status", sa.Text, nullable=False, comment="matched, ranked, unresolved"),
    sa.Column("confidence", sa.Numeric(4, 3)),
    sa.Column("candidates", JSONDocument),
    sa.Column("response", JSONDocument),
    sa.Column("resolved_at", UTCDateTime, nullable=False),
    sa.Column("reviewed_at", UTCDateTime),
    sa.Column("recheck_requested_at", UTCDateTime, comment="an operator sent the spec back: ask the catalogue again"),
    sa.Column("review_note", sa.Text),
    sa.Index(None, "status"),
)

vehicle_specs = sa.Table(
    "vehicle_specs",
    metadata,
    sa.Column("vehicle_id", sa.Text, primary_key=True),
    sa.Column("spec_key", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Index(None, "spec_key"),
)

photo_checks = sa.Table(
    "photo_checks",
    metadata,
    sa.Column("url", sa.Text, primary_key=True),
    sa.Column("ok", sa.Boolean, nullable=False, comment="reachable, JPG/PNG/WEBP, at least the minimum size"),
    sa.Column("http_status", sa.Integer, comment="null when no response arrived"),
    sa.Column("image_format", sa.Text, comment="JPEG, PNG, WEBP, ... as detected from the bytes"),
    sa.Column("width", sa.Integer),
    sa.Column("height", sa.Integer),
    sa.Column("reason", sa.Text, comment="why the photo is not usable"),
    sa.Column("checked_at", UTCDateTime, nullable=False),
)

publications = sa.Table(
    "publications",
    metadata,
    sa.Column("target", sa.Text, primary_key=True),
    sa.Column("vehicle_id", sa.Text, primary_key=True),
    sa.Column("dealer_id", sa.Text, nullable=False),
    sa.Column("account_id", sa.Text),
    sa.Column("external_id", sa.Text, nullable=False),
    sa.Column("state", sa.Text, nullable=False),
    sa.Column("payload_hash", sa.Text),
    sa.Column("payload", JSONDocument),
    sa.Column("last_op", sa.Text),
    sa.Column("last_status", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("flags", JSONDocument),
    sa.Column("published_at", UTCDateTime),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("target", "account_id", "external_id"),
    sa.Index(None, "dealer_id", "state"),
)

vendor_state_changes = sa.Table(
    "vendor_state_changes",
    metadata,
    _id(),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("dealer_id", sa.Text, nullable=False),
    sa.Column("vehicle_id", sa.Text, nullable=False),
    sa.Column("account_id", sa.Text),
    sa.Column("external_id", sa.Text, nullable=False),
    sa.Column("change", sa.Text, nullable=False),
    sa.Column("vendor_state", sa.Text),
    sa.Column("state_before", sa.Text),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("healing", sa.Text),
    sa.Column("seen_at", UTCDateTime, nullable=False),
    sa.Index(None, "dealer_id", "seen_at"),
)

leads = sa.Table(
    "leads",
    metadata,
    _id(),
    sa.Column("source", sa.Text, nullable=False, comment="webmotors, autocosmos"),
    sa.Column("lead_key", sa.Text, nullable=False),
    sa.Column("dealer_id", sa.Text),
    sa.Column("vehicle_id", sa.Text),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("payload", JSONDocument),
    sa.Column("detail", JSONDocument),
    sa.Column("forwarded_at", UTCDateTime),
    sa.Column("forward_status", sa.Text),
    sa.UniqueConstraint("source", "lead_key"),
)

agency_links = sa.Table(
    "agency_links",
    metadata,
    sa.Column("adminmail", sa.Text, primary_key=True, comment="Autocosmos agency administrator e-mail"),
    sa.Column("dealer_id", sa.Text),
    sa.Column("agency_name", sa.Text),
    sa.Column("accepted_at", UTCDateTime),
    sa.Column("linked_at", UTCDateTime, nullable=False),
    sa.Column("raw", JSONDocument),
    sa.Column("api_confirmed_at", UTCDateTime, comment="access to the agency confirmed through the API"),
)

# The analyst-facing tables' column comments come from the data dictionary (one source for the
# tables, PostgreSQL, the view files and docs/data-dictionary.md).
dictionary.apply_to_metadata(metadata)
