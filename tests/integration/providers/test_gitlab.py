"""The GitLab provider against GitLab emulated at the HTTP level.

GitLab's REST API v4 (projects, registry repositories and tags, ``Link`` pagination) and
its JWT token service are emulated by ``tests.support.vendors.gitlab`` following GitLab's
API documentation, on two hosts as on gitlab.com; blob and manifest traffic goes to a
real ``docker-registry``.
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
from tests.support.vendors.gitlab import GitlabEmulator

TOKEN = secrets.token_urlsafe(20)


gitlab = emulated(
    partial(
        GitlabEmulator,
        users={"dev": TOKEN},
        projects={7: "group/app", 8: "group/tools", 9: "other/secret"},
        members={"dev": {7, 8}},
        max_page_size=2,
    ),
    destination=True,
)


def test_repositories_and_tags_come_from_the_api_found_through_the_token_realm(
    gitlab: GitlabEmulator, registry: RunningRegistry, connect: Connect
) -> None:
    images = [
        push_image(gitlab.upstream, "group/app", "1.0"),
        push_image(gitlab.upstream, "group/app", "2.0"),
        push_image(gitlab.upstream, "group/app", "3.0"),
        push_image(gitlab.upstream, "group/app/worker", "1.0"),
        push_image(gitlab.upstream, "group/tools/lint", "3"),
    ]
    push_image(gitlab.upstream, "other/secret", "1")
    connect("gitlab", "regrep_gitlab", gitlab.registry.url, login="dev", password=TOKEN)
    rule = Rule(name="gitlab", source="gitlab", destination="local")

    plan = replicate(rule, registry)

    assert [r.label for r in plan.resources] == [
        "group/app:1.0",
        "group/app:2.0",
        "group/app:3.0",
        "group/app/worker:1.0",
        "group/tools/lint:3",
    ]
    assert_pulled(registry, images)
    api = gitlab.gitlab.calls("GET", r"/api/v4/.*")
    assert all(c.headers["Authorization"] == f"Bearer {TOKEN}" for c in api)
    assert gitlab.gitlab.calls("GET", r"/api/v4/projects/7/registry/repositories/\d+/tags")
    # The app project's three tags came in two pages, each time they were listed (by the
    # plan, and by each copy for its referrer survey).
    pages = gitlab.gitlab.calls("GET", r"/api/v4/projects/7/registry/repositories/1/tags")
    numbers = [c.query.get("page", ["1"])[0] for c in pages]
    assert numbers and numbers == ["1", "2"] * (len(numbers) // 2)
    assert_masked(TOKEN)


def test_configured_projects_and_a_push_into_one(
    gitlab: GitlabEmulator, registry_pair: RegistryPair, connect: Connect
) -> None:
    push_image(gitlab.upstream, "group/tools/lint", "3")
    connect(
        "gitlab",
        "regrep_gitlab",
        gitlab.registry.url,
        login="dev",
        password=TOKEN,
        api_url=gitlab.gitlab.url,
        projects="group/tools",
    )

    with registry_hook("gitlab").get_client() as client:
        assert list(client.list_repositories()) == ["group/tools/lint"]
        copy_into(client, gitlab.upstream, registry_pair.source, "group/tools/mirror")

    assert not gitlab.gitlab.calls("GET", r"/api/v4/projects")  # no membership listing
    assert gitlab.gitlab.calls("GET", r"/api/v4/projects/group%2Ftools/registry/repositories")
