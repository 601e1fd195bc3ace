"""``docker-compose.yaml`` follows Airflow's own docker-compose file, and its image installs the
wheel built from this checkout. Docker cannot run here, so the files are read.

``OFFICIAL`` is what Airflow's file for the locked release sets, service by service (read from
apache/airflow, ``airflow-core/docs/howto/docker-compose/docker-compose.yaml``, the 3.x file
Airflow's documentation publishes per release as ``docs/apache-airflow/<version>/
docker-compose.yaml``; its image line there is ``${AIRFLOW_IMAGE_NAME:-apache/airflow:
<version>}``): the image, command, health check, profiles and dependencies of each service;
every Airflow service shares the image and the mounts of ``x-airflow-common``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from regrep.rules import load_rule
from tests.support.layout import REPO
from tests.support.lock import locked_version

HEALTH_30S = {"interval": "30s", "timeout": "10s", "retries": 5, "start_period": "30s"}
AFTER_INIT = {
    "redis": {"condition": "service_healthy"},
    "postgres": {"condition": "service_healthy"},
    "airflow-init": {"condition": "service_completed_successfully"},
}
CELERY_PING = (
    "celery --app airflow.providers.celery.executors.celery_executor.app inspect ping -d "
    '"celery@$${HOSTNAME}" || celery --app airflow.executors.celery_executor.app inspect ping '
    '-d "celery@$${HOSTNAME}"'
)
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-worker",
    "airflow-triggerer",
    "airflow-init",
    "airflow-cli",
    "flower",
)
MOUNTS = [
    "${AIRFLOW_PROJ_DIR:-.}/dags:/opt/airflow/dags",
    "${AIRFLOW_PROJ_DIR:-.}/logs:/opt/airflow/logs",
    "${AIRFLOW_PROJ_DIR:-.}/config:/opt/airflow/config",
    "${AIRFLOW_PROJ_DIR:-.}/plugins:/opt/airflow/plugins",
]
IMAGE_LINE = re.compile(r"^\$\{AIRFLOW_IMAGE_NAME:-(?P<name>[^:}]+):(?P<version>[^}]+)\}$")
OFFICIAL: dict[str, dict[str, Any]] = {
    "postgres": {
        "image": "postgres:16",
        "volumes": ["postgres-db-volume:/var/lib/postgresql/data"],
        "healthcheck": {
            "test": ["CMD", "pg_isready", "-U", "airflow"],
            "interval": "10s",
            "retries": 5,
            "start_period": "5s",
        },
    },
    "redis": {
        "image": "redis:7.2-bookworm",
        "healthcheck": {
            "test": ["CMD", "redis-cli", "ping"],
            "interval": "10s",
            "timeout": "30s",
            "retries": 50,
            "start_period": "30s",
        },
    },
    "airflow-apiserver": {
        "command": "api-server",
        "ports": ["8080:8080"],
        "healthcheck": {
            "test": ["CMD", "curl", "--fail", "http://localhost:8080/api/v2/version"],
            **HEALTH_30S,
        },
        "depends_on": AFTER_INIT,
    },
    "airflow-scheduler": {
        "command": "scheduler",
        "healthcheck": {"test": ["CMD", "curl", "--fail", "http://localhost:8974/health"]}
        | HEALTH_30S,
        "depends_on": AFTER_INIT,
    },
    "airflow-dag-processor": {
        "command": "dag-processor",
        "healthcheck": {
            "test": [
                "CMD-SHELL",
                'airflow jobs check --job-type DagProcessorJob --hostname "$${HOSTNAME}"',
            ],
            **HEALTH_30S,
        },
        "depends_on": AFTER_INIT,
    },
    "airflow-worker": {
        "command": "celery worker",
        "healthcheck": {"test": ["CMD-SHELL", CELERY_PING], **HEALTH_30S},
        "depends_on": {**AFTER_INIT, "airflow-apiserver": {"condition": "service_healthy"}},
    },
    "airflow-triggerer": {
        "command": "triggerer",
        "healthcheck": {
            "test": [
                "CMD-SHELL",
                'airflow jobs check --job-type TriggererJob --hostname "$${HOSTNAME}"',
            ],
            **HEALTH_30S,
        },
        "depends_on": AFTER_INIT,
    },
    "airflow-init": {"entrypoint": "/bin/bash", "user": "0:0"},
    "airflow-cli": {
        "profiles": ["debug"],
        "command": ["bash", "-c", "airflow"],
        "depends_on": {key: AFTER_INIT[key] for key in ("redis", "postgres")},
    },
    "flower": {
        "command": "celery flower",
        "profiles": ["flower"],
        "ports": ["5555:5555"],
        "healthcheck": {"test": ["CMD", "curl", "--fail", "http://localhost:5555/"]} | HEALTH_30S,
        "depends_on": AFTER_INIT,
    },
}


def compose() -> dict[str, Any]:
    document = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    assert isinstance(document, dict)
    return document


def test_every_service_of_airflows_file_is_there() -> None:
    assert set(OFFICIAL) <= set(compose()["services"])
    assert set(AIRFLOW_SERVICES) < set(OFFICIAL)


@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_each_service_is_set_as_in_airflows_file(name: str) -> None:
    service = compose()["services"][name]
    assert {key: service.get(key) for key in OFFICIAL[name]} == OFFICIAL[name]


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_airflow_services_share_the_image_line_and_the_mounts(name: str) -> None:
    service = compose()["services"][name]
    image = IMAGE_LINE.match(service["image"])
    assert image is not None, service["image"]
    assert image["version"] == locked_version("apache-airflow")
    assert service["volumes"] == MOUNTS
    assert service["user"] == ("0:0" if name == "airflow-init" else "${AIRFLOW_UID:-50000}:0")


def test_the_image_is_built_from_this_checkout_with_rules_in_a_mounted_folder() -> None:
    common = compose()["x-airflow-common"]
    assert common["build"] == "."
    rules = common["environment"]["REGREP_RULES_DIR"]
    mounted = [mount.split(":")[-1] for mount in common["volumes"]]
    assert any(rules.startswith(f"{folder}/") for folder in mounted), (rules, mounted)


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), one list per stage."""
    text = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines()]
    instructions = [" ".join(line.split()) for line in lines if line and not line.startswith("#")]
    stages: list[list[str]] = []
    for instruction in instructions:
        if instruction.startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_the_dockerfile_installs_the_wheel_built_from_this_checkout() -> None:
    version = locked_version("apache-airflow")
    text = (REPO / "Dockerfile").read_text()
    assert f"ARG AIRFLOW_VERSION={version}\n" in text
    build, final = dockerfile_stages()
    base = "FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}"
    assert build[0] == f"{base} AS regrep-wheel"
    assert "COPY --chown=airflow:root plugins /opt/regrep/plugins" in build
    assert any(step.startswith("COPY") and "pyproject.toml" in step for step in build)
    assert (
        "RUN pip wheel --no-cache-dir --no-deps --wheel-dir /opt/regrep/dist /opt/regrep" in build
    )
    assert final[0] == base
    assert "COPY --from=regrep-wheel /opt/regrep/dist/ /tmp/regrep-dist/" in final
    (install,) = [step for step in final if step.startswith("RUN pip install")]
    assert '"apache-airflow==${AIRFLOW_VERSION}" /tmp/regrep-dist/regrep-*.whl' in install
    assert "constraints-${AIRFLOW_VERSION}/constraints-${PYTHON_VERSION}.txt" in install


def test_the_build_context_holds_what_the_wheel_is_made_of() -> None:
    lines = (REPO / ".dockerignore").read_text().splitlines()
    patterns = [line for line in lines if line and not line.startswith("#")]
    assert patterns[:4] == ["*", "!pyproject.toml", "!README.md", "!plugins/"]


def test_the_regional_worker_is_a_worker_serving_the_wan_examples_queue() -> None:
    services = compose()["services"]
    worker, regional = services["airflow-worker"], services["airflow-worker-dr-site"]
    queue = load_rule(REPO / "docs" / "rules" / "examples" / "wan-mirror.yaml").worker_queue

    assert regional.pop("command") == f"celery worker --queues {queue}"
    assert regional.pop("profiles") == ["regional"]
    assert regional == {key: value for key, value in worker.items() if key != "command"}
