"""Issue 13: regrep's JSON API (``/regrep/api``) on a real Airflow deployment.

API server, scheduler, DAG processor and triggerer on PostgreSQL (LocalExecutor), real
registries, users of three roles (``tests.support.replication_site``); every request goes
through Airflow's API server as a user's would, authenticated by Airflow.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import pytest
import requests
import yaml

from tests.integration.deployment.conftest import STARTED
from tests.support.images import manifest_digest, push_image
from tests.support.registries import RunningRegistry
from tests.support.replication_site import (
    REFRESH_SECONDS,
    ReplicationSite,
    replication_site,
)
from tests.support.waiting import wait_for
from tests.support.webhook_sink import webhook_sink

pytestmark = [pytest.mark.slow, pytest.mark.airflow]


@pytest.fixture(scope="module")
def site(
    registry_tools: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReplicationSite]:
    with replication_site(tmp_path_factory.mktemp("airflow")) as started:
        yield started


@pytest.fixture(autouse=True)
def _report_deployment_logs(request: pytest.FixtureRequest, site: ReplicationSite) -> None:
    request.node.stash.setdefault(STARTED, []).append(site.deployment)


def exists(site: ReplicationSite, dag_id: str) -> bool:
    token = site.token()
    answer = requests.get(
        f"{site.url}/api/v2/dags/{dag_id}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    return answer.status_code == 200


ROUTES = [
    ("GET", "rules"),
    ("GET", "rules/any"),
    ("PUT", "rules/any"),
    ("DELETE", "rules/any"),
    ("POST", "rules/preview"),
    ("POST", "rules/any/run"),
    ("POST", "rules/any/enable"),
    ("POST", "rules/any/disable"),
    ("POST", "rules/any/executions/run/stop"),
    ("GET", "rules/any/executions"),
    ("GET", "rules/any/executions/run"),
    ("GET", "endpoints"),
    ("POST", "endpoints/any/test"),
]


def test_every_route_needs_an_airflow_token(site: ReplicationSite) -> None:
    anonymous = site.client(None)
    answers = {
        (method, path): anonymous.request(method, site.api(path), json={}, timeout=30).status_code
        for method, path in ROUTES
    }
    assert set(answers.values()) == {401}, answers
    forged = site.client(None)
    forged.headers["Authorization"] = "Bearer not-a-token"
    assert forged.get(site.api("rules"), timeout=30).status_code == 403  # Airflow's answer


def test_the_page_is_in_airflows_navigation_and_served_by_the_plugin(
    site: ReplicationSite,
) -> None:
    plugins = site.deployment.api.get("/api/v2/plugins")["plugins"]
    (regrep,) = [plugin for plugin in plugins if plugin["name"] == "regrep"]
    (view,) = regrep["external_views"]
    assert (view["name"], view["url_route"], view["destination"], view["href"]) == (
        "Replication",
        "replication",
        "nav",
        "/regrep/ui/",
    )
    assert [app["url_prefix"] for app in regrep["fastapi_apps"]] == ["/regrep"]
    page = requests.get(site.url + view["href"], timeout=30)
    assert page.status_code == 200
    assert '<script type="module" src="static/js/main.js">' in page.text
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    assert requests.get(f"{site.url}{view['icon']}", timeout=30).status_code == 200


def test_permissions_follow_airflows_roles(site: ReplicationSite) -> None:
    """Viewers read rules; editing, running, stopping need DAG edit; endpoints need
    connection read (Op and above in SimpleAuthManager)."""
    viewer, editor = site.client("viewer"), site.client("editor")
    rule = {"source": "src", "destination": "dst"}

    assert viewer.get(site.api("rules"), timeout=30).status_code == 200
    assert viewer.get(site.api("rules/nothing/executions"), timeout=30).status_code == 404
    refused = [
        viewer.put(site.api("rules/mine"), json=rule, timeout=30),
        viewer.delete(site.api("rules/mine"), timeout=30),
        viewer.post(site.api("rules/mine/run"), timeout=30),
        viewer.post(site.api("rules/mine/disable"), timeout=30),
        viewer.post(site.api("rules/mine/executions/r/stop"), timeout=30),
        viewer.post(site.api("rules/preview"), json={**rule, "name": "mine"}, timeout=30),
        viewer.get(site.api("endpoints"), timeout=30),
        editor.get(site.api("endpoints"), timeout=30),
        editor.post(site.api("endpoints/src/test"), timeout=30),
    ]
    assert [answer.status_code for answer in refused] == [403] * len(refused)
    # An editor may write rules: this one is refused for what it says, not who sends it.
    invalid = editor.put(site.api("rules/mine"), json={**rule, "retries": -1}, timeout=30)
    assert invalid.status_code == 422
    assert not (site.rules / "mine.yaml").exists()


def test_a_rule_is_created_previewed_run_read_and_deleted(
    site: ReplicationSite, registries: Callable[..., RunningRegistry]
) -> None:
    source, destination = registries("life-src"), registries("life-dst")
    push_image(source, "library/alpine", "1.0")
    push_image(source, "library/nginx", "1.0")
    push_image(source, "tools/jq", "1.0")  # outside the name filter
    push_image(destination, "mirror/alpine", "1.0", seed="library/alpine:1.0")  # in place
    site.connect("life_src", source)
    site.connect("life_dst", destination)
    admin = site.client()
    rule = {
        "name": "life",
        "description": "Mirror the library",
        "source": "life_src",
        "destination": "life_dst",
        "filters": {"name": "library/**"},
        "destination_namespace": "mirror",
        "retries": 0,
    }

    preview = admin.post(site.api("rules/preview"), json=rule, timeout=60).json()
    assert {item["source"]: item["status"] for item in preview["items"]} == {
        "library/alpine:1.0": "in_place",
        "library/nginx:1.0": "new",
    }
    assert manifest_digest(destination, "mirror/nginx", "1.0") is None  # nothing copied

    saved_at = time.monotonic()
    created = admin.put(site.api("rules/life"), json=rule, timeout=30)
    assert created.status_code == 201, created.text
    assert (created.json()["created"], created.json()["parse_requested"]) == (True, True)
    assert yaml.safe_load((site.rules / "life.yaml").read_text())["filters"] == {
        "name": "library/**"
    }
    wait_for("the rule's DAG", lambda: exists(site, "replicate_life") or None, timeout=60)
    assert time.monotonic() - saved_at < REFRESH_SECONDS / 4  # parsed at once, on request

    started = admin.post(site.api("rules/life/run"), timeout=30)
    assert started.status_code == 201, started.text
    run_id = started.json()["run_id"]
    assert site.deployment.wait_for_run("replicate_life", run_id, timeout=180) == "success"
    assert manifest_digest(destination, "mirror/nginx", "1.0") is not None

    rows = admin.get(site.api("rules/life/executions"), timeout=30).json()["executions"]
    assert [(row["run_id"], row["state"], row["trigger"]) for row in rows] == [
        (run_id, "success", "manual")
    ]
    assert (rows[0]["counts"]["copied"], rows[0]["counts"]["unchanged"], rows[0]["total"]) == (
        1,
        1,
        2,
    )
    assert rows[0]["triggered_by"] == "admin"
    assert rows[0]["duration_seconds"] > 0
    detail = admin.get(site.api(f"rules/life/executions/{run_id}"), timeout=30).json()
    (resource,) = detail["resources"]
    assert (resource["resource"], resource["status"], resource["map_index"]) == (
        "library/nginx:1.0",
        "copied",
        0,
    )
    assert resource["bytes"] > 0 and resource["seconds"] > 0
    assert resource["log_path"].endswith("/tasks/copy/mapped/0?try_number=1")
    listed = admin.get(site.api("rules"), timeout=30).json()["rules"]
    (entry,) = [e for e in listed if e["name"] == "life"]
    assert entry["last_execution"]["run_id"] == run_id
    assert entry["dag"] == {"exists": True, "is_paused": False}

    renamed = admin.put(site.api("rules/life"), json={**rule, "name": "other"}, timeout=30)
    assert renamed.status_code == 422
    assert renamed.json()["errors"][0]["field"] == "name"
    again = admin.put(site.api("rules/life"), json=rule, headers={"If-None-Match": "*"}, timeout=30)
    assert again.status_code == 412
    replaced = admin.put(site.api("rules/life"), json={**rule, "retries": 2}, timeout=30)
    assert (replaced.status_code, replaced.json()["created"]) == (200, False)

    disabled = admin.post(site.api("rules/life/disable"), timeout=30).json()
    assert disabled["rule"]["enabled"] is False
    assert disabled["dag"]["is_paused"] is True
    assert "enabled: false" in (site.rules / "life.yaml").read_text()
    assert admin.post(site.api("rules/life/run"), timeout=30).status_code == 409
    enabled = admin.post(site.api("rules/life/enable"), timeout=30).json()
    assert (enabled["rule"]["enabled"], enabled["dag"]["is_paused"]) == (True, False)

    deleted = admin.delete(site.api("rules/life"), timeout=60)
    assert deleted.status_code == 200, deleted.text
    assert not (site.rules / "life.yaml").exists()
    assert not exists(site, "replicate_life")
    assert admin.get(site.api("rules/life"), timeout=30).status_code == 404


def test_deletion_is_refused_while_an_execution_is_queued_and_a_stop_frees_it(
    site: ReplicationSite, registries: Callable[..., RunningRegistry]
) -> None:
    source = registries("busy-src")
    site.connect("busy_src", source)
    admin = site.client()
    rule = {"name": "busy", "source": "busy_src", "destination": "busy_src"}
    rule["destination_namespace"] = "copy"
    assert admin.put(site.api("rules/busy"), json=rule, timeout=30).status_code == 201
    wait_for("the rule's DAG", lambda: exists(site, "replicate_busy") or None, timeout=60)
    site.deployment.api.patch("/api/v2/dags/replicate_busy", {"is_paused": True})
    run_id = site.deployment.trigger("replicate_busy")  # stays queued: the DAG is paused

    refused = admin.delete(site.api("rules/busy"), timeout=30)

    assert refused.status_code == 409
    assert refused.json()["detail"]["run_ids"] == [run_id]
    assert run_id in refused.json()["detail"]["message"]
    assert (site.rules / "busy.yaml").exists()
    listed = admin.get(site.api("rules/busy"), timeout=30).json()
    assert listed["active_run_ids"] == [run_id]

    stopped = admin.post(site.api(f"rules/busy/executions/{run_id}/stop"), timeout=60)
    assert stopped.status_code == 200, stopped.text
    assert site.deployment.api.get(f"/api/v2/dags/replicate_busy/dagRuns/{run_id}")["state"] == (
        "failed"
    )
    again = admin.post(site.api(f"rules/busy/executions/{run_id}/stop"), timeout=30)
    assert again.status_code == 409  # already ended
    assert admin.delete(site.api("rules/busy"), timeout=60).status_code == 200


def test_an_invalid_rule_file_shows_as_invalid_and_can_be_fixed(site: ReplicationSite) -> None:
    admin = site.client()
    (site.rules / "broken.yaml").write_text("name: broken\nsource: s\ndestination: d\nretries: x\n")
    (site.rules / "notyaml.yaml").write_text("name: [\n")
    (site.rules / "fine.yaml").write_text("name: fine\nsource: s\ndestination: d\n")
    try:
        listed = {e["name"]: e for e in admin.get(site.api("rules"), timeout=30).json()["rules"]}

        assert listed["fine"]["valid"] is True
        assert listed["broken"]["valid"] is False
        assert listed["broken"]["problems"] == [
            "retries: Input should be a valid integer, unable to parse string as an integer "
            "(got 'x')"
        ]
        assert listed["broken"]["document"]["retries"] == "x"
        assert listed["notyaml"]["valid"] is False
        assert admin.get(site.api("rules/broken"), timeout=30).json()["valid"] is False

        fixed = admin.put(
            site.api("rules/broken"),
            json={"name": "broken", "source": "s", "destination": "d", "retries": 1},
            timeout=30,
        )
        assert (fixed.status_code, fixed.json()["valid"], fixed.json()["file"]) == (
            200,
            True,
            "broken.yaml",
        )
        removed = admin.delete(site.api("rules/notyaml"), timeout=60)
        assert (removed.status_code, removed.json()["file"]) == (200, "notyaml.yaml")
        assert not (site.rules / "notyaml.yaml").exists()
    finally:
        for name in ("broken", "notyaml", "fine"):
            (site.rules / f"{name}.yaml").unlink(missing_ok=True)


def test_cookie_authenticated_changes_need_the_pages_header_from_this_origin(
    site: ReplicationSite,
) -> None:
    """The UI's session cookie is sent with any request to the server, also one forged by
    another site: a change needs ``X-Regrep-Request`` and this server's ``Origin``."""
    browser = requests.Session()
    browser.cookies.set("_token", site.token("admin"))
    rule = {"name": "cookie", "source": "s", "destination": "d"}
    url = site.api("rules/cookie")

    assert browser.get(site.api("rules"), timeout=30).status_code == 200
    without_header = browser.put(url, json=rule, timeout=30)
    foreign = browser.put(
        url,
        json=rule,
        headers={"X-Regrep-Request": "1", "Origin": "https://evil.example"},
        timeout=30,
    )
    no_origin = browser.put(url, json=rule, headers={"X-Regrep-Request": "1"}, timeout=30)
    assert [r.status_code for r in (without_header, foreign, no_origin)] == [403, 403, 403]
    assert "X-Regrep-Request" in without_header.json()["detail"]
    assert not (site.rules / "cookie.yaml").exists()

    same_origin = browser.put(
        url, json=rule, headers={"X-Regrep-Request": "1", "Origin": site.url}, timeout=30
    )
    assert same_origin.status_code == 201, same_origin.text
    deleted = browser.delete(
        url, headers={"X-Regrep-Request": "1", "Referer": f"{site.url}/x"}, timeout=60
    )
    assert deleted.status_code == 200, deleted.text


def test_endpoints_are_listed_without_secrets_and_tested(
    site: ReplicationSite, registries: Callable[..., RunningRegistry]
) -> None:
    registry = registries("ep", auth="htpasswd", users={"alice": "alices-s3cret-password"})
    site.deployment.api.post(
        "/api/v2/connections",
        {
            "connection_id": "ep_reg",
            "conn_type": "regrep_docker_registry",
            "host": registry.url,
            "login": "alice",
            "password": "alices-s3cret-password",
            "extra": json.dumps({"webhook_secret": "hook-s3cret"}),
        },
    )
    site.connect("ep_down", "http://127.0.0.1:9")
    site.deployment.create_connection("ep_hook", "http", "http://127.0.0.1:9/hook")
    admin = site.client()

    listing = admin.get(site.api("endpoints"), timeout=30)

    assert "s3cret" not in listing.text
    endpoints = {e["conn_id"]: e for e in listing.json()["endpoints"]}
    assert endpoints["ep_reg"] == {
        "conn_id": "ep_reg",
        "conn_type": "regrep_docker_registry",
        "type": "Docker Registry",
        "url": registry.url,
        "description": "",
        "defined_in": "database",
    }
    assert "ep_hook" in [c["conn_id"] for c in listing.json()["http_connections"]]
    ok = admin.post(site.api("endpoints/ep_reg/test"), timeout=60).json()
    assert (ok["ok"], ok["message"]) == (True, f"Connected to {registry.url} as 'alice'")
    down = admin.post(site.api("endpoints/ep_down/test"), timeout=60).json()
    assert down["ok"] is False
    assert "s3cret" not in json.dumps(down)


def test_the_end_of_an_execution_is_announced_to_the_rules_notify_connection(
    site: ReplicationSite, registries: Callable[..., RunningRegistry]
) -> None:
    source, destination = registries("note-src"), registries("note-dst")
    push_image(source, "apps/web", "1")
    site.connect("note_src", source)
    site.connect("note_dst", destination)
    admin = site.client()
    with webhook_sink() as sink:
        site.deployment.create_connection("note_hook", "http", f"{sink.url}/replication")
        rule = {
            "name": "noted",
            "source": "note_src",
            "destination": "note_dst",
            "notify": ["note_hook"],
        }
        assert admin.put(site.api("rules/noted"), json=rule, timeout=30).status_code == 201
        wait_for("the rule's DAG", lambda: exists(site, "replicate_noted") or None, timeout=60)
        run_id = admin.post(site.api("rules/noted/run"), timeout=30).json()["run_id"]
        assert site.deployment.wait_for_run("replicate_noted", run_id, timeout=180) == "success"

        (received,) = sink.wait_for(1, timeout=60)

    event = received.body
    assert received.path == "/replication"
    assert event["type"] == "REPLICATION"
    assert event["event_data"]["replication"]["job_status"] == "Success"
    assert event["event_data"]["replication"]["successful_artifact"][0]["name_tag"] == "apps/web:1"
    assert event["event_data"]["regrep"]["run_id"] == run_id
    assert event["event_data"]["regrep"]["counts"]["copied"] == 1
    assert admin.delete(site.api("rules/noted"), timeout=60).status_code == 200
