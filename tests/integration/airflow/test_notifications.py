"""Harbor's replication webhook: an ended execution told to the rule's ``notify`` connections.

Runs go through ``dag.test()``, which calls regrep's listener as the scheduler does; the
receiver is a local HTTP server (``tests.support.webhook_sink``) reached through a real
``http`` connection and the HTTP provider's ``HttpHook``. The scheduler's own path is tested
on a real deployment (``tests/integration/deployment/test_replication_api.py``).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from urllib.parse import quote

import pytest

from regrep.executions import notifications
from regrep.executions.notifications import EndedRun, deliver, replication_event
from regrep.executions.record import Execution, Outcome
from regrep.hooks.endpoint_info import EndpointInfo, without_credentials
from regrep.rules import Rule
from tests.integration.airflow.dagruns import Connect, WriteRule, run_dag
from tests.support.images import push_image
from tests.support.registries import RegistryPair
from tests.support.waiting import wait_for
from tests.support.webhook_sink import webhook_sink

pytestmark = pytest.mark.airflow

SECRET_HEADER = "Bearer receiver-s3cret"


def http_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, url: str) -> None:
    """An ``http`` connection whose extra carries a header, as Harbor's *Auth Header*."""
    document = {"conn_type": "http", "host": url, "extra": {"Authorization": SECRET_HEADER}}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(document))


def test_an_ended_execution_is_posted_to_the_rules_notify_connection(
    registry_pair: RegistryPair,
    connect: Connect,
    write_rule: WriteRule,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source, destination = registry_pair
    connect("src", source)
    connect("dst", destination)
    push_image(source, "apps/web", "1")
    with webhook_sink() as sink:
        http_connection(monkeypatch, "hooks", f"{sink.url}/harbor/events")
        write_rule(
            "announced",
            source="src",
            destination="dst",
            description="Mirror apps",
            notify=["hooks"],
            retries=0,
        )

        run = run_dag("replicate_announced")
        received = sink.wait_for(1, timeout=60)

    assert run.state == "success"
    assert len(received) == 1
    request = received[0]
    assert request.path == "/harbor/events"
    assert request.headers["Authorization"] == SECRET_HEADER
    assert request.headers["Content-Type"] == "application/json"
    event = request.body
    assert (event["type"], event["operator"]) == ("REPLICATION", "MANUAL")
    replication = event["event_data"]["replication"]
    assert replication["job_status"] == "Success"
    assert replication["trigger_type"] == "MANUAL"
    assert replication["description"] == "Mirror apps"
    assert replication["src_resource"] == {
        "registry_name": "src",
        "registry_type": "docker-registry",
        "endpoint": source.url,
    }
    assert replication["dest_resource"]["registry_name"] == "dst"
    assert replication["successful_artifact"] == [
        {"type": "artifact", "status": "Success", "name_tag": "apps/web:1"}
    ]
    assert replication["failed_artifact"] == []
    regrep = event["event_data"]["regrep"]
    assert (regrep["rule"], regrep["run_id"], regrep["state"]) == (
        "announced",
        run.run_id,
        "success",
    )
    assert regrep["counts"]["copied"] == 1
    assert regrep["total"] == 1
    assert regrep["bytes_copied"] > 0
    assert regrep["run_url"].endswith(f"/dags/replicate_announced/runs/{quote(run.run_id)}")
    assert event["occur_at"] >= replication["execution_timestamp"] > 0


def test_a_failing_receiver_is_tried_three_times_then_given_up(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with webhook_sink(statuses=[500, 500, 500]) as sink:
        http_connection(monkeypatch, "hooks", sink.url)
        delivered = deliver("hooks", sample_event())
        tries = sink.wait_for(3, timeout=5)

    assert delivered is False
    assert len(tries) == 3
    assert "notification of run manual__1 to hooks failed: 500:" in caplog.text
    assert "receiver-s3cret" not in caplog.text


def test_a_receiver_that_recovers_gets_the_event_on_a_later_try(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with webhook_sink(statuses=[503]) as sink:
        http_connection(monkeypatch, "hooks", sink.url)
        delivered = deliver("hooks", sample_event())
        tries = sink.wait_for(2, timeout=5)

    assert delivered is True
    assert [request.body for request in tries] == [sample_event(), sample_event()]


def test_only_http_connections_are_notified(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with webhook_sink() as sink:
        document = {"conn_type": "regrep_docker_registry", "host": sink.url}
        monkeypatch.setenv("AIRFLOW_CONN_REGISTRY", json.dumps(document))
        delivered = deliver("registry", sample_event())

        assert delivered is False
        assert sink.received == []
    assert "the connection's type is 'regrep_docker_registry', not 'http'" in caplog.text


def test_a_notification_that_cannot_be_delivered_changes_nothing_in_the_run(
    registry_pair: RegistryPair,
    connect: Connect,
    write_rule: WriteRule,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source, destination = registry_pair
    connect("src", source)
    connect("dst", destination)
    push_image(source, "apps/web", "1")
    monkeypatch.setattr(notifications, "FIRST_PAUSE_SECONDS", 0.1)
    http_connection(monkeypatch, "nobody", "http://127.0.0.1:9")  # nothing listens there
    write_rule("unheard", source="src", destination="dst", notify=["nobody"], retries=0)
    caplog.set_level(logging.INFO, logger=notifications.__name__)

    run = run_dag("replicate_unheard")

    assert run.state == "success"
    wait_for(
        "the notification to be given up",
        lambda: (
            ("notification of run" in caplog.text and "to nobody failed:" in caplog.text) or None
        ),
        timeout=30,
    )
    assert "notified nobody" not in caplog.text


def sample_event() -> dict[str, object]:
    return {"type": "REPLICATION", "event_data": {"regrep": {"run_id": "manual__1"}}}


def ended(state: str, outcomes: list[Outcome]) -> EndedRun:
    start = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    execution = Execution("replicate_m", "scheduled__1", state, "success", True, 5, 1, outcomes)
    end = datetime(2026, 1, 2, 3, 5, 5, tzinfo=UTC)
    return EndedRun("replicate_m", "scheduled__1", state, "scheduled", start, end, execution)


def test_the_event_says_how_the_execution_ended() -> None:
    rule = Rule.model_validate(
        {
            "name": "m",
            "source": "src",
            "destination": "dst",
            "destination_namespace": "mirror",
            "filters": {"resource": "image"},
            "override": False,
        }
    )
    source = EndpointInfo("src", "regrep_harbor", "https://harbor.example.com")
    destination = EndpointInfo("dst", "regrep_aws_ecr", "https://1.dkr.ecr.eu-west-1.amazonaws.com")
    copied = Outcome("a:1", "copy", "copied", "copied a:1", {"bytes_copied": 10})
    failed = Outcome("b:1", "copy", "failed", "registry answered 500")
    stopped = Outcome("c:1", "copy", "stopped", "stopped before it finished")

    event = replication_event(
        rule, ended("failed", [copied, failed]), source, destination, "https://af.example.com/"
    )

    assert event["occur_at"] == int(datetime(2026, 1, 2, 3, 5, 5, tzinfo=UTC).timestamp())
    replication = event["event_data"]["replication"]
    assert replication["job_status"] == "Error"
    assert replication["trigger_type"] == event["operator"] == "SCHEDULED"
    assert replication["harbor_hostname"] == "af.example.com"
    assert replication["override_mode"] is False
    assert replication["src_resource"]["registry_type"] == "harbor"
    assert replication["dest_resource"] == {
        "registry_name": "dst",
        "registry_type": "aws-ecr",
        "endpoint": "https://1.dkr.ecr.eu-west-1.amazonaws.com",
        "namespace": "mirror",
    }
    assert replication["failed_artifact"] == [
        {
            "type": "image",
            "status": "Error",
            "name_tag": "b:1",
            "fail_reason": "registry answered 500",
        }
    ]
    regrep = event["event_data"]["regrep"]
    assert regrep["counts"]["unchanged"] == 1
    assert regrep["total"] == 3
    assert regrep["bytes_copied"] == 10
    assert regrep["run_url"] == "https://af.example.com/dags/replicate_m/runs/scheduled__1"

    assert notifications.job_status(ended("failed", [copied, stopped]).execution) == "Stopped"
    assert notifications.job_status(ended("success", [copied]).execution) == "Success"


def test_artifact_lists_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(notifications, "LISTED_ARTIFACTS", 2)
    rule = Rule(name="m", source="src", destination="dst")
    outcomes = [Outcome(f"a:{i}", "copy", "copied", "") for i in range(5)]
    endpoint = EndpointInfo("src", "regrep_docker_registry", "http://r")

    event = replication_event(rule, ended("success", outcomes), endpoint, endpoint, "http://af/")

    assert len(event["event_data"]["replication"]["successful_artifact"]) == 2
    assert event["event_data"]["regrep"]["artifacts_left_out"] == 3


def test_endpoints_are_shown_without_credentials() -> None:
    assert without_credentials("https://robot:s3cret@harbor.example.com:8443/x") == (
        "https://harbor.example.com:8443/x"
    )
    assert without_credentials("http://registry:5000") == "http://registry:5000"
