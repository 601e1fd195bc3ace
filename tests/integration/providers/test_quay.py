"""The Quay provider against Quay emulated at the HTTP level.

Quay's API v1 repository listing (``next_page`` cursors) and its registry token flow are
emulated by ``tests.support.vendors.quay`` following Quay's API documentation; blob and
manifest traffic goes to a real ``docker-registry``.
"""

from __future__ import annotations

import secrets
from functools import partial

from regrep.hooks import registry_hook
from regrep.planning.planner import plan_replication
from regrep.registry.client import RegistryClient
from regrep.rules import Rule
from tests.integration.providers.checks import assert_masked, copy_through, emulated
from tests.integration.providers.conftest import Connect
from tests.support.images import push_image
from tests.support.registries import RegistryPair, RunningRegistry
from tests.support.vendors.quay import QuayEmulator

ROBOT, ROBOT_TOKEN = "acme+ci", secrets.token_urlsafe(16)
API_TOKEN = secrets.token_urlsafe(24)


quay = emulated(
    partial(
        QuayEmulator,
        users={ROBOT: ROBOT_TOKEN},
        api_tokens={API_TOKEN: "acme"},
        private={"acme/internal"},
        max_page_size=2,
    ),
    destination=True,
)


def _connect(connect: Connect, quay: QuayEmulator, **extra: object) -> None:
    connect("quay", "regrep_quay", quay.url, login=ROBOT, password=ROBOT_TOKEN, **extra)


def test_a_robot_lists_its_organisation_page_by_page(
    quay: QuayEmulator, registry: RunningRegistry, connect: Connect
) -> None:
    for name in ("api", "internal", "web"):
        push_image(quay.upstream, f"acme/{name}", "1")
    push_image(quay.upstream, "other/tool", "1")
    _connect(connect, quay, api_token=API_TOKEN)
    rule = Rule(name="quay", source="quay", destination="local")

    with (
        registry_hook("quay").get_client() as source,
        RegistryClient.connect(registry.url) as local,
    ):
        plan = plan_replication(rule, source, local)

    assert [r.label for r in plan.resources] == ["acme/api:1", "acme/internal:1", "acme/web:1"]
    listings = quay.server.calls("GET", r"/api/v1/repository")
    assert [c.query.get("next_page") is not None for c in listings] == [False, True]
    assert all(c.headers["Authorization"] == f"Bearer {API_TOKEN}" for c in listings)
    assert_masked(ROBOT_TOKEN, API_TOKEN)


def test_without_an_api_token_only_public_repositories_are_listed(
    quay: QuayEmulator, connect: Connect
) -> None:
    push_image(quay.upstream, "acme/api", "1")
    push_image(quay.upstream, "acme/internal", "1")
    _connect(connect, quay)

    with registry_hook("quay").get_client() as source:
        assert list(source.list_repositories(name_pattern="acme/*")) == ["acme/api"]


def test_a_robot_pushes_into_its_organisation(
    quay: QuayEmulator, registry_pair: RegistryPair, connect: Connect
) -> None:
    _connect(connect, quay)

    copy_through("quay", quay.upstream, registry_pair.source, "acme/mirror")
