"""Issue 14: copies run on the workers nearest the registries, and a lost worker loses nothing.

One CeleryExecutor deployment on the machine's PostgreSQL and Redis serves the module, with
three Celery worker processes, each with its own name (the host name its task instances
record): ``a1`` and ``a2`` consume queue ``a``, ``b1`` queue ``b``, and none Airflow's default
queue. Two pairs of real registries stand for two regions; each region's rules name its
queue in ``worker_queue``. Which worker ran what is read from the REST API (each task
instance's ``hostname``, and ``.../tries`` for every attempt).

The scheduler fails a running task instance whose heartbeats stopped after
``task_instance_heartbeat_timeout`` (Airflow's default 300 s; 30 s here, checked every 2 s),
and the rule's retry then goes to a worker of the same queue.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from tests.integration.deployment.conftest import STARTED
from tests.support.airflow_deployment import CeleryWorker, Deployment, start_deployment
from tests.support.images import manifest_digest, push_image
from tests.support.registries import RunningRegistry, start_registry
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

WORKERS = (CeleryWorker("a1", ("a",)), CeleryWorker("a2", ("a",)), CeleryWorker("b1", ("b",)))
ON_QUEUE = {"a": {"a1", "a2"}, "b": {"b1"}}
REGIONS = ("a", "b")
MIB = 1 << 20
BIG_LAYER = 32 * MIB
SPEED_LIMIT_KBPS = 2048  # the big layer takes 16 s a try: time to catch it mid-way
IN_PROGRESS = 4 * MIB  # bytes of the big layer at the destination before the worker dies
HEARTBEAT = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "2",
}


@dataclass(frozen=True)
class Region:
    """A pair of registries, as its connections ``<name>_src`` and ``<name>_dst`` name them."""

    source: RunningRegistry
    destination: RunningRegistry


@dataclass(frozen=True)
class Site:
    deployment: Deployment
    regions: dict[str, Region]

    def run(self, rule: str) -> str:
        """Trigger the rule's DAG; its run id."""
        return self.deployment.trigger(f"replicate_{rule}")

    def instances(self, rule: str, run_id: str) -> list[dict[str, Any]]:
        return self.deployment.task_instances(f"replicate_{rule}", run_id)


RULES = {
    # The rule of each region: its images, copied by workers of its queue.
    "near-a": {"source": "a_src", "destination": "a_dst", "worker_queue": "a"},
    "near-b": {"source": "b_src", "destination": "b_dst", "worker_queue": "b"},
    # One image whose copy is slow enough to lose its worker in the middle of it.
    "slow-a": {
        "source": "a_src",
        "destination": "a_dst",
        "filters": {"name": "big/**"},
        "worker_queue": "a",
        "speed_limit_kbps": SPEED_LIMIT_KBPS,
        "retries": 2,
        "retry_delay_minutes": 0,
    },
}


@pytest.fixture(scope="module")
def site(registry_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("queues")
    rules = workdir / "rules"
    rules.mkdir()
    for name, fields in RULES.items():
        document = {"name": name, "filters": {"name": "apps/**"}, **fields}
        (rules / f"{name}.yaml").write_text(yaml.safe_dump(document))
    registries = [
        start_registry(workdir, name=f"{region}-{role}")
        for region in REGIONS
        for role in ("src", "dst")
    ]
    try:
        regions = {
            region: Region(*registries[2 * index : 2 * index + 2])
            for index, region in enumerate(REGIONS)
        }
        connections = {
            f"{region}_{role}": {"conn_type": "regrep_docker_registry", "host": registry.url}
            for region, pair in regions.items()
            for role, registry in (("src", pair.source), ("dst", pair.destination))
        }
        deployment = start_deployment(
            workdir / "airflow",
            executor="CeleryExecutor",
            rules_dir=rules,
            connections=connections,
            celery_workers=WORKERS,
            worker_concurrency=2,
            extra_env=HEARTBEAT,
            startup_timeout=300,
        )
        try:
            for name in RULES:
                deployment.wait_for_dag(f"replicate_{name}")
            yield Site(deployment, regions)
        finally:
            deployment.stop()
    finally:
        for registry in registries:
            registry.stop()


@pytest.fixture(autouse=True)
def _report_deployment_logs(request: pytest.FixtureRequest, site: Site) -> None:
    """A failing test's report gets the shared deployment's log tails (see the conftest)."""
    request.node.stash.setdefault(STARTED, []).append(site.deployment)


def test_each_rules_tasks_run_only_on_the_workers_of_its_queue(site: Site) -> None:
    pushed = {
        region: [
            push_image(pair.source, f"apps/{region}-{index}", "1.0", seed=f"{region}/{index}")
            for index in range(4)
        ]
        for region, pair in site.regions.items()
    }

    runs = {region: site.run(f"near-{region}") for region in REGIONS}
    for region, run_id in runs.items():
        assert site.deployment.wait_for_run(f"replicate_near-{region}", run_id) == "success"

    for region, run_id in runs.items():
        instances = site.instances(f"near-{region}", run_id)
        copies = [ti for ti in instances if ti["task_id"] == "copy"]
        assert len(copies) == 4
        assert {ti["task_id"] for ti in instances} == {"plan", "copy"}
        assert {ti["queue"] for ti in instances} == {region}
        assert {ti["state"] for ti in instances} == {"success"}
        assert {ti["hostname"] for ti in instances} <= ON_QUEUE[region], instances
        destination = site.regions[region].destination
        for image in pushed[region]:
            assert manifest_digest(destination, image.repository, "1.0") == image.digest
    # No region's images went to the other's registries.
    assert manifest_digest(site.regions["b"].destination, "apps/a-0", "1.0") is None


def test_a_worker_killed_in_the_middle_of_a_copy_loses_nothing(site: Site) -> None:
    """The worker running the copy is killed with every process it started while the
    layer is on its way (an eighth of it at the destination); the scheduler notices the
    missing heartbeats, the rule's retry runs on the other worker of queue ``a``, and the
    destination ends holding exactly the source's bytes."""
    region = site.regions["a"]
    image = push_image(region.source, "big/data", "1.0", layer_sizes=(BIG_LAYER, 4096))
    run_id = site.run("slow-a")

    copy = wait_for("the copy to start on a worker", lambda: running_copy(site, run_id))
    victim = str(copy["hostname"])
    (survivor,) = ON_QUEUE["a"] - {victim}
    wait_for(
        f"{IN_PROGRESS} bytes of the layer at the destination",
        lambda: uploading(region.destination, "big/data") >= IN_PROGRESS or None,
        timeout=60,
        every=0.1,
    )
    site.deployment.kill_worker(victim)
    assert manifest_digest(region.destination, "big/data", "1.0") is None  # caught mid-way

    assert site.deployment.wait_for_run("replicate_slow-a", run_id, timeout=300) == "success"

    tries = site.deployment.api.get(
        f"/api/v2/dags/replicate_slow-a/dagRuns/{run_id}/taskInstances/copy/0/tries"
    )["task_instances"]
    attempts = [(t["try_number"], t["hostname"], t["state"]) for t in tries]
    assert attempts == [(1, victim, "failed"), (2, survivor, "success")]
    instances = site.instances("slow-a", run_id)
    assert {ti["hostname"] for ti in instances} <= ON_QUEUE["a"]
    assert manifest_digest(region.destination, "big/data", "1.0") == image.digest
    for digest in image.blobs:  # served byte for byte as the source serves it
        served = [
            blob_sha256(end, "big/data", digest) for end in (region.source, region.destination)
        ]
        assert served == [digest, digest]


def running_copy(site: Site, run_id: str) -> dict[str, Any] | None:
    """The copy task instance once a worker runs it (its host known), else None."""
    for ti in site.instances("slow-a", run_id):
        if ti["task_id"] == "copy" and ti["state"] == "running" and ti["hostname"]:
            return ti
    return None


def uploading(registry: RunningRegistry, repository: str) -> int:
    """Bytes the registry has received into the repository's unfinished blob uploads."""
    uploads = registry.data_dir / "docker/registry/v2/repositories" / repository / "_uploads"
    return sum(path.stat().st_size for path in uploads.glob("*/data"))


def blob_sha256(registry: RunningRegistry, repository: str, digest: str) -> str:
    """The SHA-256 of the bytes the registry serves for a blob, as a digest string."""
    hashed = hashlib.sha256()
    with (
        registry.session() as session,
        session.get(
            f"{registry.url}/v2/{repository}/blobs/{digest}", stream=True, timeout=60
        ) as answer,
    ):
        answer.raise_for_status()
        for chunk in answer.iter_content(MIB):
            hashed.update(chunk)
    return f"sha256:{hashed.hexdigest()}"
