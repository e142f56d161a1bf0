"""The Celery worker's app: `celery -A dealer_pipeline.runner.celery_worker worker -Q dagster`.

Each worker takes step tasks from the broker named by `DEALER_PIPELINE_CELERY_BROKER_URL` and runs
them against the Dagster instance of `DAGSTER_HOME` (the same PostgreSQL storage as the daemon's).
"""

from dagster_celery.tasks import create_task

from dealer_pipeline.defs.execution import celery_app

app = celery_app()
execute_plan = create_task(app)
