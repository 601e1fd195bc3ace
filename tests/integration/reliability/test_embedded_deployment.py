"""The embedded default under load: a real Airflow on SQLite with the demo's concurrency.

One deployment (API server, scheduler, DAG processor, triggerer; LocalExecutor) whose
metadata database is SQLite, with the task concurrency ``scripts/demo.py`` gives
``airflow standalone``. On it:

- the webhook endpoint refuses unauthenticated and malformed requests with 4xx and
  records nothing for them, then takes a burst of a few thousand push events from
  concurrent senders: every event is recorded exactly once as an asset event (counted
  through the REST API v2) and every resource they name is copied exactly once;
- SQLite loses no task result to "database is locked": every task of every run the burst
  started ends in success with its result recorded;
- nothing the REST API serves (task logs, XComs, runs, connections, asset events, the
  webhook's answers) contains a password, a bearer token or the webhook secret.
"""

from __future__ import annotations

import importlib.util
import json
import secrets
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from regrep.airflow_api import ApiError
from tests.integration.reliability.integrity import complete_digest
from tests.support.airflow_deployment import Deployment, start_deployment
from tests.support.images import OCI_MANIFEST, PushedImage, push_image
from tests.support.layout import REPO
from tests.support.registries import RunningRegistry, start_registry
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.airflow]

CONN_TYPE = "regrep_docker_registry"
RESOURCES = 8  # mapped copies of the run(s) the burst starts
EVENTS = 2000  # in envelopes of ENVELOPE events, from SENDERS concurrent senders
ENVELOPE = 10
SENDERS = 8


CONCURRENCY = ("AIRFLOW__CORE__PARALLELISM", "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG")


def demo_concurrency() -> dict[str, str]:
    """The concurrency settings ``scripts/demo.py`` runs ``airflow standalone`` with."""
    spec = importlib.util.spec_from_file_location("regrep_demo", REPO / "scripts" / "demo.py")
    assert spec is not None and spec.loader is not None
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    env: dict[str, str] = demo.airflow_env(8080)
    return {key: env[key] for key in CONCURRENCY}


@dataclass(frozen=True)
class Site:
    deployment: Deployment
    source: RunningRegistry
    destination: RunningRegistry
    destination_password: str
    webhook_secret: str
    images: dict[str, PushedImage]  # "repo:tag" -> what the source holds
    dag_id: str

    @property
    def webhook(self) -> str:
        return f"{self.deployment.url}/regrep/webhooks/src"

    def asset_events(self) -> list[dict[str, Any]]:
        """Every asset event of the source's asset, through the REST API v2."""
        assets = self.deployment.api.get("/api/v2/assets", uri_pattern="x-regrep://src")
        (asset_id,) = [asset["id"] for asset in assets["assets"]]
        events: list[dict[str, Any]] = []
        while True:
            page = self.deployment.api.get(
                "/api/v2/assets/events", asset_id=asset_id, limit=100, offset=len(events)
            )
            events += page["asset_events"]
            if not page["asset_events"] or len(events) >= page["total_entries"]:
                return events


@pytest.fixture(scope="module")
def site(registry_tools: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    workdir = tmp_path_factory.mktemp("embedded")
    rules = workdir / "rules"
    rules.mkdir()
    database = workdir / "airflow.db"
    webhook_secret = secrets.token_urlsafe(24)
    with (
        start_registry(workdir, auth="htpasswd", name="source") as source,
        start_registry(workdir, auth="token", name="destination") as destination,
    ):
        assert destination.issuer is not None and destination.password is not None
        images = {
            f"apps/svc{i}:1.0": push_image(source, f"apps/svc{i}", "1.0", layer_sizes=(2048,))
            for i in range(RESOURCES)
        }
        (rules / "events.yaml").write_text(
            json.dumps(
                {
                    "name": "events",
                    "source": "src",
                    "destination": "dst",
                    "trigger": {"type": "event_based"},
                    "retries": 1,
                    "retry_delay_minutes": 0,
                }
            )
        )
        deployment = start_deployment(
            workdir,
            executor="LocalExecutor",
            rules_dir=rules,
            extra_env={
                **demo_concurrency(),
                # The embedded default: SQLite instead of the harness's PostgreSQL.
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{database}",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": f"sqlite+aiosqlite:///{database}",
            },
        )
        try:
            for conn_id, registry, password, extra in (
                ("src", source, source.password, {"webhook_secret": webhook_secret}),
                ("dst", destination, destination.password, {}),
            ):
                deployment.api.post(
                    "/api/v2/connections",
                    {
                        "connection_id": conn_id,
                        "conn_type": CONN_TYPE,
                        "host": registry.url,
                        "login": registry.username,
                        "password": password,
                        "extra": json.dumps(extra),
                    },
                )
            deployment.wait_for_dag("replicate_events")
            yield Site(
                deployment,
                source,
                destination,
                destination.password,
                webhook_secret,
                images,
                "replicate_events",
            )
        finally:
            deployment.stop()


def envelope(site: Site, labels: list[str]) -> dict[str, Any]:
    """A distribution notification envelope of manifest push events."""
    events = []
    for label in labels:
        repository, tag = label.split(":")
        digest = site.images[label].digest
        events.append(
            {
                "id": secrets.token_hex(8),
                "action": "push",
                "target": {
                    "mediaType": OCI_MANIFEST,
                    "digest": digest,
                    "repository": repository,
                    "tag": tag,
                    "url": f"{site.source.url}/v2/{repository}/manifests/{digest}",
                },
            }
        )
    return {"events": events}


def test_the_webhook_refuses_bad_requests_with_4xx_and_records_nothing(site: Site) -> None:
    label = next(iter(site.images))
    good = envelope(site, [label])
    secret = site.webhook_secret
    attempts: list[tuple[str, dict[str, str], bytes]] = [
        ("no Authorization", {}, json.dumps(good).encode()),
        ("a wrong secret", {"Authorization": "not-the-secret"}, json.dumps(good).encode()),
        ("Bearer <secret>", {"Authorization": f"Bearer {secret}"}, json.dumps(good).encode()),
        ("not JSON", {"Authorization": secret}, b"{not json"),
        ("neither format", {"Authorization": secret}, b'{"hello": "world"}'),
        ("events not a list", {"Authorization": secret}, b'{"events": {"action": "push"}}'),
        (
            "a push without repository",
            {"Authorization": secret},
            json.dumps(
                {"events": [{"action": "push", "target": {"tag": "1", "url": "/v2/x/manifests/1"}}]}
            ).encode(),
        ),
    ]
    answers = {
        name: requests.post(site.webhook, data=body, headers=headers, timeout=30)
        for name, headers, body in attempts
    }
    unknown = requests.post(
        site.webhook.replace("/src", "/nowhere"),
        json=good,
        headers={"Authorization": secret},
        timeout=30,
    )

    statuses = {name: answer.status_code for name, answer in answers.items()}
    assert statuses == {
        "no Authorization": 401,
        "a wrong secret": 401,
        "Bearer <secret>": 401,
        "not JSON": 400,
        "neither format": 400,
        "events not a list": 400,
        "a push without repository": 400,
    }
    assert unknown.status_code == 404
    assert not any(secret in answer.text for answer in [*answers.values(), unknown])
    assert site.asset_events() == []
    assert site.deployment.api.get(f"/api/v2/dags/{site.dag_id}/dagRuns")["total_entries"] == 0


def test_a_burst_of_events_is_recorded_once_each_and_replicated_once(site: Site) -> None:
    labels = sorted(site.images)
    batches = [
        [labels[i % len(labels)] for i in range(start, start + ENVELOPE)]
        for start in range(0, EVENTS, ENVELOPE)
    ]
    statuses: Counter[int] = Counter()

    def deliver(batch: list[str]) -> None:
        """Send one envelope the way distribution does: again after a 5xx or a reset."""
        body = envelope(site, batch)
        for _ in range(10):
            try:
                answer = requests.post(
                    site.webhook,
                    json=body,
                    headers={"Authorization": site.webhook_secret},
                    timeout=60,
                )
            except requests.ConnectionError:
                statuses[0] += 1
                continue
            statuses[answer.status_code] += 1
            if answer.status_code < 500:
                assert answer.json() == {"received": len(batch), "recorded": len(batch)}
                return
        raise AssertionError(f"envelope never accepted: {statuses}")

    started = time.monotonic()
    with ThreadPoolExecutor(SENDERS) as senders:
        list(senders.map(deliver, batches))
    burst_seconds = time.monotonic() - started

    assert statuses[200] == len(batches), statuses
    recorded = Counter(
        f"{event['extra']['repository']}:{event['extra']['tag']}" for event in site.asset_events()
    )
    assert sum(recorded.values()) == EVENTS, f"{recorded} after {burst_seconds:.0f} s"
    assert recorded == Counter({label: EVENTS // len(labels) for label in labels})

    runs = wait_for(
        "the runs the burst started to end", lambda: settled(site), timeout=240, every=1
    )
    copies: Counter[str] = Counter()
    for run_id in runs:
        for ti in site.deployment.task_instances(site.dag_id, run_id):
            if ti["task_id"] == "copy" and ti["map_index"] < 0:
                # A run whose events were all replicated by an earlier run maps no copy.
                assert ti["state"] == "skipped", ti
                continue
            # SQLite at the demo's concurrency: no result lost to "database is locked".
            assert ti["state"] == "success", ti
            if ti["task_id"] == "copy" and ti["map_index"] >= 0:
                copies[ti["rendered_map_index"]] += 1
                assert xcom(site, run_id, "copy", ti["map_index"])["status"] == "copied"
        run = site.deployment.api.get(f"/api/v2/dags/{site.dag_id}/dagRuns/{run_id}")
        assert f"{'failed':<12} {0:>6}" in str(run["note"]).splitlines(), run["note"]
    assert copies == Counter(dict.fromkeys(labels, 1))  # each resource copied exactly once
    for label, image in site.images.items():
        repository, tag = label.split(":")
        assert complete_digest(site.destination, repository, tag) == image.digest


def test_the_rest_api_shows_no_secret(site: Site) -> None:
    api, dag_id = site.deployment.api, site.dag_id
    assert site.destination.issuer is not None
    served: list[str] = [
        json.dumps(api.get("/api/v2/connections")),
        json.dumps(api.get(f"/api/v2/dags/{dag_id}/dagRuns")),
        json.dumps(site.asset_events()[:100]),
    ]
    for run_id in settled(site) or []:
        for ti in site.deployment.task_instances(dag_id, run_id):
            if ti["state"] == "skipped":  # an empty copy map: no log, no result
                continue
            served.append(
                site.deployment.task_log(
                    dag_id, run_id, ti["task_id"], ti["map_index"], ti["try_number"]
                )
            )
            served.append(json.dumps(xcom(site, run_id, ti["task_id"], ti["map_index"])))
    text = "\n".join(served)
    assert "copied src/apps/svc0:1.0 to dst/apps/svc0:1.0" in text  # the logs are in there
    tokens = [r.token for r in site.destination.issuer.requests if r.user == "regrep"]
    assert tokens
    hidden = {
        "source password": site.source.password,
        "destination password": site.destination_password,
        "webhook secret": site.webhook_secret,
        **{f"bearer token {i}": token for i, token in enumerate(tokens)},
    }
    assert [name for name, value in hidden.items() if value and value in text] == []


def settled(site: Site) -> list[str] | None:
    """The rule's run ids once every run has ended and no asset event waits for another."""
    api = site.deployment.api
    runs = api.get(f"/api/v2/dags/{site.dag_id}/dagRuns")["dag_runs"]
    try:
        queued = api.get(f"/api/v2/dags/{site.dag_id}/assets/queuedEvents")["queued_events"]
    except ApiError as error:
        if error.status != 404:  # 404: nothing is queued
            raise
        queued = []
    if not runs or queued or any(run["state"] not in ("success", "failed") for run in runs):
        return None
    return [run["dag_run_id"] for run in runs]


def xcom(site: Site, run_id: str, task_id: str, map_index: int = -1) -> Any:
    path = (
        f"/api/v2/dags/{site.dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        "/xcomEntries/return_value"
    )
    return site.deployment.api.get(path, map_index=map_index, deserialize="true")["value"]
