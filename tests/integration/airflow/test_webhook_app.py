"""The webhook app's answers, in process against Airflow's connection lookup and database.

Recording asset events and the runs they start are tested on a real deployment
(``tests/integration/deployment/test_triggers_and_executions.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from regrep.plugin_app import app

pytestmark = [pytest.mark.airflow, pytest.mark.smoke]

SECRET = "s3cret-for-the-webhook"
PUSH = {
    "events": [
        {
            "action": "push",
            "target": {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "repository": "apps/web",
                "tag": "1.0",
                "digest": "sha256:" + "f" * 64,
            },
        }
    ]
}


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for conn_id, extra in (("hooked", {"webhook_secret": SECRET}), ("quiet", {})):
        document = {"conn_type": "regrep_docker_registry", "host": "http://r:5000", "extra": extra}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(document))
    with TestClient(app) as test_client:
        yield test_client


def test_the_sender_must_present_the_connection_secret(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    missing = client.post("/webhooks/hooked", json=PUSH)
    wrong = client.post("/webhooks/hooked", json=PUSH, headers={"Authorization": "guess"})

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert missing.json()["detail"] == (
        "send connection 'hooked''s webhook_secret as the Authorization header"
    )
    assert SECRET not in missing.text + wrong.text + caplog.text


def test_unknown_connections_and_connections_without_a_secret_take_no_webhooks(
    client: TestClient,
) -> None:
    unknown = client.post("/webhooks/nobody", json=PUSH, headers={"Authorization": SECRET})
    quiet = client.post("/webhooks/quiet", json=PUSH, headers={"Authorization": SECRET})

    assert (unknown.status_code, unknown.json()["detail"]) == (404, "no connection 'nobody'")
    assert quiet.status_code == 403
    assert "set its extra 'webhook_secret'" in quiet.json()["detail"]


def test_an_unreadable_body_is_a_bad_request(client: TestClient) -> None:
    headers = {"Authorization": SECRET}
    garbage = client.post("/webhooks/hooked", content=b"{oops", headers=headers)
    shapeless = client.post("/webhooks/hooked", json={"hello": "world"}, headers=headers)

    assert garbage.status_code == 400
    assert shapeless.status_code == 400
    assert "neither a distribution notification" in shapeless.json()["detail"]


def test_events_for_a_source_no_rule_listens_to_are_accepted_and_dropped(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    """distribution retries a refused delivery for ever, so a 200 it must be."""
    answer = client.post("/webhooks/hooked", json=PUSH, headers={"Authorization": SECRET})
    pulls = client.post(
        "/webhooks/hooked", json={"events": [{"action": "pull"}]}, headers={"Authorization": SECRET}
    )

    assert (answer.status_code, answer.json()) == (200, {"received": 1, "recorded": 0})
    assert (pulls.status_code, pulls.json()) == (200, {"received": 0, "recorded": 0})
    assert "no event-based rule replicates from it; ignored push apps/web:1.0" in caplog.text
