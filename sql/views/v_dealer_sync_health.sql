-- One row per dealer known to the store (from dealers, vehicles or baseline sync runs): its last
-- baseline download (complete or not), its last and previous complete baselines, its vehicles by
-- availability, its data-quality findings, and the API blocks still open for it or its whole vendor.
-- Columns (from dealer_pipeline/store/dictionary.yaml; `dealer-pipeline db render-sql` writes them):
--   dealer_id: <source>:<source dealer id>, e.g. autotrader:10012345 or webmotors:03347828000109
--   dealer_name: the dealer's trading name as the vendor gives it
--   source: the vendor the dealer's stock comes from: autotrader or webmotors
--   dealer_status: active, left_integration, ... (left_integration: no longer on our integration)
--   last_baseline_started_at: when the dealer's last baseline download started (complete or not)
--   last_baseline_finished_at: when it ended; null while running or after a crash
--   last_baseline_complete: whether that last download was complete
--   last_baseline_records: records in that last download
--   last_baseline_error: why that last download did not complete
--   last_complete_baseline_at: when the last complete baseline finished (older than DEALER_PIPELINE_FRESHNESS_HOURS: stale)
--   last_complete_records: records in the last complete baseline
--   previous_complete_records: records in the complete baseline before it (a drop of more than a fifth is warned)
--   vehicles_available: the dealer's vehicles now available
--   vehicles_reserved: the dealer's vehicles now reserved
--   vehicles_sold: the dealer's vehicles sold
--   vehicles_removed: the dealer's vehicles removed
--   vehicles_total: all the dealer's vehicles in the store
--   vehicles_blocked: vehicles held back by at least one blocking finding
--   blocking_findings: blocking data-quality findings
--   warning_findings: warning data-quality findings
--   open_blocks: API blocks still open for this dealer
--   open_vendor_blocks: API blocks still open for the dealer's whole vendor
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
