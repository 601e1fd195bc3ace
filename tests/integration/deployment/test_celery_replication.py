"""Issue 2's scale-out shape, on this machine: Airflow with the CeleryExecutor, PostgreSQL,
Redis and a separate Celery worker process, driven through the REST API v2.

The first test proves the deployment itself with a DAG of its own (so a failure there is the
harness's, not regrep's); the second replicates real images between two real registries through
the regrep DAG of a rule file, every copy running as a mapped task on the Celery worker, in
Airflow's layout of the repository (its dags/ and plugins/ as Airflow's folders).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

import regrep
from tests.support.airflow_deployment import Deployment
from tests.support.blobs import generated
from tests.support.images import manifest_digest, push_image
from tests.support.registries import RegistryPair

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

MAPPED_DAG = """\
from __future__ import annotations

from airflow.sdk import dag, get_current_context, task


@dag(schedule=None)
def harness_mapped():
    @task
    def items() -> list[str]:
        return ["alpha", "beta", "gamma"]

    @task(map_index_template="{{ label }}")
    def touch(item: str) -> str:
        get_current_context()["label"] = item
        return item.upper()

    @task
    def collect(results: list[str]) -> list[str]:
        return sorted(results)

    collect(touch.expand(item=items()))


harness_mapped()
"""
RULE = """\
name: celery-mirror
source: src
destination: dst
filters: {name: "library/**"}
trigger: {type: manual}
"""
IMAGES = (("library/alpine", "3.20"), ("library/alpine", "3.21"), ("library/tools/cli", "1.0"))


def test_celery_worker_runs_mapped_tasks(
    airflow_deployment: Callable[..., Deployment], tmp_path: Path
) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "harness_mapped.py").write_text(MAPPED_DAG)
    deployment = airflow_deployment(executor="CeleryExecutor", dags_folder=dags)

    deployment.wait_for_dag("harness_mapped")
    run_id = deployment.trigger("harness_mapped")
    assert deployment.wait_for_run("harness_mapped", run_id, timeout=180) == "success"

    instances = deployment.task_instances("harness_mapped", run_id)
    mapped = sorted(
        (ti["map_index"], ti["rendered_map_index"], ti["state"])
        for ti in instances
        if ti["task_id"] == "touch"
    )
    assert mapped == [(0, "alpha", "success"), (1, "beta", "success"), (2, "gamma", "success")]
    assert {ti["id"] for ti in instances} <= deployment.worker_task_instance_ids()
    assert "Returned value was: BETA" in deployment.task_log("harness_mapped", run_id, "touch", 1)


def test_celery_deployment_replicates_a_rule(
    airflow_deployment: Callable[..., Deployment],
    registry_pair: RegistryPair,
    tmp_path: Path,
) -> None:
    source, destination = registry_pair
    base = generated(2 * 1024 * 1024, "celery-shared-base")
    pushed = {
        f"{repository}:{tag}": push_image(
            source, repository, tag, layer_sizes=(256 * 1024,), base_layers=(base,)
        )
        for repository, tag in IMAGES
    }
    push_image(source, "internal/private", "1.0")  # outside the rule's filter
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "celery-mirror.yaml").write_text(RULE)
    connections = {
        name: {"conn_type": "regrep_docker_registry", "host": registry.url}
        for name, registry in (("src", source), ("dst", destination))
    }
    deployment = airflow_deployment(
        executor="CeleryExecutor",
        rules_dir=rules,
        connections=connections,
    )

    dag_id = "replicate_celery-mirror"
    deployment.wait_for_dag(dag_id)
    run_id = deployment.trigger(dag_id)
    assert deployment.wait_for_run(dag_id, run_id, timeout=240) == "success"

    instances = deployment.task_instances(dag_id, run_id)
    copies = {ti["rendered_map_index"]: ti["state"] for ti in instances if ti["task_id"] == "copy"}
    assert copies == dict.fromkeys(pushed, "success")
    assert {ti["task_id"] for ti in instances} == {"plan", "copy"}
    assert {ti["id"] for ti in instances} <= deployment.worker_task_instance_ids()
    for label, image in pushed.items():
        repository, tag = label.rsplit(":", 1)
        assert manifest_digest(destination, repository, tag) == image.digest
    assert manifest_digest(destination, "internal/private", "1.0") is None

    # Airflow's layout: every component (and task) loaded regrep's plugin once, from regrep's
    # entry point, the repository's plugins/ being their plugins folder.
    listed = json.loads(deployment.cli("plugins", "--output", "json").strip().splitlines()[-1])
    assert [str(p["source"]).split(":")[0] for p in listed if p["name"] == "regrep"] == [
        f"regrep=={regrep.__version__}"
    ]
    served = deployment.api.get("/api/v2/plugins")["plugins"]
    assert [p["name"] for p in served].count("regrep") == 1
    assert deployment.api.get("/api/v2/plugins/importErrors")["import_errors"] == []
    assert deployment.plugin_problems() == []
