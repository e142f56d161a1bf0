"""Migrations create exactly the schema of `schema.py`, revert cleanly, and match `sql/schema.sql`."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dealer_pipeline.paths import project_root
from dealer_pipeline.store import migrate
from dealer_pipeline.store.engine import create_store_engine
from dealer_pipeline.store.schema import metadata

INTERFACE_TABLES = {
    "dealers", "vehicles", "vehicle_changes", "webhook_events", "api_calls", "api_blocks",
    "catalog_matches", "publications", "leads",
}


def test_upgrade_then_downgrade_on_an_empty_database(empty_store_url: str) -> None:
    engine = create_store_engine(empty_store_url)
    try:
        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        tables = set(sa.inspect(engine).get_table_names())
        assert INTERFACE_TABLES <= tables
        assert set(metadata.tables) <= tables
        with engine.connect() as conn:
            differences = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True}),
                metadata,
            )
        assert differences == [], f"schema.py and the migrations disagree: {differences}"
        migrate.downgrade(engine)
        assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
        assert migrate.current_revision(engine) is None
    finally:
        engine.dispose()


def test_schema_sql_matches_the_migrations() -> None:
    committed = (project_root() / "sql" / "schema.sql").read_text()
    assert committed == migrate.render_postgres_ddl(), (
        "sql/schema.sql drifted from the migrations: run `dealer-pipeline db render-sql`"
    )


def test_interface_columns_exist() -> None:
    required = {
        "dealers": "dealer_id source source_dealer_id name status updated_at raw",
        "vehicles": "vehicle_id source source_vehicle_id dealer_id search_id external_stock_id "
        "external_stock_reference vin registration make model trim derivative derivative_id body_type fuel_type "
        "transmission doors seats engine_cc power_kw co2_g_km colour model_year first_registration_date mileage_km "
        "price_amount price_currency supplied_price_amount admin_fee_amount vat_status price_indicator_rating "
        "lifecycle_state availability shown_on_dealer_site attention_grabber description description2 images "
        "video_url spin_url features highlights source_version source_updated_at first_seen_at updated_at raw",
        "vehicle_changes": "vehicle_id field old_value new_value changed_at cause",
        "webhook_events": "id source event_key event_type received_at headers body status attempts error",
        "api_calls": "ts vendor method path status duration_ms cf_ray dealer_id error",
        "api_blocks": "vendor service dealer_id reason message cf_ray created_at resolved_at",
        "catalog_matches": "spec_key version_href status confidence candidates resolved_at",
        "publications": "target vehicle_id external_id state payload_hash last_op last_status last_error "
        "published_at updated_at",
        "leads": "source lead_key dealer_id vehicle_id received_at payload forwarded_at",
    }
    for table, columns in required.items():
        missing = set(columns.split()) - set(metadata.tables[table].columns.keys())
        assert not missing, f"{table} lacks {missing}"
