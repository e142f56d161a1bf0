# One image for every process: code server, webserver, daemon, run and Celery workers, webhook receiver
# (deploy/compose.yaml, deploy/helm/). The instance config is deploy/dagster.yaml, copied to DAGSTER_HOME.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home

WORKDIR /opt/dealer_pipeline

# Dependencies first (pinned in pyproject.toml), so a code change does not reinstall them.
COPY pyproject.toml README.md ./
COPY dealer_pipeline ./dealer_pipeline
RUN pip install --no-cache-dir .

# The analyst views and roles are read from ./sql at migration time; workspace files for the webserver/daemon.
COPY sql ./sql
COPY deploy ./deploy
RUN mkdir -p "$DAGSTER_HOME/storage" \
    && cp deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml" \
    && cp deploy/workspace.yaml ./workspace.yaml \
    && useradd --system --uid 10001 --home-dir /opt/dagster dagster \
    && chown -R dagster "$DAGSTER_HOME"

USER dagster
# webserver, code server (gRPC), webhook receiver
EXPOSE 3000 4000 8080
CMD ["dagster", "api", "grpc", "-m", "dealer_pipeline.definitions", "-h", "0.0.0.0", "-p", "4000"]
