"""The registry hook against real registries, and regrep as an installed Airflow provider."""

from __future__ import annotations

import json
import socket

import pytest

from regrep.hooks import ConnectionConfigError, registry_hook
from regrep.hooks.docker_registry import DockerRegistryHook
from tests.integration.airflow.dagruns import Connect
from tests.support.registries import RunningRegistry

pytestmark = pytest.mark.airflow


@pytest.mark.smoke
def test_connection_succeeds_with_the_right_credentials(
    htpasswd_registry: RunningRegistry, connect: Connect
) -> None:
    connect("ok", htpasswd_registry)

    assert DockerRegistryHook("ok").test_connection() == (
        True,
        f"Connected to {htpasswd_registry.url} as 'alice'",
    )


@pytest.mark.smoke
def test_the_ui_test_button_reaches_the_hook(
    htpasswd_registry: RunningRegistry, connect: Connect
) -> None:
    from airflow.models.connection import Connection

    connect("ui", htpasswd_registry)  # the API server exports the form the same way
    button = Connection(conn_id="ui", conn_type="regrep_docker_registry")

    assert button.test_connection() == (True, f"Connected to {htpasswd_registry.url} as 'alice'")


def test_connection_reports_bad_credentials(
    htpasswd_registry: RunningRegistry, connect: Connect
) -> None:
    connect("wrong", htpasswd_registry, password="not-the-password")

    ok, message = DockerRegistryHook("wrong").test_connection()

    assert not ok
    assert message.startswith("bad credentials for endpoint wrong")


def test_connection_reports_an_unreachable_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    document = {"conn_type": "regrep_docker_registry", "host": f"http://127.0.0.1:{port}"}
    monkeypatch.setenv("AIRFLOW_CONN_GONE", json.dumps(document))

    ok, message = DockerRegistryHook("gone").test_connection()

    assert not ok
    assert message.startswith("cannot reach endpoint gone")


def test_tls_is_verified_against_the_ca_bundle_unless_verify_is_off(
    tls_registry: RunningRegistry, monkeypatch: pytest.MonkeyPatch, connect: Connect
) -> None:
    connect("trusted", tls_registry)  # ca_bundle = the registry's CA
    user, password = tls_registry.username, tls_registry.password
    # The URI form Airflow also accepts: scheme in the host, port apart, extras as strings.
    monkeypatch.setenv(
        "AIRFLOW_CONN_UNVERIFIED",
        f"regrep-docker-registry://https://{user}:{password}@{tls_registry.host}?verify=false",
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_UNTRUSTED",
        f"regrep-docker-registry://https://{user}:{password}@{tls_registry.host}",
    )

    assert DockerRegistryHook("trusted").test_connection()[0]
    assert DockerRegistryHook("unverified").test_connection()[0]
    ok, message = DockerRegistryHook("untrusted").test_connection()
    assert not ok
    assert message.startswith("TLS certificate problem with endpoint untrusted")


@pytest.mark.parametrize(
    ("document", "url"),
    [
        ({"host": "https://r.example:5000"}, "https://r.example:5000"),
        ({"host": "https://r.example/", "port": 5000}, "https://r.example:5000"),
        ({"host": "r.example", "schema": "http", "port": 5000}, "http://r.example:5000"),
    ],
)
def test_the_registry_url_comes_from_host_schema_and_port(
    document: dict[str, object], url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = {"conn_type": "regrep_docker_registry", "password": "s3cret-value", **document}
    monkeypatch.setenv("AIRFLOW_CONN_REG", json.dumps(document))

    client = registry_hook("reg").get_client()

    assert (client.url, client.name) == (url, "reg")


def test_a_url_without_scheme_is_refused_naming_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    document = {"conn_type": "regrep_docker_registry", "host": "r.example:5000"}
    monkeypatch.setenv("AIRFLOW_CONN_BARE", json.dumps(document))

    assert DockerRegistryHook("bare").test_connection() == (
        False,
        "connection 'bare': Registry URL 'r.example:5000' has no scheme; "
        "write it in full, e.g. https://r.example:5000",
    )


def test_registry_hook_refuses_other_and_missing_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AIRFLOW_CONN_WEB", json.dumps({"conn_type": "http", "host": "x"}))

    with pytest.raises(ConnectionConfigError, match=r"'web' has type 'http'.*regrep_docker"):
        registry_hook("web")
    with pytest.raises(ConnectionConfigError, match="'nowhere' is not defined"):
        registry_hook("nowhere")


@pytest.mark.smoke
def test_regrep_is_discovered_as_a_provider_with_its_connection_form() -> None:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    # How a worker finds the hook of a connection type.
    hook = ProvidersManagerTaskRuntime().hooks["regrep_docker_registry"]
    assert hook is not None
    assert (hook.hook_class_name, hook.hook_name) == (
        "regrep.hooks.docker_registry.DockerRegistryHook",
        "Docker Registry (regrep)",
    )
    # What the connection form of Airflow 3's UI is built from.
    (meta,) = [
        m for m in HookMetaService.hook_meta_data() if m.connection_type == "regrep_docker_registry"
    ]
    assert meta.standard_fields is not None
    assert meta.standard_fields.host is not None
    assert meta.standard_fields.host.title == "Registry URL"
    assert meta.standard_fields.login is not None
    assert meta.standard_fields.login.title == "Access ID"
    assert meta.standard_fields.password is not None
    assert meta.standard_fields.password.title == "Access Secret"
    assert meta.standard_fields.port is not None
    assert meta.standard_fields.port.hidden
    assert meta.extra_fields is not None
    verify = meta.extra_fields["verify"]
    assert (verify["value"], verify["schema"]["title"]) == (True, "Verify remote certificate")
    assert meta.extra_fields["ca_bundle"]["schema"]["title"] == "CA bundle"
