"""One Dagster run of a job for one partition, orchestrated from this process as a run worker
does (the steps go to the job's executor: Celery when the broker variable is set).

    python -m tests.deploy.launch_runs JOB PARTITION_KEY DEALER_ID [RUN_CONFIG_JSON]

Prints one JSON line: {"run_id": ..., "success": ...}. (Runs orchestrated from threads of one
process never start: Dagster's run start is not thread-safe, so each run has its process.)
"""

from __future__ import annotations

import json
import logging
import sys

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableRepository

from dealer_pipeline.defs.common import DEALER_TAG
from dealer_pipeline.paths import project_root


def main(argv: list[str]) -> int:
    logging.disable(logging.WARNING)
    job, key, dealer = argv[:3]
    run_config = json.loads(argv[3]) if len(argv) > 3 else {}
    recon = ReconstructableRepository.for_module("dealer_pipeline.definitions", "defs",
                                                 str(project_root())).get_reconstructable_job(job)
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(recon, instance=instance, run_config=run_config, raise_on_error=False,
                                tags={"dagster/partition": key, DEALER_TAG: dealer})
        print(json.dumps({"run_id": result.run_id, "success": result.success}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
