-- One row per change of a vehicle's price (total price, supplied price or admin fee) recorded in
-- vehicle_changes, with the old and new amounts as numbers in the vehicle's currency, the difference,
-- when it changed and why (baseline, notification, ...).
-- Columns (from dealer_pipeline/store/dictionary.yaml; `dealer-pipeline db render-sql` writes them):
--   vehicle_id: <source>:<source vehicle id>, e.g. autotrader:<stockId>
--   dealer_id: the dealer selling it (dealers.dealer_id)
--   source: the vendor the vehicle comes from: autotrader or webmotors
--   make: manufacturer, as the vendor names it
--   model: model, as the vendor names it
--   field: which price changed: price_amount, supplied_price_amount or admin_fee_amount
--   currency: ISO 4217 currency of every amount of the row (GBP, BRL)
--   old_amount: the amount before the change (null for a first price)
--   new_amount: the amount after the change
--   change_amount: new_amount minus old_amount (negative: a cut)
--   changed_at: when the change was applied
--   cause: baseline, notification, ...
--   source_version: Autotrader versionNumber of the record that brought the change
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
