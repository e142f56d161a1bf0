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

COMMENT ON COLUMN v_data_quality.dealer_id IS 'the vehicle''s dealer';

COMMENT ON COLUMN v_data_quality.dealer_name IS 'the dealer''s trading name as the vendor gives it';

COMMENT ON COLUMN v_data_quality.vehicle_id IS 'the vehicle (vehicles.vehicle_id)';

COMMENT ON COLUMN v_data_quality.source IS 'the vendor the vehicle comes from: autotrader or webmotors';

COMMENT ON COLUMN v_data_quality.source_vehicle_id IS 'the vehicle''s id at its vendor (Autotrader stockId, Webmotors ad id)';

COMMENT ON COLUMN v_data_quality.external_stock_reference IS 'the dealer''s stock reference, to find the vehicle in the dealer''s system';

COMMENT ON COLUMN v_data_quality.check_name IS 'the rule or check that failed (price_range, model_year_range, other_vocabulary_share, ...)';

COMMENT ON COLUMN v_data_quality.severity IS 'blocking or warning (blocking keeps the vehicle off the classifieds)';

COMMENT ON COLUMN v_data_quality.reason IS 'why, quoting the offending value';

COMMENT ON COLUMN v_data_quality.detected_at IS 'when the check found it';

COMMENT ON COLUMN v_data_quality.availability IS 'available, reserved, sold, removed';

COMMENT ON COLUMN v_data_quality.make IS 'manufacturer, as the vendor names it';

COMMENT ON COLUMN v_data_quality.model IS 'model, as the vendor names it';

COMMENT ON COLUMN v_data_quality.registration IS 'registration plate, when given';

COMMENT ON COLUMN v_data_quality.vin IS 'vehicle identification number, when given';

COMMENT ON COLUMN v_data_quality.price_amount IS 'total price the buyer pays, in price_currency';

COMMENT ON COLUMN v_data_quality.price_currency IS 'ISO 4217 currency of every amount of the row (GBP, BRL)';

COMMENT ON COLUMN v_data_quality.vehicle_updated_at IS 'when the pipeline last changed this row';

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

COMMENT ON COLUMN v_dealer_sync_health.dealer_id IS '<source>:<source dealer id>, e.g. autotrader:10012345 or webmotors:03347828000109';

COMMENT ON COLUMN v_dealer_sync_health.dealer_name IS 'the dealer''s trading name as the vendor gives it';

COMMENT ON COLUMN v_dealer_sync_health.source IS 'the vendor the dealer''s stock comes from: autotrader or webmotors';

COMMENT ON COLUMN v_dealer_sync_health.dealer_status IS 'active, left_integration, ... (left_integration: no longer on our integration)';

COMMENT ON COLUMN v_dealer_sync_health.last_baseline_started_at IS 'when the dealer''s last baseline download started (complete or not)';

COMMENT ON COLUMN v_dealer_sync_health.last_baseline_finished_at IS 'when it ended; null while running or after a crash';

COMMENT ON COLUMN v_dealer_sync_health.last_baseline_complete IS 'whether that last download was complete';

COMMENT ON COLUMN v_dealer_sync_health.last_baseline_records IS 'records in that last download';

COMMENT ON COLUMN v_dealer_sync_health.last_baseline_error IS 'why that last download did not complete';

COMMENT ON COLUMN v_dealer_sync_health.last_complete_baseline_at IS 'when the last complete baseline finished (older than DEALER_PIPELINE_FRESHNESS_HOURS: stale)';

COMMENT ON COLUMN v_dealer_sync_health.last_complete_records IS 'records in the last complete baseline';

COMMENT ON COLUMN v_dealer_sync_health.previous_complete_records IS 'records in the complete baseline before it (a drop of more than a fifth is warned)';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_available IS 'the dealer''s vehicles now available';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_reserved IS 'the dealer''s vehicles now reserved';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_sold IS 'the dealer''s vehicles sold';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_removed IS 'the dealer''s vehicles removed';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_total IS 'all the dealer''s vehicles in the store';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_blocked IS 'vehicles held back by at least one blocking finding';

COMMENT ON COLUMN v_dealer_sync_health.blocking_findings IS 'blocking data-quality findings';

COMMENT ON COLUMN v_dealer_sync_health.warning_findings IS 'warning data-quality findings';

COMMENT ON COLUMN v_dealer_sync_health.open_blocks IS 'API blocks still open for this dealer';

COMMENT ON COLUMN v_dealer_sync_health.open_vendor_blocks IS 'API blocks still open for the dealer''s whole vendor';

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

COMMENT ON COLUMN v_price_history.vehicle_id IS '<source>:<source vehicle id>, e.g. autotrader:<stockId>';

COMMENT ON COLUMN v_price_history.dealer_id IS 'the dealer selling it (dealers.dealer_id)';

COMMENT ON COLUMN v_price_history.source IS 'the vendor the vehicle comes from: autotrader or webmotors';

COMMENT ON COLUMN v_price_history.make IS 'manufacturer, as the vendor names it';

COMMENT ON COLUMN v_price_history.model IS 'model, as the vendor names it';

COMMENT ON COLUMN v_price_history.field IS 'which price changed: price_amount, supplied_price_amount or admin_fee_amount';

COMMENT ON COLUMN v_price_history.currency IS 'ISO 4217 currency of every amount of the row (GBP, BRL)';

COMMENT ON COLUMN v_price_history.old_amount IS 'the amount before the change (null for a first price)';

COMMENT ON COLUMN v_price_history.new_amount IS 'the amount after the change';

COMMENT ON COLUMN v_price_history.change_amount IS 'new_amount minus old_amount (negative: a cut)';

COMMENT ON COLUMN v_price_history.changed_at IS 'when the change was applied';

COMMENT ON COLUMN v_price_history.cause IS 'baseline, notification, ...';

COMMENT ON COLUMN v_price_history.source_version IS 'Autotrader versionNumber of the record that brought the change';

CREATE VIEW v_publications AS
SELECT
    p.target,
    p.dealer_id,
    d.name AS dealer_name,
    p.vehicle_id,
    v.make,
    v.model,
    v.registration,
    v.price_amount,
    v.price_currency,
    v.availability,
    p.account_id,
    p.external_id,
    p.state,
    CASE WHEN p.state = 'active' THEN 1 ELSE 0 END AS live,
    CASE WHEN p.last_op = 'hold' THEN 1 ELSE 0 END AS held_back,
    p.last_error AS reason,
    p.last_op,
    p.last_status,
    p.published_at,
    p.updated_at
FROM publications p
LEFT JOIN vehicles v ON v.vehicle_id = p.vehicle_id
LEFT JOIN dealers d ON d.dealer_id = p.dealer_id
WHERE p.target IN ('autocosmos', 'autochat');

COMMENT ON VIEW v_publications IS 'One row per (vehicle, classified target) the publishing loop has decided about: whether it is live there (state active), suspended, archived or deleted, or held back before it ever went live and why, with the vehicle''s dealer, make, model and price.';

COMMENT ON COLUMN v_publications.target IS 'the classified: autocosmos or autochat';

COMMENT ON COLUMN v_publications.dealer_id IS 'the vehicle''s dealer';

COMMENT ON COLUMN v_publications.dealer_name IS 'the dealer''s trading name as the vendor gives it';

COMMENT ON COLUMN v_publications.vehicle_id IS 'the vehicle (vehicles.vehicle_id)';

COMMENT ON COLUMN v_publications.make IS 'manufacturer, as the vendor names it';

COMMENT ON COLUMN v_publications.model IS 'model, as the vendor names it';

COMMENT ON COLUMN v_publications.registration IS 'registration plate, when given';

COMMENT ON COLUMN v_publications.price_amount IS 'total price the buyer pays, in price_currency';

COMMENT ON COLUMN v_publications.price_currency IS 'ISO 4217 currency of every amount of the row (GBP, BRL)';

COMMENT ON COLUMN v_publications.availability IS 'available, reserved, sold, removed';

COMMENT ON COLUMN v_publications.account_id IS 'Autocosmos adminmail or Autochat dealershipId';

COMMENT ON COLUMN v_publications.external_id IS 'the vehicle''s id on the target (stable; never changed)';

COMMENT ON COLUMN v_publications.state IS 'active, suspended, archived, deleted, error';

COMMENT ON COLUMN v_publications.live IS '1 when it is live on the target now (state active), else 0';

COMMENT ON COLUMN v_publications.held_back IS '1 when the last decision was to hold it back (never sent: not publishable), else 0';

COMMENT ON COLUMN v_publications.reason IS 'why it was held back, or why the target refused or suspended it; null when the last operation succeeded';

COMMENT ON COLUMN v_publications.last_op IS 'the last operation: create, replace, price, suspend, reactivate, remove, hold, nothing';

COMMENT ON COLUMN v_publications.last_status IS 'HTTP status of the last call; null when none was made';

COMMENT ON COLUMN v_publications.published_at IS 'when it first went live on the target';

COMMENT ON COLUMN v_publications.updated_at IS 'when the pipeline last changed this row';

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

COMMENT ON COLUMN v_stock_current.dealer_id IS 'the dealer selling it (dealers.dealer_id)';

COMMENT ON COLUMN v_stock_current.dealer_name IS 'the dealer''s trading name as the vendor gives it';

COMMENT ON COLUMN v_stock_current.source IS 'the vendor the vehicle comes from: autotrader or webmotors';

COMMENT ON COLUMN v_stock_current.vehicle_id IS '<source>:<source vehicle id>, e.g. autotrader:<stockId>';

COMMENT ON COLUMN v_stock_current.source_vehicle_id IS 'the vehicle''s id at its vendor (Autotrader stockId, Webmotors ad id)';

COMMENT ON COLUMN v_stock_current.external_stock_reference IS 'the dealer''s stock reference, to find the vehicle in the dealer''s system';

COMMENT ON COLUMN v_stock_current.vin IS 'vehicle identification number, when given';

COMMENT ON COLUMN v_stock_current.registration IS 'registration plate, when given';

COMMENT ON COLUMN v_stock_current.make IS 'manufacturer, as the vendor names it';

COMMENT ON COLUMN v_stock_current.model IS 'model, as the vendor names it';

COMMENT ON COLUMN v_stock_current.trim IS 'trim level';

COMMENT ON COLUMN v_stock_current.derivative IS 'the full variant name (Autotrader derivative)';

COMMENT ON COLUMN v_stock_current.body_type IS 'body style (Hatchback, SUV, ...)';

COMMENT ON COLUMN v_stock_current.fuel_type IS 'canonical: petrol, diesel, electric, hybrid, plugin_hybrid, ..., other';

COMMENT ON COLUMN v_stock_current.transmission IS 'canonical: manual, automatic, other';

COMMENT ON COLUMN v_stock_current.doors IS 'number of doors';

COMMENT ON COLUMN v_stock_current.seats IS 'number of seats';

COMMENT ON COLUMN v_stock_current.engine_cc IS 'engine capacity in cubic centimetres';

COMMENT ON COLUMN v_stock_current.power_kw IS 'engine power in kilowatts';

COMMENT ON COLUMN v_stock_current.co2_g_km IS 'CO2 emissions in grams per kilometre';

COMMENT ON COLUMN v_stock_current.colour IS 'exterior colour';

COMMENT ON COLUMN v_stock_current.model_year IS 'model year';

COMMENT ON COLUMN v_stock_current.first_registration_date IS 'date of first registration';

COMMENT ON COLUMN v_stock_current.mileage_km IS 'odometer reading in kilometres (miles converted)';

COMMENT ON COLUMN v_stock_current.price_amount IS 'total price the buyer pays, in price_currency';

COMMENT ON COLUMN v_stock_current.price_currency IS 'ISO 4217 currency of every amount of the row (GBP, BRL)';

COMMENT ON COLUMN v_stock_current.vat_status IS 'Autotrader VAT status of the price, as the vendor gives it';

COMMENT ON COLUMN v_stock_current.price_indicator_rating IS 'Autotrader price indicator rating of the advert, as the vendor gives it';

COMMENT ON COLUMN v_stock_current.availability IS 'available or reserved (sold and removed vehicles are not in this view)';

COMMENT ON COLUMN v_stock_current.lifecycle_state IS 'the vendor''s state';

COMMENT ON COLUMN v_stock_current.shown_on_dealer_site IS 'the dealer shows it on its own site; false keeps it off the classifieds (null counts as shown)';

COMMENT ON COLUMN v_stock_current.images IS 'list of image URLs';

COMMENT ON COLUMN v_stock_current.first_seen_at IS 'when the pipeline first saw the vehicle';

COMMENT ON COLUMN v_stock_current.source_updated_at IS 'vendor time of the last applied change';

COMMENT ON COLUMN v_stock_current.updated_at IS 'when the pipeline last changed this row';

COMMENT ON COLUMN v_stock_current.blocking_findings IS 'blocking data-quality findings holding it back from publishing (0: publishable)';

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

-- Running upgrade 0004 -> 0005

DROP VIEW IF EXISTS v_stock_current;

DROP VIEW IF EXISTS v_publications;

DROP VIEW IF EXISTS v_price_history;

DROP VIEW IF EXISTS v_dealer_sync_health;

DROP VIEW IF EXISTS v_data_quality;

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

COMMENT ON COLUMN v_data_quality.dealer_id IS 'the vehicle''s dealer';

COMMENT ON COLUMN v_data_quality.dealer_name IS 'the dealer''s trading name as the vendor gives it';

COMMENT ON COLUMN v_data_quality.vehicle_id IS 'the vehicle (vehicles.vehicle_id)';

COMMENT ON COLUMN v_data_quality.source IS 'the vendor the vehicle comes from: autotrader or webmotors';

COMMENT ON COLUMN v_data_quality.source_vehicle_id IS 'the vehicle''s id at its vendor (Autotrader stockId, Webmotors ad id)';

COMMENT ON COLUMN v_data_quality.external_stock_reference IS 'the dealer''s stock reference, to find the vehicle in the dealer''s system';

COMMENT ON COLUMN v_data_quality.check_name IS 'the rule or check that failed (price_range, model_year_range, other_vocabulary_share, ...)';

COMMENT ON COLUMN v_data_quality.severity IS 'blocking or warning (blocking keeps the vehicle off the classifieds)';

COMMENT ON COLUMN v_data_quality.reason IS 'why, quoting the offending value';

COMMENT ON COLUMN v_data_quality.detected_at IS 'when the check found it';

COMMENT ON COLUMN v_data_quality.availability IS 'available, reserved, sold, removed';

COMMENT ON COLUMN v_data_quality.make IS 'manufacturer, as the vendor names it';

COMMENT ON COLUMN v_data_quality.model IS 'model, as the vendor names it';

COMMENT ON COLUMN v_data_quality.registration IS 'registration plate, when given';

COMMENT ON COLUMN v_data_quality.vin IS 'vehicle identification number, when given';

COMMENT ON COLUMN v_data_quality.price_amount IS 'total price the buyer pays, in price_currency';

COMMENT ON COLUMN v_data_quality.price_currency IS 'ISO 4217 currency of every amount of the row (GBP, BRL)';

COMMENT ON COLUMN v_data_quality.vehicle_updated_at IS 'when the pipeline last changed this row';

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

COMMENT ON COLUMN v_dealer_sync_health.dealer_id IS '<source>:<source dealer id>, e.g. autotrader:10012345 or webmotors:03347828000109';

COMMENT ON COLUMN v_dealer_sync_health.dealer_name IS 'the dealer''s trading name as the vendor gives it';

COMMENT ON COLUMN v_dealer_sync_health.source IS 'the vendor the dealer''s stock comes from: autotrader or webmotors';

COMMENT ON COLUMN v_dealer_sync_health.dealer_status IS 'active, left_integration, ... (left_integration: no longer on our integration)';

COMMENT ON COLUMN v_dealer_sync_health.last_baseline_started_at IS 'when the dealer''s last baseline download started (complete or not)';

COMMENT ON COLUMN v_dealer_sync_health.last_baseline_finished_at IS 'when it ended; null while running or after a crash';

COMMENT ON COLUMN v_dealer_sync_health.last_baseline_complete IS 'whether that last download was complete';

COMMENT ON COLUMN v_dealer_sync_health.last_baseline_records IS 'records in that last download';

COMMENT ON COLUMN v_dealer_sync_health.last_baseline_error IS 'why that last download did not complete';

COMMENT ON COLUMN v_dealer_sync_health.last_complete_baseline_at IS 'when the last complete baseline finished (older than DEALER_PIPELINE_FRESHNESS_HOURS: stale)';

COMMENT ON COLUMN v_dealer_sync_health.last_complete_records IS 'records in the last complete baseline';

COMMENT ON COLUMN v_dealer_sync_health.previous_complete_records IS 'records in the complete baseline before it (a drop of more than a fifth is warned)';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_available IS 'the dealer''s vehicles now available';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_reserved IS 'the dealer''s vehicles now reserved';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_sold IS 'the dealer''s vehicles sold';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_removed IS 'the dealer''s vehicles removed';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_total IS 'all the dealer''s vehicles in the store';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_blocked IS 'vehicles held back by at least one blocking finding';

COMMENT ON COLUMN v_dealer_sync_health.blocking_findings IS 'blocking data-quality findings';

COMMENT ON COLUMN v_dealer_sync_health.warning_findings IS 'warning data-quality findings';

COMMENT ON COLUMN v_dealer_sync_health.open_blocks IS 'API blocks still open for this dealer';

COMMENT ON COLUMN v_dealer_sync_health.open_vendor_blocks IS 'API blocks still open for the dealer''s whole vendor';

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

COMMENT ON COLUMN v_price_history.vehicle_id IS '<source>:<source vehicle id>, e.g. autotrader:<stockId>';

COMMENT ON COLUMN v_price_history.dealer_id IS 'the dealer selling it (dealers.dealer_id)';

COMMENT ON COLUMN v_price_history.source IS 'the vendor the vehicle comes from: autotrader or webmotors';

COMMENT ON COLUMN v_price_history.make IS 'manufacturer, as the vendor names it';

COMMENT ON COLUMN v_price_history.model IS 'model, as the vendor names it';

COMMENT ON COLUMN v_price_history.field IS 'which price changed: price_amount, supplied_price_amount or admin_fee_amount';

COMMENT ON COLUMN v_price_history.currency IS 'ISO 4217 currency of every amount of the row (GBP, BRL)';

COMMENT ON COLUMN v_price_history.old_amount IS 'the amount before the change (null for a first price)';

COMMENT ON COLUMN v_price_history.new_amount IS 'the amount after the change';

COMMENT ON COLUMN v_price_history.change_amount IS 'new_amount minus old_amount (negative: a cut)';

COMMENT ON COLUMN v_price_history.changed_at IS 'when the change was applied';

COMMENT ON COLUMN v_price_history.cause IS 'baseline, notification, ...';

COMMENT ON COLUMN v_price_history.source_version IS 'Autotrader versionNumber of the record that brought the change';

CREATE VIEW v_publications AS
SELECT
    p.target,
    p.dealer_id,
    d.name AS dealer_name,
    p.vehicle_id,
    v.make,
    v.model,
    v.registration,
    v.price_amount,
    v.price_currency,
    v.availability,
    p.account_id,
    p.external_id,
    p.state,
    CASE WHEN p.state = 'active' THEN 1 ELSE 0 END AS live,
    CASE WHEN p.last_op = 'hold' THEN 1 ELSE 0 END AS held_back,
    p.last_error AS reason,
    p.last_op,
    p.last_status,
    p.published_at,
    p.updated_at
FROM publications p
LEFT JOIN vehicles v ON v.vehicle_id = p.vehicle_id
LEFT JOIN dealers d ON d.dealer_id = p.dealer_id
WHERE p.target IN ('autocosmos', 'autochat');

COMMENT ON VIEW v_publications IS 'One row per (vehicle, classified target) the publishing loop has decided about: whether it is live there (state active), suspended, archived or deleted, or held back before it ever went live and why, with the vehicle''s dealer, make, model and price.';

COMMENT ON COLUMN v_publications.target IS 'the classified: autocosmos or autochat';

COMMENT ON COLUMN v_publications.dealer_id IS 'the vehicle''s dealer';

COMMENT ON COLUMN v_publications.dealer_name IS 'the dealer''s trading name as the vendor gives it';

COMMENT ON COLUMN v_publications.vehicle_id IS 'the vehicle (vehicles.vehicle_id)';

COMMENT ON COLUMN v_publications.make IS 'manufacturer, as the vendor names it';

COMMENT ON COLUMN v_publications.model IS 'model, as the vendor names it';

COMMENT ON COLUMN v_publications.registration IS 'registration plate, when given';

COMMENT ON COLUMN v_publications.price_amount IS 'total price the buyer pays, in price_currency';

COMMENT ON COLUMN v_publications.price_currency IS 'ISO 4217 currency of every amount of the row (GBP, BRL)';

COMMENT ON COLUMN v_publications.availability IS 'available, reserved, sold, removed';

COMMENT ON COLUMN v_publications.account_id IS 'Autocosmos adminmail or Autochat dealershipId';

COMMENT ON COLUMN v_publications.external_id IS 'the vehicle''s id on the target (stable; never changed)';

COMMENT ON COLUMN v_publications.state IS 'active, suspended, archived, deleted, error';

COMMENT ON COLUMN v_publications.live IS '1 when it is live on the target now (state active), else 0';

COMMENT ON COLUMN v_publications.held_back IS '1 when the last decision was to hold it back (never sent: not publishable), else 0';

COMMENT ON COLUMN v_publications.reason IS 'why it was held back, or why the target refused or suspended it; null when the last operation succeeded';

COMMENT ON COLUMN v_publications.last_op IS 'the last operation: create, replace, price, suspend, reactivate, remove, hold, nothing';

COMMENT ON COLUMN v_publications.last_status IS 'HTTP status of the last call; null when none was made';

COMMENT ON COLUMN v_publications.published_at IS 'when it first went live on the target';

COMMENT ON COLUMN v_publications.updated_at IS 'when the pipeline last changed this row';

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

COMMENT ON COLUMN v_stock_current.dealer_id IS 'the dealer selling it (dealers.dealer_id)';

COMMENT ON COLUMN v_stock_current.dealer_name IS 'the dealer''s trading name as the vendor gives it';

COMMENT ON COLUMN v_stock_current.source IS 'the vendor the vehicle comes from: autotrader or webmotors';

COMMENT ON COLUMN v_stock_current.vehicle_id IS '<source>:<source vehicle id>, e.g. autotrader:<stockId>';

COMMENT ON COLUMN v_stock_current.source_vehicle_id IS 'the vehicle''s id at its vendor (Autotrader stockId, Webmotors ad id)';

COMMENT ON COLUMN v_stock_current.external_stock_reference IS 'the dealer''s stock reference, to find the vehicle in the dealer''s system';

COMMENT ON COLUMN v_stock_current.vin IS 'vehicle identification number, when given';

COMMENT ON COLUMN v_stock_current.registration IS 'registration plate, when given';

COMMENT ON COLUMN v_stock_current.make IS 'manufacturer, as the vendor names it';

COMMENT ON COLUMN v_stock_current.model IS 'model, as the vendor names it';

COMMENT ON COLUMN v_stock_current.trim IS 'trim level';

COMMENT ON COLUMN v_stock_current.derivative IS 'the full variant name (Autotrader derivative)';

COMMENT ON COLUMN v_stock_current.body_type IS 'body style (Hatchback, SUV, ...)';

COMMENT ON COLUMN v_stock_current.fuel_type IS 'canonical: petrol, diesel, electric, hybrid, plugin_hybrid, ..., other';

COMMENT ON COLUMN v_stock_current.transmission IS 'canonical: manual, automatic, other';

COMMENT ON COLUMN v_stock_current.doors IS 'number of doors';

COMMENT ON COLUMN v_stock_current.seats IS 'number of seats';

COMMENT ON COLUMN v_stock_current.engine_cc IS 'engine capacity in cubic centimetres';

COMMENT ON COLUMN v_stock_current.power_kw IS 'engine power in kilowatts';

COMMENT ON COLUMN v_stock_current.co2_g_km IS 'CO2 emissions in grams per kilometre';

COMMENT ON COLUMN v_stock_current.colour IS 'exterior colour';

COMMENT ON COLUMN v_stock_current.model_year IS 'model year';

COMMENT ON COLUMN v_stock_current.first_registration_date IS 'date of first registration';

COMMENT ON COLUMN v_stock_current.mileage_km IS 'odometer reading in kilometres (miles converted)';

COMMENT ON COLUMN v_stock_current.price_amount IS 'total price the buyer pays, in price_currency';

COMMENT ON COLUMN v_stock_current.price_currency IS 'ISO 4217 currency of every amount of the row (GBP, BRL)';

COMMENT ON COLUMN v_stock_current.vat_status IS 'Autotrader VAT status of the price, as the vendor gives it';

COMMENT ON COLUMN v_stock_current.price_indicator_rating IS 'Autotrader price indicator rating of the advert, as the vendor gives it';

COMMENT ON COLUMN v_stock_current.availability IS 'available or reserved (sold and removed vehicles are not in this view)';

COMMENT ON COLUMN v_stock_current.lifecycle_state IS 'the vendor''s state';

COMMENT ON COLUMN v_stock_current.shown_on_dealer_site IS 'the dealer shows it on its own site; false keeps it off the classifieds (null counts as shown)';

COMMENT ON COLUMN v_stock_current.images IS 'list of image URLs';

COMMENT ON COLUMN v_stock_current.first_seen_at IS 'when the pipeline first saw the vehicle';

COMMENT ON COLUMN v_stock_current.source_updated_at IS 'vendor time of the last applied change';

COMMENT ON COLUMN v_stock_current.updated_at IS 'when the pipeline last changed this row';

COMMENT ON COLUMN v_stock_current.blocking_findings IS 'blocking data-quality findings holding it back from publishing (0: publishable)';

COMMENT ON COLUMN dealers.dealer_id IS '<source>:<source dealer id>, e.g. autotrader:10012345 or webmotors:03347828000109';

COMMENT ON COLUMN dealers.source IS 'the vendor the dealer''s stock comes from: autotrader or webmotors';

COMMENT ON COLUMN dealers.source_dealer_id IS 'the dealer''s id at its vendor (Autotrader advertiserId, Webmotors CNPJ digits)';

COMMENT ON COLUMN dealers.name IS 'the dealer''s trading name as the vendor gives it';

COMMENT ON COLUMN dealers.status IS 'active, left_integration, ... (left_integration: no longer on our integration)';

COMMENT ON COLUMN dealers.segment IS 'the vendor''s dealer segment (Autotrader), when given';

COMMENT ON COLUMN dealers.postcode IS 'the dealer''s postcode, when the vendor gives it';

COMMENT ON COLUMN dealers.source_updated_at IS 'vendor time of the last applied record';

COMMENT ON COLUMN dealers.first_seen_at IS 'when the pipeline first saw the dealer';

COMMENT ON COLUMN dealers.left_at IS 'when the dealer left the integration; null while on it';

COMMENT ON COLUMN dealers.updated_at IS 'when the pipeline last changed this row';

COMMENT ON COLUMN dealers.raw IS 'the vendor record as received';

COMMENT ON COLUMN vehicles.vehicle_id IS '<source>:<source vehicle id>, e.g. autotrader:<stockId>';

COMMENT ON COLUMN vehicles.source IS 'the vendor the vehicle comes from: autotrader or webmotors';

COMMENT ON COLUMN vehicles.source_vehicle_id IS 'the vehicle''s id at its vendor (Autotrader stockId, Webmotors ad id)';

COMMENT ON COLUMN vehicles.dealer_id IS 'the dealer selling it (dealers.dealer_id)';

COMMENT ON COLUMN vehicles.search_id IS 'Autotrader searchId, the id of the public advert';

COMMENT ON COLUMN vehicles.external_stock_id IS 'Autotrader externalStockId: the dealer''s own system id';

COMMENT ON COLUMN vehicles.external_stock_reference IS 'the dealer''s stock reference, to find the vehicle in the dealer''s system';

COMMENT ON COLUMN vehicles.vin IS 'vehicle identification number, when given';

COMMENT ON COLUMN vehicles.registration IS 'registration plate, when given';

COMMENT ON COLUMN vehicles.make IS 'manufacturer, as the vendor names it';

COMMENT ON COLUMN vehicles.model IS 'model, as the vendor names it';

COMMENT ON COLUMN vehicles.trim IS 'trim level';

COMMENT ON COLUMN vehicles.derivative IS 'the full variant name (Autotrader derivative)';

COMMENT ON COLUMN vehicles.derivative_id IS 'Autotrader derivativeId (features and charge times are fetched again when it changes)';

COMMENT ON COLUMN vehicles.vehicle_type IS 'Autotrader vehicleType (Car, Van, ...)';

COMMENT ON COLUMN vehicles.condition IS 'new or used';

COMMENT ON COLUMN vehicles.body_type IS 'body style (Hatchback, SUV, ...)';

COMMENT ON COLUMN vehicles.fuel_type IS 'canonical: petrol, diesel, electric, hybrid, plugin_hybrid, ..., other';

COMMENT ON COLUMN vehicles.source_fuel_type IS 'the vendor''s fuel value, kept when mapped to other';

COMMENT ON COLUMN vehicles.transmission IS 'canonical: manual, automatic, other';

COMMENT ON COLUMN vehicles.source_transmission IS 'the vendor''s transmission value, kept when mapped to other';

COMMENT ON COLUMN vehicles.doors IS 'number of doors';

COMMENT ON COLUMN vehicles.seats IS 'number of seats';

COMMENT ON COLUMN vehicles.engine_cc IS 'engine capacity in cubic centimetres';

COMMENT ON COLUMN vehicles.power_kw IS 'engine power in kilowatts';

COMMENT ON COLUMN vehicles.co2_g_km IS 'CO2 emissions in grams per kilometre';

COMMENT ON COLUMN vehicles.colour IS 'exterior colour';

COMMENT ON COLUMN vehicles.model_year IS 'model year';

COMMENT ON COLUMN vehicles.manufacture_year IS 'year of manufacture, when it differs from the model year';

COMMENT ON COLUMN vehicles.first_registration_date IS 'date of first registration';

COMMENT ON COLUMN vehicles.mileage_km IS 'odometer reading in kilometres (miles converted)';

COMMENT ON COLUMN vehicles.price_amount IS 'total price the buyer pays, in price_currency';

COMMENT ON COLUMN vehicles.price_currency IS 'ISO 4217 currency of every amount of the row (GBP, BRL)';

COMMENT ON COLUMN vehicles.supplied_price_amount IS 'the price the dealer supplied before fees (Autotrader suppliedPrice)';

COMMENT ON COLUMN vehicles.admin_fee_amount IS 'the dealer''s admin fee included in price_amount (Autotrader)';

COMMENT ON COLUMN vehicles.vat_status IS 'Autotrader VAT status of the price, as the vendor gives it';

COMMENT ON COLUMN vehicles.price_indicator_rating IS 'Autotrader price indicator rating of the advert, as the vendor gives it';

COMMENT ON COLUMN vehicles.lifecycle_state IS 'the vendor''s state';

COMMENT ON COLUMN vehicles.reservation_status IS 'the vendor''s reservation value, as given (Autotrader)';

COMMENT ON COLUMN vehicles.availability IS 'available, reserved, sold, removed';

COMMENT ON COLUMN vehicles.shown_on_dealer_site IS 'the dealer shows it on its own site; false keeps it off the classifieds (null counts as shown)';

COMMENT ON COLUMN vehicles.attention_grabber IS 'the advert''s short headline';

COMMENT ON COLUMN vehicles.description IS 'the advert text';

COMMENT ON COLUMN vehicles.description2 IS 'the advert''s second text (Autotrader)';

COMMENT ON COLUMN vehicles.images IS 'list of image URLs';

COMMENT ON COLUMN vehicles.video_url IS 'URL of the advert''s video';

COMMENT ON COLUMN vehicles.spin_url IS 'URL of the 360-degree spin';

COMMENT ON COLUMN vehicles.features IS 'the vehicle''s features (JSON list)';

COMMENT ON COLUMN vehicles.highlights IS 'the advert''s highlights (JSON list)';

COMMENT ON COLUMN vehicles.source_version IS 'Autotrader versionNumber; older never overwrites newer';

COMMENT ON COLUMN vehicles.source_updated_at IS 'vendor time of the last applied change';

COMMENT ON COLUMN vehicles.last_seen_in_baseline_at IS 'when the last complete baseline listed it';

COMMENT ON COLUMN vehicles.first_seen_at IS 'when the pipeline first saw the vehicle';

COMMENT ON COLUMN vehicles.updated_at IS 'when the pipeline last changed this row';

COMMENT ON COLUMN vehicles.raw IS 'the vendor record as received';

COMMENT ON COLUMN vehicle_changes.id IS 'row id, in the order changes were recorded';

COMMENT ON COLUMN vehicle_changes.vehicle_id IS 'the vehicle (vehicles.vehicle_id)';

COMMENT ON COLUMN vehicle_changes.field IS 'the vehicles column that changed';

COMMENT ON COLUMN vehicle_changes.old_value IS 'JSON text of the previous value';

COMMENT ON COLUMN vehicle_changes.new_value IS 'JSON text of the new value';

COMMENT ON COLUMN vehicle_changes.changed_at IS 'when the change was applied';

COMMENT ON COLUMN vehicle_changes.cause IS 'baseline, notification, ...';

COMMENT ON COLUMN vehicle_changes.source_version IS 'Autotrader versionNumber of the record that brought the change';

COMMENT ON COLUMN quality_findings.vehicle_id IS 'the vehicle (vehicles.vehicle_id)';

COMMENT ON COLUMN quality_findings.check_name IS 'the rule or check that failed (price_range, model_year_range, other_vocabulary_share, ...)';

COMMENT ON COLUMN quality_findings.dealer_id IS 'the vehicle''s dealer';

COMMENT ON COLUMN quality_findings.severity IS 'blocking or warning (blocking keeps the vehicle off the classifieds)';

COMMENT ON COLUMN quality_findings.reason IS 'why, quoting the offending value';

COMMENT ON COLUMN quality_findings.detected_at IS 'when the check found it';

COMMENT ON COLUMN publications.target IS 'autocosmos, autochat (webmotors_status: the status reported back to Webmotors)';

COMMENT ON COLUMN publications.vehicle_id IS 'the vehicle (vehicles.vehicle_id)';

COMMENT ON COLUMN publications.dealer_id IS 'the vehicle''s dealer';

COMMENT ON COLUMN publications.account_id IS 'Autocosmos adminmail or Autochat dealershipId';

COMMENT ON COLUMN publications.external_id IS 'stable; never changed';

COMMENT ON COLUMN publications.state IS 'active, suspended, archived, deleted, error';

COMMENT ON COLUMN publications.payload_hash IS 'hash of the last payload the target accepted (decides whether to send again)';

COMMENT ON COLUMN publications.payload IS 'the last payload sent';

COMMENT ON COLUMN publications.last_op IS 'the last operation: create, replace, price, suspend, reactivate, remove, hold, nothing';

COMMENT ON COLUMN publications.last_status IS 'HTTP status of the last call; null when none was made';

COMMENT ON COLUMN publications.last_error IS 'why the last operation failed or was held back; null when it succeeded';

COMMENT ON COLUMN publications.flags IS 'dropped photos, unknown options, ...';

COMMENT ON COLUMN publications.published_at IS 'when it first went live on the target';

COMMENT ON COLUMN publications.updated_at IS 'when the pipeline last changed this row';

COMMENT ON COLUMN sync_runs.id IS 'row id, in start order';

COMMENT ON COLUMN sync_runs.source IS 'autotrader or webmotors';

COMMENT ON COLUMN sync_runs.dealer_id IS 'the dealer downloaded';

COMMENT ON COLUMN sync_runs.kind IS 'baseline, advertisers, ...';

COMMENT ON COLUMN sync_runs.run_id IS 'the Dagster run that did it';

COMMENT ON COLUMN sync_runs.started_at IS 'when the download started';

COMMENT ON COLUMN sync_runs.finished_at IS 'when it ended; null while running or after a crash';

COMMENT ON COLUMN sync_runs.complete IS 'every page arrived (only a complete baseline may mark vehicles removed)';

COMMENT ON COLUMN sync_runs.pages IS 'pages downloaded';

COMMENT ON COLUMN sync_runs.records IS 'records downloaded';

COMMENT ON COLUMN sync_runs.created IS 'vehicles created by it';

COMMENT ON COLUMN sync_runs.updated IS 'vehicles changed by it';

COMMENT ON COLUMN sync_runs.removed IS 'vehicles marked removed by it';

COMMENT ON COLUMN sync_runs.error IS 'why it did not complete';

COMMENT ON COLUMN api_blocks.id IS 'row id';

COMMENT ON COLUMN api_blocks.vendor IS 'autotrader, webmotors, autocosmos, autochat';

COMMENT ON COLUMN api_blocks.service IS 'null: every service for that dealer';

COMMENT ON COLUMN api_blocks.dealer_id IS 'null: the whole vendor';

COMMENT ON COLUMN api_blocks.reason IS '403A, 403B, 400, ...';

COMMENT ON COLUMN api_blocks.message IS 'the vendor''s message';

COMMENT ON COLUMN api_blocks.action IS 'what a person should do';

COMMENT ON COLUMN api_blocks.method IS 'HTTP method of the refused call';

COMMENT ON COLUMN api_blocks.path IS 'path of the refused call, secrets removed';

COMMENT ON COLUMN api_blocks.cf_ray IS 'the vendor''s request id (Cloudflare CF-Ray), to quote to the vendor';

COMMENT ON COLUMN api_blocks.created_at IS 'when the block started';

COMMENT ON COLUMN api_blocks.resolved_at IS 'when a person resolved it; null while open';

COMMENT ON COLUMN api_blocks.resolved_note IS 'what the person did';

COMMENT ON COLUMN v_stock_current.dealer_id IS 'the dealer selling it (dealers.dealer_id)';

COMMENT ON COLUMN v_stock_current.dealer_name IS 'the dealer''s trading name as the vendor gives it';

COMMENT ON COLUMN v_stock_current.source IS 'the vendor the vehicle comes from: autotrader or webmotors';

COMMENT ON COLUMN v_stock_current.vehicle_id IS '<source>:<source vehicle id>, e.g. autotrader:<stockId>';

COMMENT ON COLUMN v_stock_current.source_vehicle_id IS 'the vehicle''s id at its vendor (Autotrader stockId, Webmotors ad id)';

COMMENT ON COLUMN v_stock_current.external_stock_reference IS 'the dealer''s stock reference, to find the vehicle in the dealer''s system';

COMMENT ON COLUMN v_stock_current.vin IS 'vehicle identification number, when given';

COMMENT ON COLUMN v_stock_current.registration IS 'registration plate, when given';

COMMENT ON COLUMN v_stock_current.make IS 'manufacturer, as the vendor names it';

COMMENT ON COLUMN v_stock_current.model IS 'model, as the vendor names it';

COMMENT ON COLUMN v_stock_current.trim IS 'trim level';

COMMENT ON COLUMN v_stock_current.derivative IS 'the full variant name (Autotrader derivative)';

COMMENT ON COLUMN v_stock_current.body_type IS 'body style (Hatchback, SUV, ...)';

COMMENT ON COLUMN v_stock_current.fuel_type IS 'canonical: petrol, diesel, electric, hybrid, plugin_hybrid, ..., other';

COMMENT ON COLUMN v_stock_current.transmission IS 'canonical: manual, automatic, other';

COMMENT ON COLUMN v_stock_current.doors IS 'number of doors';

COMMENT ON COLUMN v_stock_current.seats IS 'number of seats';

COMMENT ON COLUMN v_stock_current.engine_cc IS 'engine capacity in cubic centimetres';

COMMENT ON COLUMN v_stock_current.power_kw IS 'engine power in kilowatts';

COMMENT ON COLUMN v_stock_current.co2_g_km IS 'CO2 emissions in grams per kilometre';

COMMENT ON COLUMN v_stock_current.colour IS 'exterior colour';

COMMENT ON COLUMN v_stock_current.model_year IS 'model year';

COMMENT ON COLUMN v_stock_current.first_registration_date IS 'date of first registration';

COMMENT ON COLUMN v_stock_current.mileage_km IS 'odometer reading in kilometres (miles converted)';

COMMENT ON COLUMN v_stock_current.price_amount IS 'total price the buyer pays, in price_currency';

COMMENT ON COLUMN v_stock_current.price_currency IS 'ISO 4217 currency of every amount of the row (GBP, BRL)';

COMMENT ON COLUMN v_stock_current.vat_status IS 'Autotrader VAT status of the price, as the vendor gives it';

COMMENT ON COLUMN v_stock_current.price_indicator_rating IS 'Autotrader price indicator rating of the advert, as the vendor gives it';

COMMENT ON COLUMN v_stock_current.availability IS 'available or reserved (sold and removed vehicles are not in this view)';

COMMENT ON COLUMN v_stock_current.lifecycle_state IS 'the vendor''s state';

COMMENT ON COLUMN v_stock_current.shown_on_dealer_site IS 'the dealer shows it on its own site; false keeps it off the classifieds (null counts as shown)';

COMMENT ON COLUMN v_stock_current.images IS 'list of image URLs';

COMMENT ON COLUMN v_stock_current.first_seen_at IS 'when the pipeline first saw the vehicle';

COMMENT ON COLUMN v_stock_current.source_updated_at IS 'vendor time of the last applied change';

COMMENT ON COLUMN v_stock_current.updated_at IS 'when the pipeline last changed this row';

COMMENT ON COLUMN v_stock_current.blocking_findings IS 'blocking data-quality findings holding it back from publishing (0: publishable)';

COMMENT ON COLUMN v_price_history.vehicle_id IS '<source>:<source vehicle id>, e.g. autotrader:<stockId>';

COMMENT ON COLUMN v_price_history.dealer_id IS 'the dealer selling it (dealers.dealer_id)';

COMMENT ON COLUMN v_price_history.source IS 'the vendor the vehicle comes from: autotrader or webmotors';

COMMENT ON COLUMN v_price_history.make IS 'manufacturer, as the vendor names it';

COMMENT ON COLUMN v_price_history.model IS 'model, as the vendor names it';

COMMENT ON COLUMN v_price_history.field IS 'which price changed: price_amount, supplied_price_amount or admin_fee_amount';

COMMENT ON COLUMN v_price_history.currency IS 'ISO 4217 currency of every amount of the row (GBP, BRL)';

COMMENT ON COLUMN v_price_history.old_amount IS 'the amount before the change (null for a first price)';

COMMENT ON COLUMN v_price_history.new_amount IS 'the amount after the change';

COMMENT ON COLUMN v_price_history.change_amount IS 'new_amount minus old_amount (negative: a cut)';

COMMENT ON COLUMN v_price_history.changed_at IS 'when the change was applied';

COMMENT ON COLUMN v_price_history.cause IS 'baseline, notification, ...';

COMMENT ON COLUMN v_price_history.source_version IS 'Autotrader versionNumber of the record that brought the change';

COMMENT ON COLUMN v_dealer_sync_health.dealer_id IS '<source>:<source dealer id>, e.g. autotrader:10012345 or webmotors:03347828000109';

COMMENT ON COLUMN v_dealer_sync_health.dealer_name IS 'the dealer''s trading name as the vendor gives it';

COMMENT ON COLUMN v_dealer_sync_health.source IS 'the vendor the dealer''s stock comes from: autotrader or webmotors';

COMMENT ON COLUMN v_dealer_sync_health.dealer_status IS 'active, left_integration, ... (left_integration: no longer on our integration)';

COMMENT ON COLUMN v_dealer_sync_health.last_baseline_started_at IS 'when the dealer''s last baseline download started (complete or not)';

COMMENT ON COLUMN v_dealer_sync_health.last_baseline_finished_at IS 'when it ended; null while running or after a crash';

COMMENT ON COLUMN v_dealer_sync_health.last_baseline_complete IS 'whether that last download was complete';

COMMENT ON COLUMN v_dealer_sync_health.last_baseline_records IS 'records in that last download';

COMMENT ON COLUMN v_dealer_sync_health.last_baseline_error IS 'why that last download did not complete';

COMMENT ON COLUMN v_dealer_sync_health.last_complete_baseline_at IS 'when the last complete baseline finished (older than DEALER_PIPELINE_FRESHNESS_HOURS: stale)';

COMMENT ON COLUMN v_dealer_sync_health.last_complete_records IS 'records in the last complete baseline';

COMMENT ON COLUMN v_dealer_sync_health.previous_complete_records IS 'records in the complete baseline before it (a drop of more than a fifth is warned)';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_available IS 'the dealer''s vehicles now available';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_reserved IS 'the dealer''s vehicles now reserved';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_sold IS 'the dealer''s vehicles sold';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_removed IS 'the dealer''s vehicles removed';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_total IS 'all the dealer''s vehicles in the store';

COMMENT ON COLUMN v_dealer_sync_health.vehicles_blocked IS 'vehicles held back by at least one blocking finding';

COMMENT ON COLUMN v_dealer_sync_health.blocking_findings IS 'blocking data-quality findings';

COMMENT ON COLUMN v_dealer_sync_health.warning_findings IS 'warning data-quality findings';

COMMENT ON COLUMN v_dealer_sync_health.open_blocks IS 'API blocks still open for this dealer';

COMMENT ON COLUMN v_dealer_sync_health.open_vendor_blocks IS 'API blocks still open for the dealer''s whole vendor';

COMMENT ON COLUMN v_data_quality.dealer_id IS 'the vehicle''s dealer';

COMMENT ON COLUMN v_data_quality.dealer_name IS 'the dealer''s trading name as the vendor gives it';

COMMENT ON COLUMN v_data_quality.vehicle_id IS 'the vehicle (vehicles.vehicle_id)';

COMMENT ON COLUMN v_data_quality.source IS 'the vendor the vehicle comes from: autotrader or webmotors';

COMMENT ON COLUMN v_data_quality.source_vehicle_id IS 'the vehicle''s id at its vendor (Autotrader stockId, Webmotors ad id)';

COMMENT ON COLUMN v_data_quality.external_stock_reference IS 'the dealer''s stock reference, to find the vehicle in the dealer''s system';

COMMENT ON COLUMN v_data_quality.check_name IS 'the rule or check that failed (price_range, model_year_range, other_vocabulary_share, ...)';

COMMENT ON COLUMN v_data_quality.severity IS 'blocking or warning (blocking keeps the vehicle off the classifieds)';

COMMENT ON COLUMN v_data_quality.reason IS 'why, quoting the offending value';

COMMENT ON COLUMN v_data_quality.detected_at IS 'when the check found it';

COMMENT ON COLUMN v_data_quality.availability IS 'available, reserved, sold, removed';

COMMENT ON COLUMN v_data_quality.make IS 'manufacturer, as the vendor names it';

COMMENT ON COLUMN v_data_quality.model IS 'model, as the vendor names it';

COMMENT ON COLUMN v_data_quality.registration IS 'registration plate, when given';

COMMENT ON COLUMN v_data_quality.vin IS 'vehicle identification number, when given';

COMMENT ON COLUMN v_data_quality.price_amount IS 'total price the buyer pays, in price_currency';

COMMENT ON COLUMN v_data_quality.price_currency IS 'ISO 4217 currency of every amount of the row (GBP, BRL)';

COMMENT ON COLUMN v_data_quality.vehicle_updated_at IS 'when the pipeline last changed this row';

COMMENT ON COLUMN v_publications.target IS 'the classified: autocosmos or autochat';

COMMENT ON COLUMN v_publications.dealer_id IS 'the vehicle''s dealer';

COMMENT ON COLUMN v_publications.dealer_name IS 'the dealer''s trading name as the vendor gives it';

COMMENT ON COLUMN v_publications.vehicle_id IS 'the vehicle (vehicles.vehicle_id)';

COMMENT ON COLUMN v_publications.make IS 'manufacturer, as the vendor names it';

COMMENT ON COLUMN v_publications.model IS 'model, as the vendor names it';

COMMENT ON COLUMN v_publications.registration IS 'registration plate, when given';

COMMENT ON COLUMN v_publications.price_amount IS 'total price the buyer pays, in price_currency';

COMMENT ON COLUMN v_publications.price_currency IS 'ISO 4217 currency of every amount of the row (GBP, BRL)';

COMMENT ON COLUMN v_publications.availability IS 'available, reserved, sold, removed';

COMMENT ON COLUMN v_publications.account_id IS 'Autocosmos adminmail or Autochat dealershipId';

COMMENT ON COLUMN v_publications.external_id IS 'the vehicle''s id on the target (stable; never changed)';

COMMENT ON COLUMN v_publications.state IS 'active, suspended, archived, deleted, error';

COMMENT ON COLUMN v_publications.live IS '1 when it is live on the target now (state active), else 0';

COMMENT ON COLUMN v_publications.held_back IS '1 when the last decision was to hold it back (never sent: not publishable), else 0';

COMMENT ON COLUMN v_publications.reason IS 'why it was held back, or why the target refused or suspended it; null when the last operation succeeded';

COMMENT ON COLUMN v_publications.last_op IS 'the last operation: create, replace, price, suspend, reactivate, remove, hold, nothing';

COMMENT ON COLUMN v_publications.last_status IS 'HTTP status of the last call; null when none was made';

COMMENT ON COLUMN v_publications.published_at IS 'when it first went live on the target';

COMMENT ON COLUMN v_publications.updated_at IS 'when the pipeline last changed this row';

COMMENT ON COLUMN v_catalog_review.spec_key IS 'hash of the normalised request parameters (catalog_matches.spec_key)';

COMMENT ON COLUMN v_catalog_review.status IS 'matched, ranked, unresolved';

COMMENT ON COLUMN v_catalog_review.make IS 'the make asked of the Autocosmos catalogue';

COMMENT ON COLUMN v_catalog_review.model IS 'the model asked';

COMMENT ON COLUMN v_catalog_review.trim IS 'the trim asked';

COMMENT ON COLUMN v_catalog_review.year IS 'the model year asked';

COMMENT ON COLUMN v_catalog_review.fuel_type IS 'the fuel type asked, in the catalogue''s vocabulary';

COMMENT ON COLUMN v_catalog_review.transmission_type IS 'the transmission asked, in the catalogue''s vocabulary';

COMMENT ON COLUMN v_catalog_review.model_href IS 'the catalogue model the answer was looked up under';

COMMENT ON COLUMN v_catalog_review.confidence IS 'how sure the best match is, 0 to 1';

COMMENT ON COLUMN v_catalog_review.top_candidate_href IS 'the best candidate version the catalogue offered';

COMMENT ON COLUMN v_catalog_review.top_candidate_name IS 'its name';

COMMENT ON COLUMN v_catalog_review.vehicles IS 'vehicles waiting on this specification';

COMMENT ON COLUMN v_catalog_review.resolved_at IS 'when the catalogue was last asked';

COMMENT ON COLUMN v_catalog_review.recheck_requested_at IS 'an operator sent the spec back: ask the catalogue again';

COMMENT ON COLUMN v_catalog_review.review_note IS 'the operator''s note';

UPDATE alembic_version SET version_num='0005' WHERE alembic_version.version_num = '0004';

-- Running upgrade 0005 -> 0006

COMMENT ON COLUMN v_catalog_review.spec_key IS 'hash of the normalised request parameters (catalog_matches.spec_key)';

COMMENT ON COLUMN v_catalog_review.status IS 'matched, ranked, unresolved';

COMMENT ON COLUMN v_catalog_review.make IS 'the make asked of the Autocosmos catalogue';

COMMENT ON COLUMN v_catalog_review.model IS 'the model asked';

COMMENT ON COLUMN v_catalog_review.trim IS 'the trim asked';

COMMENT ON COLUMN v_catalog_review.year IS 'the model year asked';

COMMENT ON COLUMN v_catalog_review.fuel_type IS 'the fuel type asked, in the catalogue''s vocabulary';

COMMENT ON COLUMN v_catalog_review.transmission_type IS 'the transmission asked, in the catalogue''s vocabulary';

COMMENT ON COLUMN v_catalog_review.model_href IS 'the catalogue model the answer was looked up under';

COMMENT ON COLUMN v_catalog_review.confidence IS 'how sure the best match is, 0 to 1';

COMMENT ON COLUMN v_catalog_review.top_candidate_href IS 'the best candidate version the catalogue offered';

COMMENT ON COLUMN v_catalog_review.top_candidate_name IS 'its name';

COMMENT ON COLUMN v_catalog_review.vehicles IS 'vehicles waiting on this specification';

COMMENT ON COLUMN v_catalog_review.resolved_at IS 'when the catalogue was last asked';

COMMENT ON COLUMN v_catalog_review.recheck_requested_at IS 'an operator sent the spec back: ask the catalogue again';

COMMENT ON COLUMN v_catalog_review.review_note IS 'the operator''s note';

UPDATE alembic_version SET version_num='0006' WHERE alembic_version.version_num = '0005';

-- Running upgrade 0006 -> 0007

CREATE TABLE dealer_leases (
    dealer_id TEXT NOT NULL, 
    owner TEXT NOT NULL, 
    run_id TEXT, 
    work TEXT NOT NULL, 
    acquired_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    until TIMESTAMP WITH TIME ZONE NOT NULL, 
    CONSTRAINT pk_dealer_leases PRIMARY KEY (dealer_id)
);

COMMENT ON COLUMN dealer_leases.owner IS 'the process and thread syncing the dealer now';

COMMENT ON COLUMN dealer_leases.run_id IS 'the Dagster run it works for';

COMMENT ON COLUMN dealer_leases.work IS 'baseline, features, charge_times, ...';

COMMENT ON COLUMN dealer_leases.until IS 'taken over by another run after this (a crashed holder)';

UPDATE alembic_version SET version_num='0007' WHERE alembic_version.version_num = '0006';

-- Running upgrade 0007 -> 0008

CREATE TABLE vendor_state_changes (
    id BIGSERIAL NOT NULL, 
    target TEXT NOT NULL, 
    dealer_id TEXT NOT NULL, 
    vehicle_id TEXT NOT NULL, 
    account_id TEXT, 
    external_id TEXT NOT NULL, 
    change TEXT NOT NULL, 
    vendor_state TEXT, 
    state_before TEXT, 
    reason TEXT NOT NULL, 
    healing TEXT, 
    seen_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    CONSTRAINT pk_vendor_state_changes PRIMARY KEY (id)
);

CREATE INDEX ix_vendor_state_changes_dealer_id_seen_at ON vendor_state_changes (dealer_id, seen_at);

COMMENT ON COLUMN vendor_state_changes.id IS 'row id, in the order seen';

COMMENT ON COLUMN vendor_state_changes.target IS 'the classified: autocosmos';

COMMENT ON COLUMN vendor_state_changes.dealer_id IS 'the vehicle''s dealer';

COMMENT ON COLUMN vendor_state_changes.vehicle_id IS 'the vehicle (vehicles.vehicle_id)';

COMMENT ON COLUMN vendor_state_changes.account_id IS 'Autocosmos adminmail';

COMMENT ON COLUMN vendor_state_changes.external_id IS 'the publication''s id on the target';

COMMENT ON COLUMN vendor_state_changes.change IS 'suspended, archived, deleted (gone from the target''s list), restored (the target lifted its suspension) or drifted (the daily audit: its content differs from what the target accepted)';

COMMENT ON COLUMN vendor_state_changes.vendor_state IS 'the state the target reported (Activa, Suspendida, Archivada); null when the publication was gone';

COMMENT ON COLUMN vendor_state_changes.state_before IS 'publications.state before the change was recorded';

COMMENT ON COLUMN vendor_state_changes.reason IS 'why the target did it, as far as its answer shows (e.g. no photo kept after processing)';

COMMENT ON COLUMN vendor_state_changes.healing IS 'what the run did about it (a PUT with valid photos, a re-create), or why nothing could be done';

COMMENT ON COLUMN vendor_state_changes.seen_at IS 'when the read-back saw it';

CREATE VIEW v_vendor_state_changes AS
SELECT
    c.seen_at,
    c.target,
    c.dealer_id,
    d.name AS dealer_name,
    c.vehicle_id,
    v.make,
    v.model,
    v.registration,
    c.external_id,
    c.change,
    c.vendor_state,
    c.reason,
    c.healing,
    CASE WHEN substr(c.healing, 1, 4) = 'sent' THEN 1 ELSE 0 END AS healed,
    p.state AS state_now
FROM vendor_state_changes c
LEFT JOIN publications p ON p.target = c.target AND p.vehicle_id = c.vehicle_id
LEFT JOIN vehicles v ON v.vehicle_id = c.vehicle_id
LEFT JOIN dealers d ON d.dealer_id = c.dealer_id;

COMMENT ON VIEW v_vendor_state_changes IS 'One row per change a classified made on its own to one of our publications (suspended, archived, deleted, restored, drifted), as a publish run''s read-back found it: why, what the run did about it, and the publication''s state now, with the vehicle''s dealer, make and model.';

COMMENT ON COLUMN v_vendor_state_changes.seen_at IS 'when the read-back saw it';

COMMENT ON COLUMN v_vendor_state_changes.target IS 'the classified: autocosmos';

COMMENT ON COLUMN v_vendor_state_changes.dealer_id IS 'the vehicle''s dealer';

COMMENT ON COLUMN v_vendor_state_changes.dealer_name IS 'the dealer''s trading name as the vendor gives it';

COMMENT ON COLUMN v_vendor_state_changes.vehicle_id IS 'the vehicle (vehicles.vehicle_id)';

COMMENT ON COLUMN v_vendor_state_changes.make IS 'manufacturer, as the vendor names it';

COMMENT ON COLUMN v_vendor_state_changes.model IS 'model, as the vendor names it';

COMMENT ON COLUMN v_vendor_state_changes.registration IS 'registration plate, when given';

COMMENT ON COLUMN v_vendor_state_changes.external_id IS 'the publication''s id on the target';

COMMENT ON COLUMN v_vendor_state_changes.change IS 'suspended, archived, deleted (gone from the target''s list), restored (the target lifted its suspension) or drifted (the daily audit: its content differs from what the target accepted)';

COMMENT ON COLUMN v_vendor_state_changes.vendor_state IS 'the state the target reported (Activa, Suspendida, Archivada); null when the publication was gone';

COMMENT ON COLUMN v_vendor_state_changes.reason IS 'why the target did it, as far as its answer shows (e.g. no photo kept after processing)';

COMMENT ON COLUMN v_vendor_state_changes.healing IS 'what the run did about it (a PUT with valid photos, a re-create), or why nothing could be done';

COMMENT ON COLUMN v_vendor_state_changes.healed IS '1 when the run sent something to undo the change (healing starts with sent), else 0';

COMMENT ON COLUMN v_vendor_state_changes.state_now IS 'publications.state now (active, suspended, archived, deleted, error)';

UPDATE alembic_version SET version_num='0008' WHERE alembic_version.version_num = '0007';

-- Running upgrade 0008 -> 0009

CREATE TABLE publish_requests (
    id BIGSERIAL NOT NULL, 
    dealer_id TEXT NOT NULL, 
    vehicle_id TEXT, 
    reason TEXT NOT NULL, 
    event_id BIGINT, 
    created_at TIMESTAMP WITH TIME ZONE NOT NULL, 
    CONSTRAINT pk_publish_requests PRIMARY KEY (id)
);

COMMENT ON COLUMN publish_requests.vehicle_id IS 'the vehicle whose change asks for it; null for the whole dealer';

COMMENT ON COLUMN publish_requests.reason IS 'the fields that changed, or the block a vendor signal lifted';

COMMENT ON COLUMN publish_requests.event_id IS 'the webhook event whose application asked for it';

UPDATE alembic_version SET version_num='0009' WHERE alembic_version.version_num = '0008';

COMMIT;

