-- dealer_pipeline_analyst: the read-only role for analysts (PostgreSQL only).
--
-- Members can read the analyst views (sql/views/) and nothing else: no base table, so no api_tokens,
-- no webhook_events bodies, no leads' personal data. The views run with their owner's rights, which is
-- what lets a member read them without any grant on the tables underneath.
--
-- Apply (idempotent) after `dealer-pipeline db upgrade`, and again after any migration that recreates
-- the views (a recreated view loses its grants):
--     psql "$DATABASE_URL" -v ON_ERROR_STOP=1 -f sql/roles.sql
-- or from Python: dealer_pipeline.store.views.apply_analyst_role(engine).
--
-- Give a person a login (roles are cluster-wide; pick a strong password, or use your SSO/pg_hba setup):
--     CREATE ROLE alice LOGIN PASSWORD 'change-me' IN ROLE dealer_pipeline_analyst;
-- or for an existing login:
--     GRANT dealer_pipeline_analyst TO alice;
-- and take it away with: REVOKE dealer_pipeline_analyst FROM alice;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dealer_pipeline_analyst') THEN
        CREATE ROLE dealer_pipeline_analyst NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO dealer_pipeline_analyst', current_database());
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM dealer_pipeline_analyst;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM dealer_pipeline_analyst;
REVOKE CREATE ON SCHEMA public FROM dealer_pipeline_analyst;
GRANT USAGE ON SCHEMA public TO dealer_pipeline_analyst;

GRANT SELECT ON v_stock_current, v_price_history, v_dealer_sync_health, v_data_quality TO dealer_pipeline_analyst;
