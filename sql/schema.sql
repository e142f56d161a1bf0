BEGIN;

CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL, 
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

-- Running upgrade  -> 0001

CREATE TABLE agency_links (
    adminmail TEXT NOT NULL, 
    dealer_id TEXT, 
    agency_name TEXT, 
    accepted_at TIMESTAMP WITH TIME ZONE, 
    linked_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    raw JSONB, 
    CONSTRAINT pk_agency_links PRIMARY KEY (adminmail)
);

COMMENT ON COLUMN agency_links.adminmail IS 'Autocosmos agency administrator e-mail';

CREATE TABLE api_blocks (
    id BIGSERIAL NOT NULL, 
    vendor TEXT NOT NULL, 
    service TEXT, 
    dealer_id TEXT, 
    reason TEXT NOT NULL, 
    message TEXT, 
    action TEXT, 
    method TEXT, 
    path TEXT, 
    cf_ray TEXT, 
    created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    resolved_at TIMESTAMP WITH TIME ZONE, 
    resolved_note TEXT, 
    CONSTRAINT pk_api_blocks PRIMARY KEY (id)
);

COMMENT ON COLUMN api_blocks.service IS 'null: every service for that dealer';

COMMENT ON COLUMN api_blocks.dealer_id IS 'null: the whole vendor';

COMMENT ON COLUMN api_blocks.reason IS '403A, 403B, 400, ...';

COMMENT ON COLUMN api_blocks.action IS 'what a person should do';

CREATE INDEX ix_api_blocks_vendor_dealer_id_resolved_at ON api_blocks (vendor, dealer_id, resolved_at);

CREATE TABLE api_calls (
    id BIGSERIAL NOT NULL, 
    ts TIMESTAMP WITH TIME ZONE NOT NULL, 
    vendor TEXT NOT NULL, 
    service TEXT, 
    method TEXT NOT NULL, 
    path TEXT NOT NULL, 
    status INTEGER, 
    duration_ms INTEGER, 
    cf_ray TEXT, 
    dealer_id TEXT, 
    attempt INTEGER DEFAULT '1' NOT NULL, 
    error TEXT, 
    run_id TEXT, 
    CONSTRAINT pk_api_calls PRIMARY KEY (id)
);

COMMENT ON COLUMN api_calls.path IS 'path and query, secrets removed';

COMMENT ON COLUMN api_calls.status IS 'null when no response arrived';

CREATE INDEX ix_api_calls_dealer_id_ts ON api_calls (dealer_id, ts);

CREATE INDEX ix_api_calls_vendor_ts ON api_calls (vendor, ts);

CREATE TABLE api_pauses (
    scope TEXT NOT NULL, 
    vendor TEXT NOT NULL, 
    paused_until TIMESTAMP WITH TIME ZONE NOT NULL, 
    reason TEXT NOT NULL, 
    cf_ray TEXT, 
    set_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    CONSTRAINT pk_api_pauses PRIMARY KEY (scope)
);

COMMENT ON COLUMN api_pauses.scope IS 'vendor, or vendor/service';

CREATE TABLE api_tokens (
    token_key TEXT NOT NULL, 
    vendor TEXT NOT NULL, 
    ciphertext TEXT, 
    expires_at TIMESTAMP WITH TIME ZONE, 
    obtained_at TIMESTAMP WITH TIME ZONE, 
    lease_owner TEXT, 
    lease_until TIMESTAMP WITH TIME ZONE, 
    invalidated_at TIMESTAMP WITH TIME ZONE, 
    CONSTRAINT pk_api_tokens PRIMARY KEY (token_key)
);

COMMENT ON COLUMN api_tokens.token_key IS 'vendor + hash of (base URL, client, user)';

COMMENT ON COLUMN api_tokens.ciphertext IS 'token encrypted with a key derived from the vendor secret';

COMMENT ON COLUMN api_tokens.lease_owner IS 'the process refreshing it now';

COMMENT ON COLUMN api_tokens.invalidated_at IS 'set on a 401: stop using it';

CREATE TABLE catalog_matches (
    spec_key TEXT NOT NULL, 
    params JSONB NOT NULL, 
    make_href TEXT, 
    model_href TEXT, 
    version_href TEXT, 
    fuel_type TEXT, 
    transmission TEXT, 
    status TEXT NOT NULL, 
    confidence NUMERIC(4, 3), 
    candidates JSONB, 
    response JSONB, 
    resolved_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    reviewed_at TIMESTAMP WITH TIME ZONE, 
    CONSTRAINT pk_catalog_matches PRIMARY KEY (spec_key)
);

COMMENT ON COLUMN catalog_matches.spec_key IS 'hash of the normalised request parameters';

COMMENT ON COLUMN catalog_matches.status IS 'matched, ranked, unresolved';

CREATE INDEX ix_catalog_matches_status ON catalog_matches (status);

CREATE TABLE dealers (
    dealer_id TEXT NOT NULL, 
    source TEXT NOT NULL, 
    source_dealer_id TEXT NOT NULL, 
    name TEXT, 
    status TEXT NOT NULL, 
    segment TEXT, 
    postcode TEXT, 
    source_updated_at TIMESTAMP WITH TIME ZONE, 
    first_seen_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    left_at TIMESTAMP WITH TIME ZONE, 
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    raw JSONB, 
    CONSTRAINT pk_dealers PRIMARY KEY (dealer_id), 
    CONSTRAINT uq_dealers_source_source_dealer_id UNIQUE (source, source_dealer_id)
);

COMMENT ON COLUMN dealers.dealer_id IS '<source>:<source dealer id>';

COMMENT ON COLUMN dealers.status IS 'active, left_integration, ...';

COMMENT ON COLUMN dealers.source_updated_at IS 'vendor time of the last applied record';

COMMENT ON COLUMN dealers.raw IS 'the vendor record as received';

CREATE INDEX ix_dealers_status ON dealers (status);

CREATE TABLE leads (
    id BIGSERIAL NOT NULL, 
    source TEXT NOT NULL, 
    lead_key TEXT NOT NULL, 
    dealer_id TEXT, 
    vehicle_id TEXT, 
    received_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    payload JSONB, 
    detail JSONB, 
    forwarded_at TIMESTAMP WITH TIME ZONE, 
    forward_status TEXT, 
    CONSTRAINT pk_leads PRIMARY KEY (id), 
    CONSTRAINT uq_leads_source_lead_key UNIQUE (source, lead_key)
);

COMMENT ON COLUMN leads.source IS 'webmotors, autocosmos';

CREATE TABLE publications (
    target TEXT NOT NULL, 
    vehicle_id TEXT NOT NULL, 
    dealer_id TEXT NOT NULL, 
    account_id TEXT, 
    external_id TEXT NOT NULL, 
    state TEXT NOT NULL, 
    payload_hash TEXT, 
    payload JSONB, 
    last_op TEXT, 
    last_status INTEGER, 
    last_error TEXT, 
    flags JSONB, 
    published_at TIMESTAMP WITH TIME ZONE, 
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    CONSTRAINT pk_publications PRIMARY KEY (target, vehicle_id), 
    CONSTRAINT uq_publications_target_account_id_external_id UNIQUE (target, account_id, external_id)
);

COMMENT ON COLUMN publications.target IS 'autocosmos, autochat';

COMMENT ON COLUMN publications.account_id IS 'Autocosmos adminmail or Autochat dealershipId';

COMMENT ON COLUMN publications.external_id IS 'stable; never changed';

COMMENT ON COLUMN publications.state IS 'active, suspended, archived, deleted, error';

COMMENT ON COLUMN publications.flags IS 'dropped photos, unknown options, ...';

CREATE INDEX ix_publications_dealer_id_state ON publications (dealer_id, state);

CREATE TABLE quality_findings (
    vehicle_id TEXT NOT NULL, 
    check_name TEXT NOT NULL, 
    dealer_id TEXT NOT NULL, 
    severity TEXT NOT NULL, 
    reason TEXT NOT NULL, 
    detected_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    CONSTRAINT pk_quality_findings PRIMARY KEY (vehicle_id, check_name)
);

COMMENT ON COLUMN quality_findings.severity IS 'blocking or warning';

CREATE INDEX ix_quality_findings_dealer_id_severity ON quality_findings (dealer_id, severity);

CREATE TABLE stock_enrichments (
    vehicle_id TEXT NOT NULL, 
    kind TEXT NOT NULL, 
    derivative_id TEXT, 
    features_hash TEXT, 
    fetched_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    payload JSONB, 
    CONSTRAINT pk_stock_enrichments PRIMARY KEY (vehicle_id, kind)
);

COMMENT ON COLUMN stock_enrichments.kind IS 'features, charge_times';

COMMENT ON COLUMN stock_enrichments.derivative_id IS 'derivativeId when fetched';

COMMENT ON COLUMN stock_enrichments.features_hash IS 'hash of the record''s features when fetched';

CREATE TABLE sync_runs (
    id BIGSERIAL NOT NULL, 
    source TEXT NOT NULL, 
    dealer_id TEXT NOT NULL, 
    kind TEXT NOT NULL, 
    run_id TEXT, 
    started_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    finished_at TIMESTAMP WITH TIME ZONE, 
    complete BOOLEAN DEFAULT false NOT NULL, 
    pages INTEGER, 
    records INTEGER, 
    created INTEGER, 
    updated INTEGER, 
    removed INTEGER, 
    error TEXT, 
    CONSTRAINT pk_sync_runs PRIMARY KEY (id)
);

COMMENT ON COLUMN sync_runs.kind IS 'baseline, advertisers, ...';

CREATE INDEX ix_sync_runs_dealer_id_kind_started_at ON sync_runs (dealer_id, kind, started_at);

CREATE TABLE vehicle_changes (
    id BIGSERIAL NOT NULL, 
    vehicle_id TEXT NOT NULL, 
    field TEXT NOT NULL, 
    old_value TEXT, 
    new_value TEXT, 
    changed_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    cause TEXT NOT NULL, 
    source_version BIGINT, 
    CONSTRAINT pk_vehicle_changes PRIMARY KEY (id)
);

COMMENT ON COLUMN vehicle_changes.old_value IS 'JSON text of the previous value';

COMMENT ON COLUMN vehicle_changes.new_value IS 'JSON text of the new value';

COMMENT ON COLUMN vehicle_changes.cause IS 'baseline, notification, ...';

CREATE INDEX ix_vehicle_changes_field_changed_at ON vehicle_changes (field, changed_at);

CREATE INDEX ix_vehicle_changes_vehicle_id_changed_at ON vehicle_changes (vehicle_id, changed_at);

CREATE TABLE vehicles (
    vehicle_id TEXT NOT NULL, 
    source TEXT NOT NULL, 
    source_vehicle_id TEXT NOT NULL, 
    dealer_id TEXT NOT NULL, 
    search_id TEXT, 
    external_stock_id TEXT, 
    external_stock_reference TEXT, 
    vin TEXT, 
    registration TEXT, 
    make TEXT, 
    model TEXT, 
    trim TEXT, 
    derivative TEXT, 
    derivative_id TEXT, 
    vehicle_type TEXT, 
    condition TEXT, 
    body_type TEXT, 
    fuel_type TEXT, 
    source_fuel_type TEXT, 
    transmission TEXT, 
    source_transmission TEXT, 
    doors INTEGER, 
    seats INTEGER, 
    engine_cc INTEGER, 
    power_kw NUMERIC(7, 1), 
    co2_g_km INTEGER, 
    colour TEXT, 
    model_year INTEGER, 
    manufacture_year INTEGER, 
    first_registration_date DATE, 
    mileage_km INTEGER, 
    price_amount NUMERIC(14, 2), 
    price_currency VARCHAR(3), 
    supplied_price_amount NUMERIC(14, 2), 
    admin_fee_amount NUMERIC(14, 2), 
    vat_status TEXT, 
    price_indicator_rating TEXT, 
    lifecycle_state TEXT, 
    reservation_status TEXT, 
    availability TEXT NOT NULL, 
    shown_on_dealer_site BOOLEAN, 
    attention_grabber TEXT, 
    description TEXT, 
    description2 TEXT, 
    images JSONB, 
    video_url TEXT, 
    spin_url TEXT, 
    features JSONB, 
    highlights JSONB, 
    source_version BIGINT, 
    source_updated_at TIMESTAMP WITH TIME ZONE, 
    last_seen_in_baseline_at TIMESTAMP WITH TIME ZONE, 
    first_seen_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    raw JSONB, 
    CONSTRAINT pk_vehicles PRIMARY KEY (vehicle_id), 
    CONSTRAINT uq_vehicles_source_source_vehicle_id UNIQUE (source, source_vehicle_id)
);

COMMENT ON COLUMN vehicles.vehicle_id IS '<source>:<source vehicle id>';

COMMENT ON COLUMN vehicles.condition IS 'new or used';

COMMENT ON COLUMN vehicles.fuel_type IS 'canonical: petrol, diesel, electric, hybrid, plugin_hybrid, ...';

COMMENT ON COLUMN vehicles.source_fuel_type IS 'the vendor''s fuel value, kept when mapped to other';

COMMENT ON COLUMN vehicles.transmission IS 'canonical: manual, automatic, other';

COMMENT ON COLUMN vehicles.price_amount IS 'total price the buyer pays';

COMMENT ON COLUMN vehicles.lifecycle_state IS 'the vendor''s state';

COMMENT ON COLUMN vehicles.availability IS 'available, reserved, sold, removed';

COMMENT ON COLUMN vehicles.images IS 'list of image URLs';

COMMENT ON COLUMN vehicles.source_version IS 'Autotrader versionNumber; older never overwrites newer';

COMMENT ON COLUMN vehicles.raw IS 'the vendor record as received';

CREATE INDEX ix_vehicles_dealer_id_availability ON vehicles (dealer_id, availability);

CREATE INDEX ix_vehicles_updated_at ON vehicles (updated_at);

CREATE TABLE webhook_events (
    id BIGSERIAL NOT NULL, 
    source TEXT NOT NULL, 
    event_key TEXT NOT NULL, 
    event_type TEXT, 
    subject_id TEXT, 
    subject_version BIGINT, 
    dealer_id TEXT, 
    received_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    headers JSONB, 
    body TEXT, 
    status TEXT NOT NULL, 
    attempts INTEGER DEFAULT '0' NOT NULL, 
    error TEXT, 
    processed_at TIMESTAMP WITH TIME ZONE, 
    CONSTRAINT pk_webhook_events PRIMARY KEY (id), 
    CONSTRAINT uq_webhook_events_source_event_key UNIQUE (source, event_key)
);

COMMENT ON COLUMN webhook_events.source IS 'autotrader, autocosmos, webmotors';

COMMENT ON COLUMN webhook_events.event_key IS 'unique per source: dedupes redeliveries';

COMMENT ON COLUMN webhook_events.subject_id IS 'stockId, advertiserId, adminmail, lead id';

COMMENT ON COLUMN webhook_events.body IS 'the raw body as received (UTF-8)';

COMMENT ON COLUMN webhook_events.status IS 'pending, applied, ignored, failed';

CREATE INDEX ix_webhook_events_status_id ON webhook_events (status, id);

CREATE TABLE webhook_rejections (
    id BIGSERIAL NOT NULL, 
    source TEXT NOT NULL, 
    received_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    http_status INTEGER NOT NULL, 
    reason TEXT NOT NULL, 
    remote_addr TEXT, 
    headers JSONB, 
    body TEXT, 
    body_bytes INTEGER, 
    CONSTRAINT pk_webhook_rejections PRIMARY KEY (id)
);

COMMENT ON COLUMN webhook_rejections.body IS 'null when the body was over the size cap';

CREATE INDEX ix_webhook_rejections_received_at ON webhook_rejections (received_at);

INSERT INTO alembic_version (version_num) VALUES ('0001') RETURNING alembic_version.version_num;

-- Running upgrade 0001 -> 0002

CREATE VIEW v_data_quality AS
SELECT
    f.dealer_id,
    d.name AS dealer_name,
    f.vehicle_id,
    v.source,
    v.source_vehicle_id,
    v.external_stock_reference,
    f.check_name,
    f.severity,
    f.reason,
    f.detected_at,
    v.availability,
    v.make,
    v.model,
    v.registration,
    v.vin,
    v.price_amount,
    v.price_currency,
    v.updated_at AS vehicle_updated_at
FROM quality_findings f
LEFT JOIN vehicles v ON v.vehicle_id = f.vehicle_id
LEFT JOIN dealers d ON d.dealer_id = f.dealer_id;

COMMENT ON VIEW v_data_quality IS 'One row per (vehicle, failed check) from the last data-quality run over its dealer: which check, how severe (blocking keeps the vehicle from publishing; warning does not), why (quoting the offending value), and the fields a person needs to find the vehicle in the dealer''s system.';

CREATE VIEW v_dealer_sync_health AS
WITH known AS (
    SELECT dealer_id FROM dealers
    UNION SELECT dealer_id FROM vehicles
    UNION SELECT dealer_id FROM sync_runs WHERE kind = 'baseline'
),
baselines AS (
    SELECT dealer_id, started_at, finished_at, complete, records, error,
           ROW_NUMBER() OVER (PARTITION BY dealer_id ORDER BY started_at DESC, id DESC) AS recency
    FROM sync_runs
    WHERE kind = 'baseline'
),
complete_baselines AS (
    SELECT dealer_id, started_at, finished_at, records,
           ROW_NUMBER() OVER (PARTITION BY dealer_id ORDER BY started_at DESC, id DESC) AS recency
    FROM sync_runs
    WHERE kind = 'baseline' AND complete = TRUE
),
stock AS (
    SELECT dealer_id,
           MIN(source) AS source,
           SUM(CASE WHEN availability = 'available' THEN 1 ELSE 0 END) AS vehicles_available,
           SUM(CASE WHEN availability = 'reserved' THEN 1 ELSE 0 END) AS vehicles_reserved,
           SUM(CASE WHEN availability = 'sold' THEN 1 ELSE 0 END) AS vehicles_sold,
           SUM(CASE WHEN availability = 'removed' THEN 1 ELSE 0 END) AS vehicles_removed,
           COUNT(*) AS vehicles_total
    FROM vehicles
    GROUP BY dealer_id
),
findings AS (
    SELECT dealer_id,
           COUNT(DISTINCT CASE WHEN severity = 'blocking' THEN vehicle_id END) AS vehicles_blocked,
           SUM(CASE WHEN severity = 'blocking' THEN 1 ELSE 0 END) AS blocking_findings,
           SUM(CASE WHEN severity = 'warning' THEN 1 ELSE 0 END) AS warning_findings
    FROM quality_findings
    GROUP BY dealer_id
),
dealer_blocks AS (
    SELECT dealer_id, COUNT(*) AS open_blocks
    FROM api_blocks
    WHERE resolved_at IS NULL AND dealer_id IS NOT NULL
    GROUP BY dealer_id
),
vendor_blocks AS (
    SELECT vendor, COUNT(*) AS open_blocks
    FROM api_blocks
    WHERE resolved_at IS NULL AND dealer_id IS NULL
    GROUP BY vendor
)
SELECT
    k.dealer_id,
    d.name AS dealer_name,
    COALESCE(d.source, s.source, (SELECT MIN(r.source) FROM sync_runs r WHERE r.dealer_id = k.dealer_id)) AS source,
    d.status AS dealer_status,
    lb.started_at AS last_baseline_started_at,
    lb.finished_at AS last_baseline_finished_at,
    lb.complete AS last_baseline_complete,
    lb.records AS last_baseline_records,
    lb.error AS last_baseline_error,
    cb.finished_at AS last_complete_baseline_at,
    cb.records AS last_complete_records,
    pb.records AS previous_complete_records,
    COALESCE(s.vehicles_available, 0) AS vehicles_available,
    COALESCE(s.vehicles_reserved, 0) AS vehicles_reserved,
    COALESCE(s.vehicles_sold, 0) AS vehicles_sold,
    COALESCE(s.vehicles_removed, 0) AS vehicles_removed,
    COALESCE(s.vehicles_total, 0) AS vehicles_total,
    COALESCE(f.vehicles_blocked, 0) AS vehicles_blocked,
    COALESCE(f.blocking_findings, 0) AS blocking_findings,
    COALESCE(f.warning_findings, 0) AS warning_findings,
    COALESCE(db.open_blocks, 0) AS open_blocks,
    COALESCE(vb.open_blocks, 0) AS open_vendor_blocks
FROM known k
LEFT JOIN dealers d ON d.dealer_id = k.dealer_id
LEFT JOIN stock s ON s.dealer_id = k.dealer_id
LEFT JOIN baselines lb ON lb.dealer_id = k.dealer_id AND lb.recency = 1
LEFT JOIN complete_baselines cb ON cb.dealer_id = k.dealer_id AND cb.recency = 1
LEFT JOIN complete_baselines pb ON pb.dealer_id = k.dealer_id AND pb.recency = 2
LEFT JOIN findings f ON f.dealer_id = k.dealer_id
LEFT JOIN dealer_blocks db ON db.dealer_id = k.dealer_id
LEFT JOIN vendor_blocks vb
       ON vb.vendor = COALESCE(d.source, s.source, (SELECT MIN(r.source) FROM sync_runs r WHERE r.dealer_id = k.dealer_id));

COMMENT ON VIEW v_dealer_sync_health IS 'One row per dealer known to the store (from dealers, vehicles or baseline sync runs): its last baseline download (complete or not), its last and previous complete baselines, its vehicles by availability, its data-quality findings, and the API blocks still open for it or its whole vendor.';

CREATE VIEW v_price_history AS
SELECT
    p.vehicle_id,
    v.dealer_id,
    v.source,
    v.make,
    v.model,
    p.field,
    v.price_currency AS currency,
    p.old_amount,
    p.new_amount,
    p.new_amount - p.old_amount AS change_amount,
    p.changed_at,
    p.cause,
    p.source_version
FROM (
    SELECT
        c.vehicle_id,
        c.field,
        CAST(NULLIF(NULLIF(TRIM(REPLACE(c.old_value, '"', '')), ''), 'null') AS NUMERIC(14, 2)) AS old_amount,
        CAST(NULLIF(NULLIF(TRIM(REPLACE(c.new_value, '"', '')), ''), 'null') AS NUMERIC(14, 2)) AS new_amount,
        c.changed_at,
        c.cause,
        c.source_version
    FROM vehicle_changes c
    WHERE c.field IN ('price_amount', 'supplied_price_amount', 'admin_fee_amount')
) p
LEFT JOIN vehicles v ON v.vehicle_id = p.vehicle_id;

COMMENT ON VIEW v_price_history IS 'One row per change of a vehicle''s price (total price, supplied price or admin fee) recorded in vehicle_changes, with the old and new amounts as numbers in the vehicle''s currency, the difference, when it changed and why (baseline, notification, ...).';

CREATE VIEW v_stock_current AS
SELECT
    v.dealer_id,
    d.name AS dealer_name,
    v.source,
    v.vehicle_id,
    v.source_vehicle_id,
    v.external_stock_reference,
    v.vin,
    v.registration,
    v.make,
    v.model,
    v.trim,
    v.derivative,
    v.body_type,
    v.fuel_type,
    v.transmission,
    v.doors,
    v.seats,
    v.engine_cc,
    v.power_kw,
    v.co2_g_km,
    v.colour,
    v.model_year,
    v.first_registration_date,
    v.mileage_km,
    v.price_amount,
    v.price_currency,
    v.vat_status,
    v.price_indicator_rating,
    v.availability,
    v.lifecycle_state,
    v.shown_on_dealer_site,
    v.images,
    v.first_seen_at,
    v.source_updated_at,
    v.updated_at,
    (SELECT COUNT(*) FROM quality_findings f
      WHERE f.vehicle_id = v.vehicle_id AND f.severity = 'blocking') AS blocking_findings
FROM vehicles v
LEFT JOIN dealers d ON d.dealer_id = v.dealer_id
WHERE v.availability IN ('available', 'reserved');

COMMENT ON VIEW v_stock_current IS 'One row per vehicle currently in a dealer''s stock (availability available or reserved), with its canonical fields, the dealer''s name, and how many blocking data-quality findings hold it back from publishing (0 = publishable as of the last check run).';

UPDATE alembic_version SET version_num='0002' WHERE alembic_version.version_num = '0001';

-- Running upgrade 0002 -> 0003

CREATE TABLE photo_checks (
    url TEXT NOT NULL, 
    ok BOOLEAN NOT NULL, 
    http_status INTEGER, 
    image_format TEXT, 
    width INTEGER, 
    height INTEGER, 
    reason TEXT, 
    checked_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    CONSTRAINT pk_photo_checks PRIMARY KEY (url)
);

COMMENT ON COLUMN photo_checks.ok IS 'reachable, JPG/PNG/WEBP, at least the minimum size';

COMMENT ON COLUMN photo_checks.http_status IS 'null when no response arrived';

COMMENT ON COLUMN photo_checks.image_format IS 'JPEG, PNG, WEBP, ... as detected from the bytes';

COMMENT ON COLUMN photo_checks.reason IS 'why the photo is not usable';

CREATE TABLE vehicle_specs (
    vehicle_id TEXT NOT NULL, 
    spec_key TEXT NOT NULL, 
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    CONSTRAINT pk_vehicle_specs PRIMARY KEY (vehicle_id)
);

CREATE INDEX ix_vehicle_specs_spec_key ON vehicle_specs (spec_key);

ALTER TABLE catalog_matches ADD COLUMN recheck_requested_at TIMESTAMP WITH TIME ZONE;

COMMENT ON COLUMN catalog_matches.recheck_requested_at IS 'an operator sent the spec back: ask the catalogue again';

ALTER TABLE catalog_matches ADD COLUMN review_note TEXT;

ALTER TABLE agency_links ADD COLUMN api_confirmed_at TIMESTAMP WITH TIME ZONE;

COMMENT ON COLUMN agency_links.api_confirmed_at IS 'access to the agency confirmed through the API';

CREATE VIEW v_catalog_review AS
SELECT m.spec_key,
       m.status,
       (m.params->>'make') AS make,
       (m.params->>'model') AS model,
       (m.params->>'trim') AS trim,
       (m.params->>'year') AS year,
       (m.params->>'fuelType') AS fuel_type,
       (m.params->>'transmissionType') AS transmission_type,
       m.model_href,
       m.confidence,
       (m.candidates->0->>'href') AS top_candidate_href,
       (m.candidates->0->>'Nombre') AS top_candidate_name,
       (SELECT count(*) FROM vehicle_specs s WHERE s.spec_key = m.spec_key) AS vehicles,
       m.resolved_at,
       m.recheck_requested_at,
       m.review_note
FROM catalog_matches m
WHERE m.status = 'unresolved'
   OR (m.recheck_requested_at IS NOT NULL AND m.recheck_requested_at >= m.resolved_at);

COMMENT ON VIEW v_catalog_review IS 'One row per catalogue specification an operator must look at: no version matched and no candidate was accepted, or the spec was sent back to be asked again.';

UPDATE alembic_version SET version_num='0003' WHERE alembic_version.version_num = '0002';

-- Running upgrade 0003 -> 0004

CREATE TABLE rejected_records (
    id BIGSERIAL NOT NULL, 
    source TEXT NOT NULL, 
    kind TEXT NOT NULL, 
    dealer_id TEXT, 
    reason TEXT NOT NULL, 
    run_id TEXT, 
    received_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    raw JSONB, 
    CONSTRAINT pk_rejected_records PRIMARY KEY (id)
);

COMMENT ON COLUMN rejected_records.kind IS 'stock, advertiser';

COMMENT ON COLUMN rejected_records.dealer_id IS 'the dealer whose listing held it, when known';

COMMENT ON COLUMN rejected_records.reason IS 'why it could not be keyed or normalized';

COMMENT ON COLUMN rejected_records.raw IS 'the vendor record as received';

CREATE INDEX ix_rejected_records_dealer_id_received_at ON rejected_records (dealer_id, received_at);

UPDATE alembic_version SET version_num='0004' WHERE alembic_version.version_num = '0003';

COMMIT;

