"""Where a run's steps execute: on the run's own machine (Dagster's default, a process per step),
or on Celery workers of any number of machines when `DEALER_PIPELINE_CELERY_BROKER_URL` names a
broker (Redis). The executor and the workers (`celery -A dealer_pipeline.runner.celery_worker worker`)
build their Celery app from this one function, so they cannot disagree about broker or queues.

The broker URL may carry a password: the executor's config refers to the variable instead of holding
the value, and every process (run worker, Celery worker) reads it from its own environment. Runs that
`dealer-pipeline sync` executes in its own process do not use the executor.
"""

import os
from typing import Any, Dict, Optional

import dagster as dg

BROKER_VARIABLE = "DEALER_PIPELINE_CELERY_BROKER_URL"
BACKEND_VARIABLE = "DEALER_PIPELINE_CELERY_BACKEND_URL"


def celery_enabled() -> bool:
    return bool(os.environ.get(BROKER_VARIABLE, "").strip())


def celery_config() -> Dict[str, Any]:
    """The executor config: broker and result backend by variable name (the backend defaults to
    the broker), one task at a time per worker process so a busy worker never hoards steps."""
    backend = BACKEND_VARIABLE if os.environ.get(BACKEND_VARIABLE, "").strip() else BROKER_VARIABLE
    return {"broker": {"env": BROKER_VARIABLE}, "backend": {"env": backend},
            "config_source": {"worker_prefetch_multiplier": 1, "task_acks_late": True}}


def job_executor() -> Optional[dg.ExecutorDefinition]:
    """The Celery executor when a broker is configured; None keeps Dagster's default."""
    if not celery_enabled():
        return None
    from dagster_celery import celery_executor

    return celery_executor.configured(celery_config(), name="celery")


def celery_app() -> Any:
    """The workers' Celery app, configured exactly as the executor's."""
    from dagster_celery.executor import CeleryExecutor
    from dagster_celery.make_app import make_app

    if not celery_enabled():
        raise RuntimeError(f"{BROKER_VARIABLE} must name the Celery broker (e.g. redis://host:6379/0)")
    config = celery_config()
    resolved = {key: os.environ[value["env"]] for key, value in config.items() if key in ("broker", "backend")}
    return make_app(CeleryExecutor.for_cli(config_source=config["config_source"], **resolved).app_args())
