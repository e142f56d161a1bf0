-- One row per (vehicle, failed check) from the last data-quality run over its dealer: which check, how
-- severe (blocking keeps the vehicle from publishing; warning does not), why (quoting the offending
-- value), and the fields a person needs to find the vehicle in the dealer's system.
-- Columns (from dealer_pipeline/store/dictionary.yaml; `dealer-pipeline db render-sql` writes them):
--   dealer_id: the vehicle's dealer
--   dealer_name: the dealer's trading name as the vendor gives it
--   vehicle_id: the vehicle (vehicles.vehicle_id)
--   source: the vendor the vehicle comes from: autotrader or webmotors
--   source_vehicle_id: the vehicle's id at its vendor (Autotrader stockId, Webmotors ad id)
--   external_stock_reference: the dealer's stock reference, to find the vehicle in the dealer's system
--   check_name: the rule or check that failed (price_range, model_year_range, other_vocabulary_share, ...)
--   severity: blocking or warning (blocking keeps the vehicle off the classifieds)
--   reason: why, quoting the offending value
--   detected_at: when the check found it
--   availability: available, reserved, sold, removed
--   make: manufacturer, as the vendor names it
--   model: model, as the vendor names it
--   registration: registration plate, when given
--   vin: vehicle identification number, when given
--   price_amount: total price the buyer pays, in price_currency
--   price_currency: ISO 4217 currency of every amount of the row (GBP, BRL)
--   vehicle_updated_at: when the pipeline last changed this row
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
