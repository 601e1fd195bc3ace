"""The JFrog Artifactory provider against Artifactory emulated at the HTTP level.

Artifactory's repositories API and per-key Docker catalogs are emulated by
``tests.support.vendors.jfrog`` following the JFrog REST API; blob and manifest traffic
(``/v2/<key>/<image>``) goes to a real ``docker-registry``.
"""

from __future__ import annotations

import secrets
from functools import partial

from regrep.hooks import registry_hook
from regrep.rules import Rule
from tests.integration.providers.checks import (
    assert_masked,
    assert_pulled,
    copy_into,
    emulated,
    replicate,
)
from tests.integration.providers.conftest import Connect
from tests.support.images import push_image
from tests.support.registries import RegistryPair, RunningRegistry
from tests.support.vendors.jfrog import JfrogEmulator

PASSWORD = secrets.token_urlsafe(16)


artifactory = emulated(
    partial(
        JfrogEmulator,
        users={"deployer": PASSWORD},
        keys={"docker-local", "docker-dev"},
        max_page_size=2,
    ),
    destination=True,
)


def test_every_docker_repository_key_is_listed_through_its_catalog(
    artifactory: JfrogEmulator, registry: RunningRegistry, connect: Connect
) -> None:
    images = [
        push_image(artifactory.upstream, "docker-local/api", "1"),
        push_image(artifactory.upstream, "docker-local/team/web", "1"),
        push_image(artifactory.upstream, "docker-local/worker", "1"),
        push_image(artifactory.upstream, "docker-dev/tool", "1"),
    ]
    connect("jfrog", "regrep_jfrog", artifactory.url, login="deployer", password=PASSWORD)
    rule = Rule(name="jfrog", source="jfrog", destination="local")

    plan = replicate(rule, registry)

    assert [r.label for r in plan.resources] == [
        "docker-dev/tool:1",
        "docker-local/api:1",
        "docker-local/team/web:1",
        "docker-local/worker:1",
    ]
    assert_pulled(registry, images)
    catalog = artifactory.server.calls("GET", r"/artifactory/api/docker/docker-local/v2/_catalog")
    assert [c.query.get("last", [None])[0] for c in catalog if c.status == 200] == [
        None,
        "team/web",
    ]
    assert not artifactory.server.calls(path=r"/v2/_catalog")
    assert_masked(PASSWORD)


def test_keys_named_by_the_filter_and_a_push(
    artifactory: JfrogEmulator, registry_pair: RegistryPair, connect: Connect
) -> None:
    push_image(artifactory.upstream, "docker-dev/tool", "1")
    connect("jfrog", "regrep_jfrog", artifactory.url, login="deployer", password=PASSWORD)

    with registry_hook("jfrog").get_client() as client:
        assert list(client.list_repositories(name_pattern="docker-dev/*")) == ["docker-dev/tool"]
        copy_into(client, artifactory.upstream, registry_pair.source, "docker-local/mirror")

    assert not artifactory.server.calls("GET", r"/artifactory/api/repositories")
