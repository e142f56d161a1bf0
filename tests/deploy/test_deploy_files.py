"""The deployment files agree with `deploy/dagster.yaml` and with the project.

Docker, Compose, Helm and Kubernetes are not available here: the files are parsed and checked, never run or
rendered. The checks: the compose services and the chart's values carry the instance config of
`deploy/dagster.yaml` (storage, concurrency, monitoring, retention), the ports line up (workspace, code
server, webserver, receiver), and every command they start exists (`--help` of the installed command).
"""

from __future__ import annotations

import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from dealer_pipeline.defs.execution import BROKER_VARIABLE
from dealer_pipeline.defs.keys import DEALER_TAG
from dealer_pipeline.paths import project_root

DEPLOY = project_root() / "deploy"
BIN = Path(sys.executable).parent


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _instance() -> dict[str, Any]:
    return _yaml(DEPLOY / "dagster.yaml")


def _compose() -> dict[str, Any]:
    return _yaml(DEPLOY / "compose.yaml")


def _values() -> dict[str, Any]:
    return _yaml(DEPLOY / "helm" / "values.yaml")


def _manifests() -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((DEPLOY / "helm" / "dealer-pipeline.yaml").read_text()) if doc]


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, argument) per Dockerfile instruction, continuation lines joined."""
    text = (project_root() / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _option(argv: list[str], *names: str) -> str:
    for index, token in enumerate(argv):
        if token in names:
            return argv[index + 1]
    raise AssertionError(f"none of {names} in {argv}")


def _commands() -> Iterator[tuple[str, list[str]]]:
    for name, service in _compose()["services"].items():
        if "command" in service and "build" in service:
            yield f"compose:{name}", service["command"]
    for doc in _manifests():
        if doc["kind"] == "Deployment":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                yield f"k8s:{doc['metadata']['name']}", container["command"]
    cmd = dict(_dockerfile())["CMD"]
    yield "Dockerfile CMD", yaml.safe_load(cmd)
    for deployment in _values()["dagster-user-deployments"]["deployments"]:
        yield f"helm:{deployment['name']}", ["dagster", "api", "grpc", *deployment["dagsterApiGrpcArgs"]]


# ---- compose ------------------------------------------------------------------------------------------
def test_compose_runs_every_process_on_the_instance_config() -> None:
    services = _compose()["services"]
    assert {"postgres", "code", "webserver", "daemon", "receiver"} <= set(services)
    instance_vars = {value["env"] for value in _instance()["storage"]["postgres"]["postgres_db"].values()
                     if isinstance(value, dict)}
    dagster_processes = ["migrate", "code", "webserver", "daemon", "receiver", "worker"]
    for name in dagster_processes:
        env = services[name]["environment"]
        assert instance_vars <= set(env), f"{name} lacks {instance_vars - set(env)}"
        assert env["DAGSTER_PG_HOST"] == "postgres" and env["DAGSTER_PG_PORT"] == "5432"
        assert env["DEALER_PIPELINE_DATABASE_URL"].startswith("postgresql+psycopg2://")
        assert "/dealer_pipeline" in env["DEALER_PIPELINE_DATABASE_URL"], "the store is not Dagster's database"
        assert services[name].get("image") == services["code"]["image"]
    assert services["postgres"]["environment"]["POSTGRES_DB"] == services["code"]["environment"]["DAGSTER_PG_DB"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == services["code"]["environment"][
        "DAGSTER_PG_PASSWORD"], "one password variable for the server and its clients"
    init = services["postgres"]["volumes"][1].split(":")[0]
    assert (DEPLOY / init).is_file() and "CREATE DATABASE dealer_pipeline" in (DEPLOY / init).read_text()


def test_compose_ports_and_workspace_line_up() -> None:
    services = _compose()["services"]
    workspace = _yaml(DEPLOY / "workspace.yaml")["load_from"]
    [grpc] = [entry["grpc_server"] for entry in workspace]
    code = services["code"]["command"]
    assert grpc["host"] == "code" and str(grpc["port"]) == _option(code, "-p", "--port")
    assert _option(code, "-m", "--module-name") == "dealer_pipeline.definitions"
    assert services["code"]["expose"] == [str(grpc["port"])]
    for name in ("webserver", "daemon"):
        assert _option(services[name]["command"], "-w", "--workspace") == "workspace.yaml"
    web_port = _option(services["webserver"]["command"], "-p", "--port")
    assert services["webserver"]["ports"] == [f"{web_port}:{web_port}"]
    receiver = services["receiver"]
    port = _option(receiver["command"], "--port")
    assert receiver["ports"] == [f"{port}:{port}"]
    assert f"127.0.0.1:{port}/healthz" in " ".join(receiver["healthcheck"]["test"])
    assert services["code"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["command"] == ["dealer-pipeline", "db", "upgrade"]


def test_compose_celery_profile_matches_the_executor() -> None:
    services = _compose()["services"]
    worker, redis = services["worker"], services["redis"]
    assert worker["profiles"] == ["celery"] == redis["profiles"]
    assert _option(worker["command"], "-A") == "dealer_pipeline.runner.celery_worker"
    assert BROKER_VARIABLE in worker["environment"] and BROKER_VARIABLE in services["code"]["environment"]
    assert "redis://redis:6379/0" in (DEPLOY / "compose.yaml").read_text()
    storage = set(services["code"]["volumes"])
    assert storage == set(worker["volumes"]) == set(services["webserver"]["volumes"])


def test_dockerfile_installs_the_project_with_the_instance_config() -> None:
    steps = _dockerfile()
    env = " ".join(arg for instruction, arg in steps if instruction == "ENV")
    home = shlex.split(env.split("DAGSTER_HOME=", 1)[1])[0]
    assert home.startswith("/")
    runs = " && ".join(arg for instruction, arg in steps if instruction == "RUN")
    assert "pip install --no-cache-dir ." in runs
    assert 'cp deploy/dagster.yaml "$DAGSTER_HOME/dagster.yaml"' in runs
    assert "cp deploy/workspace.yaml ./workspace.yaml" in runs
    assert dict(steps)["USER"] != "root"
    copied = {arg.split()[0] for instruction, arg in steps if instruction == "COPY"}
    assert {"dealer_pipeline", "sql", "deploy"} <= copied
    for target in copied:
        assert (project_root() / target).exists(), target
    exposed = set(dict(steps)["EXPOSE"].split())
    services = _compose()["services"]
    assert {_option(services["webserver"]["command"], "-p"), _option(services["code"]["command"], "-p"),
            _option(services["receiver"]["command"], "--port")} == exposed
    ignored = (project_root() / ".dockerignore").read_text().split()
    assert {".venv", "deploy/pipeline.env", "dagster_home"} <= set(ignored), "no venv or secrets in the image"


# ---- helm -----------------------------------------------------------------------------------------------
def test_helm_values_carry_the_instance_config() -> None:
    instance, values = _instance(), _values()
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    pg = values["postgresql"]
    assert pg["enabled"] is False and pg["postgresqlScheme"] == instance["storage"]["postgres"]["postgres_db"][
        "scheme"]
    assert values["generatePostgresqlPasswordSecret"] is False and values["global"]["postgresqlSecretName"]
    concurrency = values["concurrency"]
    assert concurrency["enabled"] is True
    assert concurrency["pools"]["defaultLimit"] == instance["concurrency"]["pools"]["default_limit"]
    runs = instance["concurrency"]["runs"]
    assert concurrency["runs"]["maxConcurrentRuns"] == runs["max_concurrent_runs"]
    assert concurrency["runs"]["tagConcurrencyLimits"] == runs["tag_concurrency_limits"]
    assert [limit["key"] for limit in runs["tag_concurrency_limits"]] == [DEALER_TAG]
    daemon = values["dagsterDaemon"]
    assert daemon["runCoordinator"] == {"enabled": True, "type": "QueuedRunCoordinator"}
    monitoring = instance["run_monitoring"]
    assert daemon["runMonitoring"] == {"enabled": monitoring["enabled"],
                                       "maxResumeRunAttempts": monitoring["max_resume_run_attempts"],
                                       "pollIntervalSeconds": monitoring["poll_interval_seconds"]}
    retention = values["retention"]
    assert retention["enabled"] is True
    assert retention["schedule"]["purgeAfterDays"] == instance["retention"]["schedule"]["purge_after_days"]
    assert retention["sensor"]["purgeAfterDays"] == instance["retention"]["sensor"]["purge_after_days"]
    assert values["telemetry"] == instance["telemetry"]


def test_helm_processes_get_the_pipeline_secret() -> None:
    values = _values()
    secret = {"name": "dealer-pipeline-env"}
    [code] = values["dagster-user-deployments"]["deployments"]
    assert secret in code["envSecrets"]
    assert secret in values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"], "run pods call vendors"
    assert secret in values["dagsterDaemon"]["envSecrets"]
    for doc in _manifests():
        if doc["kind"] == "Deployment":
            [container] = doc["spec"]["template"]["spec"]["containers"]
            assert {"secretRef": secret} in container["envFrom"]
            assert container["image"] == f"{code['image']['repository']}:{code['image']['tag']}"


def test_receiver_deployment_is_probed_on_healthz() -> None:
    docs = _manifests()
    [receiver] = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"].endswith("receiver")]
    [container] = receiver["spec"]["template"]["spec"]["containers"]
    port = int(_option(container["command"], "--port"))
    named = {p["name"]: p["containerPort"] for p in container["ports"]}
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == "/healthz" and named[get["port"]] == port
    [service] = [d for d in docs if d["kind"] == "Service"]
    assert service["spec"]["selector"] == receiver["spec"]["selector"]["matchLabels"]
    assert named[service["spec"]["ports"][0]["targetPort"]] == port


# ---- every command exists ---------------------------------------------------------------------------------
@pytest.mark.parametrize("where,argv", list(_commands()), ids=lambda value: value if isinstance(value, str) else "")
def test_each_command_exists(where: str, argv: list[str]) -> None:
    """The installed command accepts exactly these arguments (`--help` is parsed first and exits 0)."""
    executable = BIN / argv[0]
    assert executable.is_file(), f"{where}: {argv[0]} is not installed by the project"
    for flag in ("-m", "--module-name", "-A"):
        if flag in argv:
            module = _option(argv, flag)
            assert importlib.util.find_spec(module) is not None, f"{where}: no module {module}"
    env = {**os.environ, BROKER_VARIABLE: "redis://127.0.0.1:9/0"}
    done = subprocess.run([str(executable), *argv[1:], "--help"], capture_output=True, text=True, env=env,
                          cwd=project_root(), timeout=120)
    assert done.returncode == 0, f"{where}: {done.stderr[-2000:]}"
