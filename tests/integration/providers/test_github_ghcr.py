"""The GHCR provider against GitHub emulated at the HTTP level.

GitHub's packages REST API (``Link`` pagination) and ghcr.io's token flow and missing
catalog are emulated by ``tests.support.vendors.github_ghcr`` following GitHub's REST API
documentation; blob and manifest traffic goes to a real ``docker-registry``.
"""

from __future__ import annotations

import secrets
from functools import partial

from regrep.hooks import registry_hook
from regrep.rules import Filters, Rule
from tests.integration.providers.checks import (
    assert_masked,
    assert_pulled,
    copy_through,
    emulated,
    replicate,
)
from tests.integration.providers.conftest import Connect
from tests.support.images import push_image
from tests.support.registries import RegistryPair, RunningRegistry
from tests.support.vendors.github_ghcr import GhcrEmulator

PAT = secrets.token_urlsafe(20)


github = emulated(
    partial(GhcrEmulator, users={"octocat": PAT}, orgs={"acme": ["octocat"]}, max_page_size=2),
    destination=True,
)


def _connect(connect: Connect, github: GhcrEmulator, **extra: object) -> None:
    connect(
        "ghcr",
        "regrep_github_ghcr",
        github.registry.url,
        login="octocat",
        password=PAT,
        api_url=github.api.url,
        **extra,
    )


def test_an_organisations_packages_are_listed_through_the_api(
    github: GhcrEmulator, registry: RunningRegistry, connect: Connect
) -> None:
    images = [push_image(github.upstream, f"acme/{name}", "1") for name in ("api", "db", "web")]
    _connect(connect, github)
    rule = Rule(name="ghcr", source="ghcr", destination="local", filters=Filters(name="acme/**"))

    plan = replicate(rule, registry)

    assert [r.label for r in plan.resources] == ["acme/api:1", "acme/db:1", "acme/web:1"]
    assert_pulled(registry, images)
    listings = github.api.calls("GET", r"/orgs/acme/packages")
    assert [c.query.get("page", ["1"])[0] for c in listings] == ["1", "2"]
    assert all(c.headers["Authorization"] == f"Bearer {PAT}" for c in listings)
    assert not github.registry.calls(path=r"/v2/_catalog")
    assert_masked(PAT)


def test_a_user_is_listed_after_the_organisation_lookup_misses(
    github: GhcrEmulator, connect: Connect
) -> None:
    push_image(github.upstream, "octocat/tool", "1")
    _connect(connect, github)  # no owner in the pattern: the user itself

    with registry_hook("ghcr").get_client() as source:
        assert list(source.list_repositories()) == ["octocat/tool"]

    assert [c.status for c in github.api.calls()] == [404, 200]


def test_a_member_pushes_into_the_organisation(
    github: GhcrEmulator, registry_pair: RegistryPair, connect: Connect
) -> None:
    _connect(connect, github)

    copy_through("ghcr", github.upstream, registry_pair.source, "acme/mirror")
