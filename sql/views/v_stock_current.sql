-- One row per vehicle currently in a dealer's stock (availability available or reserved), with its
-- canonical fields, the dealer's name, and how many blocking data-quality findings hold it back from
-- publishing (0 = publishable as of the last check run).
-- Columns (from dealer_pipeline/store/dictionary.yaml; `dealer-pipeline db render-sql` writes them):
--   dealer_id: the dealer selling it (dealers.dealer_id)
--   dealer_name: the dealer's trading name as the vendor gives it
--   source: the vendor the vehicle comes from: autotrader or webmotors
--   vehicle_id: <source>:<source vehicle id>, e.g. autotrader:<stockId>
--   source_vehicle_id: the vehicle's id at its vendor (Autotrader stockId, Webmotors ad id)
--   external_stock_reference: the dealer's stock reference, to find the vehicle in the dealer's system
--   vin: vehicle identification number, when given
--   registration: registration plate, when given
--   make: manufacturer, as the vendor names it
--   model: model, as the vendor names it
--   trim: trim level
--   derivative: the full variant name (Autotrader derivative)
--   body_type: body style (Hatchback, SUV, ...)
--   fuel_type: canonical: petrol, diesel, electric, hybrid, plugin_hybrid, ..., other
--   transmission: canonical: manual, automatic, other
--   doors: number of doors
--   seats: number of seats
--   engine_cc: engine capacity in cubic centimetres
--   power_kw: engine power in kilowatts
--   co2_g_km: CO2 emissions in grams per kilometre
--   colour: exterior colour
--   model_year: model year
--   first_registration_date: date of first registration
--   mileage_km: odometer reading in kilometres (miles converted)
--   price_amount: total price the buyer pays, in price_currency
--   price_currency: ISO 4217 currency of every amount of the row (GBP, BRL)
--   vat_status: Autotrader VAT status of the price, as the vendor gives it
--   price_indicator_rating: Autotrader price indicator rating of the advert, as the vendor gives it
--   availability: available or reserved (sold and removed vehicles are not in this view)
--   lifecycle_state: the vendor's state
--   shown_on_dealer_site: the dealer shows it on its own site; false keeps it off the classifieds (null counts as shown)
--   images: list of image URLs
--   first_seen_at: when the pipeline first saw the vehicle
--   source_updated_at: vendor time of the last applied change
--   updated_at: when the pipeline last changed this row
--   blocking_findings: blocking data-quality findings holding it back from publishing (0: publishable)
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
