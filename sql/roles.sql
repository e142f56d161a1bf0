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
-- Apply this file again after adding a login: the statement timeout is set on each member login
-- (PostgreSQL applies a role's settings only to sessions that log in as that role itself).
--
-- Beyond the grants:
-- * TEMP is revoked from PUBLIC (and the analyst role) on this database, so no analyst can create
--   temporary tables or functions in pg_temp (a leaky function is how a filtered view is read
--   around). The role applying this file, the pipeline's own, keeps TEMP (its bulk upserts use it).
-- * Every analyst view is `security_barrier`: the view's own conditions are applied before any
--   function of the analyst's query sees a row.
-- * statement_timeout (60 s) on the role and on each member login: one analyst query cannot hold
--   locks or a core for long.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dealer_pipeline_analyst') THEN
        CREATE ROLE dealer_pipeline_analyst NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO dealer_pipeline_analyst', current_database());
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM dealer_pipeline_analyst', current_database());
    EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I', current_database(), current_user);
END
$$;

ALTER ROLE dealer_pipeline_analyst SET statement_timeout = '60s';
DO $$
DECLARE
    member name;
BEGIN
    FOR member IN
        SELECT r.rolname FROM pg_auth_members m
        JOIN pg_roles g ON g.oid = m.roleid AND g.rolname = 'dealer_pipeline_analyst'
        JOIN pg_roles r ON r.oid = m.member
    LOOP
        EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', member, '60s');
    END LOOP;
END
$$;

REVOKE ALL ON ALL TABLES IN SCHEMA public FROM dealer_pipeline_analyst;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM dealer_pipeline_analyst;
REVOKE CREATE ON SCHEMA public FROM dealer_pipeline_analyst;
GRANT USAGE ON SCHEMA public TO dealer_pipeline_analyst;

GRANT SELECT ON v_stock_current, v_price_history, v_dealer_sync_health, v_data_quality, v_publications, v_vendor_state_changes TO dealer_pipeline_analyst;

ALTER VIEW v_stock_current SET (security_barrier = true);
ALTER VIEW v_price_history SET (security_barrier = true);
ALTER VIEW v_dealer_sync_health SET (security_barrier = true);
ALTER VIEW v_data_quality SET (security_barrier = true);
ALTER VIEW v_publications SET (security_barrier = true);
ALTER VIEW v_vendor_state_changes SET (security_barrier = true);
