"""The Docker Hub provider against Docker Hub emulated at the HTTP level.

The Docker Hub API (hub.docker.com), the token service (auth.docker.io) and the registry's
token flow and throttling (registry-1.docker.io) are emulated by
``tests.support.vendors.docker_hub`` following Docker's Hub API reference and the
distribution token spec; blob and manifest traffic goes to a real ``docker-registry``.
"""

from __future__ import annotations

import json
import secrets
import time
from functools import partial

import pytest

from regrep.engine.resource_copy import copy_resource
from regrep.hooks import ConnectionConfigError, registry_hook
from regrep.planning.planner import plan_replication
from regrep.registry.client import RegistryClient
from regrep.registry.errors import RateLimited
from regrep.rules import Filters, Rule
from regrep.tasks.rule_clients import rule_clients
from tests.integration.providers.checks import (
    assert_masked,
    assert_pulled,
    copy_into,
    copy_through,
    emulated,
    replicate,
)
from tests.integration.providers.conftest import Connect
from tests.support.images import push_image
from tests.support.registries import RegistryPair, RunningRegistry
from tests.support.vendors.docker_hub import DockerHubEmulator

TOKEN = secrets.token_urlsafe(16)


# Docker Hub over the pair's destination: alice owns her namespace and ``acme``.
hub = emulated(
    partial(
        DockerHubEmulator,
        users={"alice": TOKEN},
        owners={"acme": ["alice"]},
        private={"alice/secret"},
        max_page_size=2,
    ),
    destination=True,
)


def _connect(connect: Connect, hub: DockerHubEmulator, *, user: str | None = None) -> None:
    connect(
        "hub",
        "regrep_docker_hub",
        hub.registry.url,
        login=user,
        password=TOKEN if user else None,
        hub_api_url=hub.hub.url,
    )


@pytest.mark.parametrize(
    "host", ["", "https://hub.docker.com", "docker.io", "https://index.docker.io/"]
)
def test_docker_hub_names_mean_its_registry(host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "AIRFLOW_CONN_HUB", json.dumps({"conn_type": "regrep_docker_hub", "host": host})
    )

    client = registry_hook("hub").get_client()

    assert client.provider.name == "Docker Hub"
    assert client.url == "https://registry-1.docker.io"


def test_anonymous_pull_of_official_images_lists_through_the_hub_api(
    hub: DockerHubEmulator, registry: RunningRegistry, connect: Connect
) -> None:
    images = [
        push_image(hub.upstream, f"library/{name}", "1") for name in ("alpine", "busybox", "nginx")
    ]
    push_image(hub.upstream, "alice/secret", "1")
    _connect(connect, hub)
    rule = Rule(
        name="official", source="hub", destination="local", filters=Filters(name="library/*")
    )

    plan = replicate(rule, registry)

    assert [r.label for r in plan.resources] == [
        "library/alpine:1",
        "library/busybox:1",
        "library/nginx:1",
    ]
    assert_pulled(registry, images)
    # Two pages of repositories, following the body's "next"; anonymous all along.
    listings = hub.hub.calls("GET", r"/v2/namespaces/library/repositories")
    assert [c.query.get("page", ["1"])[0] for c in listings] == ["1", "2"]
    assert not hub.hub.calls("POST")
    assert all("Authorization" not in c.headers for c in hub.auth.calls())


def test_an_account_lists_its_own_namespace_with_a_hub_token(
    hub: DockerHubEmulator, registry: RunningRegistry, connect: Connect
) -> None:
    push_image(hub.upstream, "alice/app", "1.0")
    push_image(hub.upstream, "alice/secret", "2.0")
    push_image(hub.upstream, "acme/tool", "3.0")
    _connect(connect, hub, user="alice")
    rule = Rule(name="mine", source="hub", destination="local")

    with registry_hook("hub").get_client() as source, RegistryClient.connect(registry.url) as local:
        plan = plan_replication(rule, source, local)

    assert [r.label for r in plan.resources] == ["alice/app:1.0", "alice/secret:2.0"]
    (login,) = hub.hub.calls("POST", r"/v2/auth/token")
    assert json.loads(login.body) == {"identifier": "alice", "secret": TOKEN}
    assert_masked(TOKEN, hub.hub_tokens.issued()[0].value)


def test_listing_everything_anonymously_is_refused_clearly(
    hub: DockerHubEmulator, connect: Connect
) -> None:
    _connect(connect, hub)

    with (
        registry_hook("hub").get_client() as source,
        pytest.raises(ConnectionConfigError) as refused,
    ):
        list(source.list_repositories(name_pattern="**"))

    assert "Docker Hub cannot list all its repositories" in str(refused.value)
    assert "library/*" in str(refused.value)


def test_a_short_retry_after_is_waited_for(
    hub: DockerHubEmulator, registry_pair: RegistryPair, connect: Connect
) -> None:
    _connect(connect, hub, user="alice")
    hub.throttle(1, retry_after=1)
    started = time.monotonic()

    with registry_hook("hub").get_client() as destination:
        copy_into(destination, hub.upstream, registry_pair.source, "acme/app")

    assert time.monotonic() - started >= 1
    assert hub.registry.calls()[0].status == 429


def test_a_spent_pull_limit_is_left_to_airflow_retries(
    hub: DockerHubEmulator, registry: RunningRegistry, connect: Connect
) -> None:
    push_image(hub.upstream, "library/alpine", "1")
    _connect(connect, hub)
    hub.throttle(5, retry_after=None)

    with (
        registry_hook("hub").get_client() as source,
        RegistryClient.connect(registry.url) as local,
        pytest.raises(RateLimited) as limited,
    ):
        copy_resource(source, local, "library/alpine", "1", "library/alpine")

    assert "TOOMANYREQUESTS" in limited.value.message
    assert len(hub.registry.calls()) == 1  # no quick retries against a spent quota


def test_docker_hub_takes_pushes_from_an_account_only(
    hub: DockerHubEmulator, registry_pair: RegistryPair, connect: Connect
) -> None:
    _connect(connect, hub, user="alice")
    copy_through("hub", hub.upstream, registry_pair.source, "alice/app")

    _connect(connect, hub)  # anonymous
    rule = Rule(name="up", source="hub", destination="hub", destination_namespace="mirror")
    with pytest.raises(ConnectionConfigError) as refused, rule_clients(rule):
        pass

    assert str(refused.value) == (
        "rule 'up': connection 'hub' cannot be a replication destination: Docker Hub takes "
        "pushes only from an account: set the connection's login (a Docker ID) and password "
        "(an access token)"
    )


def test_a_list_of_namespaces_with_spaces_asks_for_each_namespace_trimmed(
    hub: DockerHubEmulator, registry: RunningRegistry, connect: Connect
) -> None:
    push_image(hub.upstream, "library/alpine", "1")
    push_image(hub.upstream, "acme/tool", "2")
    _connect(connect, hub)
    rule = Rule(
        name="some", source="hub", destination="local", filters=Filters(name="{library, acme}/*")
    )

    with registry_hook("hub").get_client() as source, RegistryClient.connect(registry.url) as local:
        plan = plan_replication(rule, source, local)

    assert [r.label for r in plan.resources] == ["acme/tool:2", "library/alpine:1"]
    asked = sorted({c.path for c in hub.hub.calls("GET", r"/v2/namespaces/[^/]+/repositories")})
    assert asked == ["/v2/namespaces/acme/repositories", "/v2/namespaces/library/repositories"]
