-- One row per (vehicle, failed check) from the last data-quality run over its dealer: which check, how
-- severe (blocking keeps the vehicle from publishing; warning does not), why (quoting the offending
-- value), and the fields a person needs to find the vehicle in the dealer's system.
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
