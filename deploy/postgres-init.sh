#!/bin/sh
# Run once by the postgres image on an empty data directory: the canonical store gets its own database and
# owner beside Dagster's (deploy/compose.yaml).
set -eu
psql -v ON_ERROR_STOP=1 -v pw="$STORE_PG_PASSWORD" --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE dealer_pipeline LOGIN PASSWORD :'pw';
CREATE DATABASE dealer_pipeline OWNER dealer_pipeline;
SQL
