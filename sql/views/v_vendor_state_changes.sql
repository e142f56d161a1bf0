-- One row per change a classified made on its own to one of our publications (suspended, archived,
-- deleted, restored, drifted), as a publish run's read-back found it: why, what the run did about it, and the
-- publication's state now, with the vehicle's dealer, make and model.
-- Columns (from dealer_pipeline/store/dictionary.yaml; `dealer-pipeline db render-sql` writes them):
--   seen_at: when the read-back saw it
--   target: the classified: autocosmos
--   dealer_id: the vehicle's dealer
--   dealer_name: the dealer's trading name as the vendor gives it
--   vehicle_id: the vehicle (vehicles.vehicle_id)
--   make: manufacturer, as the vendor names it
--   model: model, as the vendor names it
--   registration: registration plate, when given
--   external_id: the publication's id on the target
--   change: suspended, archived, deleted (gone from the target's list), restored (the target lifted its suspension) or drifted (the daily audit: its content differs from what the target accepted)
--   vendor_state: the state the target reported (Activa, Suspendida, Archivada); null when the publication was gone
--   reason: why the target did it, as far as its answer shows (e.g. no photo kept after processing)
--   healing: what the run did about it (a PUT with valid photos, a re-create), or why nothing could be done
--   healed: 1 when the run sent something to undo the change (healing starts with sent), else 0
--   state_now: publications.state now (active, suspended, archived, deleted, error)
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
