"""Issue 4 end to end: triggers, events and the execution record on a real Airflow (and
issue 14's ``worker_queue``, which the LocalExecutor ignores).

One LocalExecutor deployment on the machine's PostgreSQL (API server, scheduler, DAG
processor, triggerer) serves every test of this module; each test brings its own registries,
connections (created through the REST API) and rule file, and drives Airflow only as users
do: the REST API v2, registry webhooks and the ``regrep`` command.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.integration.deployment.conftest import STARTED
from tests.support.airflow_deployment import Deployment, start_deployment
from tests.support.images import delete_manifest, manifest_digest, push_image
from tests.support.registries import RunningRegistry, start_registry
from tests.support.throttle import throttled
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

REGREP = Path(sys.executable).with_name("regrep")
CONN_TYPE = "regrep_docker_registry"


@dataclass(frozen=True)
class Site:
    """The shared deployment and the rules directory its DAG file reads."""

    deployment: Deployment
    rules: Path

    def add_rule(self, name: str, **fields: Any) -> str:
        """Write a rule file, wait for its DAG, return the DAG id."""
        (self.rules / f"{name}.yaml").write_text(yaml.safe_dump({"name": name, **fields}))
        dag_id = f"replicate_{name}"
        self.deployment.wait_for_dag(dag_id)
        return dag_id

    def regrep(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the ``regrep`` command against this deployment, as a user would."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "REGREP_"))}
        env.update(self.deployment.client_env(), REGREP_RULES_DIR=str(self.rules))
        return subprocess.run(
            [str(REGREP), *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self.deployment.api.get(f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"))

    def copies(self, dag_id: str, run_id: str) -> dict[str, str]:
        """``label -> state`` of the run's copy task instances."""
        return {
            str(ti["rendered_map_index"]): str(ti["state"])
            for ti in self.deployment.task_instances(dag_id, run_id)
            if ti["task_id"] == "copy" and ti["map_index"] >= 0
        }

    def wait_killed(self, dag_id: str, run_id: str, map_index: int) -> None:
        """Wait until a stopped copy's log says Airflow ended its process."""

        def killed() -> bool | None:
            log = self.deployment.task_log(dag_id, run_id, "copy", map_index)
            return "Task killed!" in log or None

        wait_for(f"copy {map_index} of {run_id} to be killed", killed, timeout=30)

    def asset_runs(self, dag_id: str) -> list[dict[str, Any]]:
        """The rule's runs started by asset events, oldest first."""
        runs = self.deployment.api.get(
            f"/api/v2/dags/{dag_id}/dagRuns", run_type="asset_triggered", order_by="run_after"
        )["dag_runs"]
        return list(runs)


@pytest.fixture(scope="module")
def site(registry_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One deployment for the module, in Airflow's layout of the repository."""
    workdir = tmp_path_factory.mktemp("airflow")
    rules = workdir / "rules"
    rules.mkdir()
    deployment = start_deployment(
        workdir,
        executor="LocalExecutor",
        rules_dir=rules,
        extra_env={
            # A task learns it was stopped at its next heartbeat: 1 s, not 5, so stopped
            # copies end before the next test (or the deployment's shutdown) waits on them.
            "AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL": "1",
        },
    )
    try:
        yield Site(deployment, rules)
    finally:
        deployment.stop()


@pytest.fixture(autouse=True)
def _report_deployment_logs(request: pytest.FixtureRequest, site: Site) -> None:
    """A failing test's report gets the shared deployment's log tails (see the conftest)."""
    request.node.stash.setdefault(STARTED, []).append(site.deployment)


def test_manual_rule_runs_when_triggered_and_records_its_execution(
    site: Site, registries: Callable[..., RunningRegistry]
) -> None:
    source, destination = registries("man-src"), registries("man-dst")
    images = [push_image(source, "apps/web", "1.0"), push_image(source, "apps/api", "2.0")]
    site.deployment.create_connection("man_src", CONN_TYPE, source.url)
    site.deployment.create_connection("man_dst", CONN_TYPE, destination.url)
    dag_id = site.add_rule("manual", source="man_src", destination="man_dst", retries=0)

    dag = site.deployment.api.get(f"/api/v2/dags/{dag_id}/details")
    assert (dag["timetable_summary"], dag["max_active_runs"], dag["catchup"]) == (None, 1, False)
    run_id = site.deployment.trigger(dag_id)
    assert site.deployment.wait_for_run(dag_id, run_id, timeout=120) == "success"

    for image in images:
        assert manifest_digest(destination, image.repository, image.reference) == image.digest
    shown = site.regrep("executions", "show", "manual")  # the latest run
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"{dag_id} {run_id}: success"
    assert "copied            2" in lines
    assert "in progress       0" in lines
    assert any(line.startswith("copied       apps/web:1.0: copied") for line in lines)
    log = site.deployment.task_log(dag_id, run_id, "copy", map_index=1)  # apps/web:1.0
    assert "copying man_src/apps/web:1.0 to man_dst/apps/web:1.0" in log
    assert "copied blob sha256:" in log
    assert f"pushed {images[0].digest}" in log
    note = site.run(dag_id, run_id)["note"]  # written by regrep's listener, shown in the UI
    assert note == shown.stdout.rstrip("\n")
    assert site.regrep("executions", "show", "manual", run_id).stdout == shown.stdout


def test_the_local_executor_ignores_a_rules_worker_queue(
    site: Site, registries: Callable[..., RunningRegistry]
) -> None:
    """LocalExecutor has no queues: the tasks carry the rule's queue, which no worker
    consumes here, and run all the same."""
    source, destination = registries("queue-src"), registries("queue-dst")
    image = push_image(source, "apps/web", "1.0")
    site.deployment.create_connection("queue_src", CONN_TYPE, source.url)
    site.deployment.create_connection("queue_dst", CONN_TYPE, destination.url)
    dag_id = site.add_rule(
        "queued", source="queue_src", destination="queue_dst", worker_queue="eu-west", retries=0
    )

    run_id = site.deployment.trigger(dag_id)

    assert site.deployment.wait_for_run(dag_id, run_id, timeout=120) == "success"
    instances = site.deployment.task_instances(dag_id, run_id)
    assert {(ti["task_id"], ti["queue"]) for ti in instances} == {
        ("plan", "eu-west"),
        ("copy", "eu-west"),
    }
    assert manifest_digest(destination, "apps/web", "1.0") == image.digest


@dataclass(frozen=True)
class EventSource:
    """A source registry that reports its pushes to the deployment's webhook, its rule and
    the destination."""

    source: RunningRegistry
    destination: RunningRegistry
    conn_id: str
    secret: str
    dag_id: str
    webhook: str


@pytest.fixture(scope="module")
def event_source(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Iterator[EventSource]:
    """An event-based rule with ``replicate_deletion`` whose source is a real registry
    configured (distribution ``notifications``) to call the webhook with the secret."""
    conn_id, secret = "ev_src", secrets.token_urlsafe(16)
    webhook = f"{site.deployment.url}/regrep/webhooks/{conn_id}"
    notifications = {
        "endpoints": [
            {
                "name": "regrep",
                "url": webhook,
                "headers": {"Authorization": [secret]},
                "timeout": "1s",
                "threshold": 5,
                "backoff": "1s",
            }
        ]
    }
    workdir = tmp_path_factory.mktemp("events")
    with (
        start_registry(
            workdir, name="ev-src", extra_config={"notifications": notifications}
        ) as src,
        start_registry(workdir, name="ev-dst") as dst,
    ):
        site.deployment.create_connection(conn_id, CONN_TYPE, src.url, {"webhook_secret": secret})
        site.deployment.create_connection("ev_dst", CONN_TYPE, dst.url)
        # Pushed before any rule listens: the webhook answers 200 and records nothing.
        push_image(src, "apps/old", "1")
        dag_id = site.add_rule(
            "events",
            source=conn_id,
            destination="ev_dst",
            filters={"name": "apps/**"},
            trigger={"type": "event_based"},
            replicate_deletion=True,
            retries=0,
        )
        yield EventSource(src, dst, conn_id, secret, dag_id, webhook)


def test_the_webhook_records_nothing_without_the_secret(
    site: Site, event_source: EventSource
) -> None:
    envelope = {
        "events": [
            {
                "action": "push",
                "target": {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "repository": "apps/ghost",
                    "tag": "1",
                    "url": f"{event_source.source.url}/v2/apps/ghost/manifests/1",
                },
            }
        ]
    }
    url = event_source.webhook
    answers = [
        requests.post(url, json=envelope, timeout=10),
        requests.post(url, json=envelope, headers={"Authorization": "wrong"}, timeout=10),
        requests.post(
            url,
            json=envelope,
            headers={"Authorization": f"Bearer {event_source.secret}"},
            timeout=10,
        ),
    ]
    assert [answer.status_code for answer in answers] == [401, 401, 401]
    assert all(event_source.secret not in answer.text for answer in answers)
    unknown = url.replace(event_source.conn_id, "no_such_conn")
    assert requests.post(unknown, json=envelope, timeout=10).status_code == 404
    garbled = requests.post(
        url, data=b"{not json", headers={"Authorization": event_source.secret}, timeout=10
    )
    assert garbled.status_code == 400

    asset = site.deployment.api.get(
        "/api/v2/assets", uri_pattern=f"x-regrep://{event_source.conn_id}"
    )
    (asset_id,) = [a["id"] for a in asset["assets"]]
    events = site.deployment.api.get("/api/v2/assets/events", asset_id=asset_id)
    assert not [e for e in events["asset_events"] if e["extra"].get("repository") == "apps/ghost"]


def test_a_push_to_the_source_replicates_at_once_and_so_does_a_deletion(
    site: Site, event_source: EventSource
) -> None:
    source, destination, dag_id = event_source.source, event_source.destination, event_source.dag_id
    pushed = push_image(source, "apps/web", "1.0")
    push_image(source, "other/tool", "1.0")  # outside the rule's name filter

    wait_for(
        "the pushed image at the destination",
        lambda: manifest_digest(destination, "apps/web", "1.0") == pushed.digest or None,
    )
    first = wait_for("the asset-triggered run", lambda: site.asset_runs(dag_id) or None)[0]
    run_id = first["dag_run_id"]
    assert site.deployment.wait_for_run(dag_id, run_id, timeout=60) == "success"
    # Only what the events named was planned: not apps/old, pushed before the rule existed.
    assert site.copies(dag_id, run_id) == {"apps/web:1.0": "success"}
    assert manifest_digest(destination, "apps/old", "1") is None
    assert manifest_digest(destination, "other/tool", "1.0") is None
    upstream = site.deployment.api.get(
        f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/upstreamAssetEvents"
    )["asset_events"]
    assert {"action": "push", "repository": "apps/web", "tag": "1.0", "digest": pushed.digest} in [
        event["extra"] for event in upstream
    ]

    delete_manifest(source, "apps/web", pushed.digest)

    wait_for(
        "the deletion at the destination",
        lambda: manifest_digest(destination, "apps/web", "1.0") is None or None,
    )
    deleting = site.asset_runs(dag_id)[-1]["dag_run_id"]  # the delete event was the last
    assert site.deployment.wait_for_run(dag_id, deleting, timeout=60) == "success"
    shown = site.regrep("executions", "show", "events", deleting)
    assert shown.returncode == 0, shown.stderr
    assert "deleted           1" in shown.stdout.splitlines()
    assert f"deleted      apps/web@{pushed.digest}: deleted" in shown.stdout


def test_an_asset_event_posted_to_the_rest_api_replicates_what_it_names(
    site: Site, registries: Callable[..., RunningRegistry]
) -> None:
    source, destination = registries("api-src"), registries("api-dst")
    wanted = push_image(source, "apps/a", "1")
    push_image(source, "apps/b", "1")
    site.deployment.create_connection("api_src", CONN_TYPE, source.url)
    site.deployment.create_connection("api_dst", CONN_TYPE, destination.url)
    dag_id = site.add_rule(
        "api-events", source="api_src", destination="api_dst", trigger={"type": "event_based"}
    )
    assets = site.deployment.api.get("/api/v2/assets", uri_pattern="x-regrep://api_src")
    (asset_id,) = [asset["id"] for asset in assets["assets"]]

    site.deployment.api.post(
        "/api/v2/assets/events",
        {"asset_id": asset_id, "extra": {"repository": "apps/a", "tag": "1"}},
    )

    run = wait_for("the asset-triggered run", lambda: site.asset_runs(dag_id) or None)[0]
    assert site.deployment.wait_for_run(dag_id, run["dag_run_id"], timeout=90) == "success"
    assert manifest_digest(destination, "apps/a", "1") == wanted.digest
    assert manifest_digest(destination, "apps/b", "1") is None


def test_one_execution_at_a_time_stops_keep_finished_copies_and_guard_deletion(
    site: Site, registries: Callable[..., RunningRegistry]
) -> None:
    """Stopped with ``regrep executions stop`` and with the UI's *Mark as failed* (the REST
    PATCH of the run's state), an execution still says which resources were copied."""
    source, destination = registries("slow-src"), registries("slow-dst")
    push_image(source, "apps/small", "1", layer_sizes=(512,))
    for name in ("apps/big-a", "apps/big-b"):
        push_image(source, name, "1", layer_sizes=(6 * 1024 * 1024,))
    with throttled(source, bytes_per_second=320 * 1024) as slow_url:  # ~20 s per big copy
        site.deployment.create_connection("slow_src", CONN_TYPE, slow_url)
        site.deployment.create_connection("slow_dst", CONN_TYPE, destination.url)
        dag_id = site.add_rule("slow", source="slow_src", destination="slow_dst", retries=0)

        first = site.deployment.trigger(dag_id)
        second = site.deployment.trigger(dag_id)
        copying = {"apps/small:1": "success", "apps/big-a:1": "running", "apps/big-b:1": "running"}
        wait_for(
            "the first run's small copy to finish",
            lambda: site.copies(dag_id, first) == copying or None,
        )
        assert site.run(dag_id, second)["state"] == "queued"  # Harbor's single active execution

        refused = site.regrep("rules", "delete", "slow")
        assert refused.returncode == 1
        assert f"execution(s) in progress: {first}, {second}" in refused.stderr
        assert (site.rules / "slow.yaml").exists()

        during = site.regrep("executions", "show", "slow", first).stdout.splitlines()
        assert ("copied            1" in during, "in progress       2" in during) == (True, True)

        push_image(source, "apps/small", "2", layer_sizes=(512,))  # new work for the second run
        stopped = site.regrep("executions", "stop", "slow", first)

        assert stopped.returncode == 0, stopped.stderr
        assert site.run(dag_id, first)["state"] == "failed"
        assert site.copies(dag_id, first) == {  # the finished copy stays succeeded
            "apps/small:1": "success",
            "apps/big-a:1": "failed",
            "apps/big-b:1": "failed",
        }
        lines = stopped.stdout.splitlines()
        assert ("copied            1" in lines, "stopped           2" in lines) == (True, True)
        assert any(line.startswith("stopped      apps/big-a:1: stopped") for line in lines)
        assert "copied            1" in site.run(dag_id, first)["note"].splitlines()

        # The second run starts once the first has ended; it is stopped the UI's way.
        copying = {"apps/small:2": "success", "apps/big-a:1": "running", "apps/big-b:1": "running"}
        wait_for(
            "the second run's small copy to finish",
            lambda: site.copies(dag_id, second) == copying or None,
        )
        site.deployment.api.patch(f"/api/v2/dags/{dag_id}/dagRuns/{second}", {"state": "failed"})

        assert set(site.copies(dag_id, second).values()) == {"failed"}  # Airflow's own stop
        shown = site.regrep("executions", "show", "slow", second)
        lines = shown.stdout.splitlines()
        assert ("copied            1" in lines, "stopped           2" in lines) == (True, True)
        assert any(line.startswith("copied       apps/small:2: copied") for line in lines)
        assert site.run(dag_id, second)["note"] == shown.stdout.rstrip("\n")
        assert manifest_digest(destination, "apps/small", "2") is not None
        assert manifest_digest(destination, "apps/big-a", "1") is None

        for run_id in (first, second):  # stopped means the copies' processes were ended
            for index in (0, 1):  # apps/big-a:1, apps/big-b:1
                site.wait_killed(dag_id, run_id, index)

        deleted = site.regrep("rules", "delete", "slow")
        assert deleted.returncode == 0, deleted.stderr
        assert not (site.rules / "slow.yaml").exists()
        gone = site.deployment.api.get("/api/v2/dags", dag_id_pattern="slow")["dags"]
        assert [dag["dag_id"] for dag in gone] == []
