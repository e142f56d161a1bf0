-- One row per (vehicle, classified target) the publishing loop has decided about: whether it is live
-- there (state active), suspended, archived or deleted, or held back before it ever went live and why,
-- with the vehicle's dealer, make, model and price.
-- Columns (from dealer_pipeline/store/dictionary.yaml; `dealer-pipeline db render-sql` writes them):
--   target: the classified: autocosmos or autochat
--   dealer_id: the vehicle's dealer
--   dealer_name: the dealer's trading name as the vendor gives it
--   vehicle_id: the vehicle (vehicles.vehicle_id)
--   make: manufacturer, as the vendor names it
--   model: model, as the vendor names it
--   registration: registration plate, when given
--   price_amount: total price the buyer pays, in price_currency
--   price_currency: ISO 4217 currency of every amount of the row (GBP, BRL)
--   availability: available, reserved, sold, removed
--   account_id: Autocosmos adminmail or Autochat dealershipId
--   external_id: the vehicle's id on the target (stable; never changed)
--   state: active, suspended, archived, deleted, error
--   live: 1 when it is live on the target now (state active), else 0
--   held_back: 1 when the last decision was to hold it back (never sent: not publishable), else 0
--   reason: why it was held back, or why the target refused or suspended it; null when the last operation succeeded
--   last_op: the last operation: create, replace, price, suspend, reactivate, remove, hold, nothing
--   last_status: HTTP status of the last call; null when none was made
--   published_at: when it first went live on the target
--   updated_at: when the pipeline last changed this row
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
