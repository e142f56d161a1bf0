-- One row per vehicle currently in a dealer's stock (availability available or reserved), with its
-- canonical fields, the dealer's name, and how many blocking data-quality findings hold it back from
-- publishing (0 = publishable as of the last check run).
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
