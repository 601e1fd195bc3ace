"""The Harbor provider against Harbor emulated at the HTTP level.

Harbor's REST API v2.0 (projects, repositories, artifacts with labels, project creation,
systeminfo) and its token service are emulated by ``tests.support.vendors.harbor``
following the Harbor API v2.0 swagger; the ``/v2/`` registry traffic goes to a real
``docker-registry`` behind it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from regrep.engine.resource_copy import copy_resource
from regrep.hooks import registry_hook
from regrep.hooks.harbor import HarborHook
from regrep.planning.planner import plan_replication
from regrep.registry.client import RegistryClient
from regrep.registry.errors import Forbidden
from regrep.registry.exchange import Exchange
from regrep.rules import Filters, LabelFilter, Rule, TagFilter
from regrep.vendors.harbor_api import harbor_registry
from tests.integration.providers.checks import assert_masked, assert_pulled, copy_into, replicate
from tests.integration.providers.conftest import Connect
from tests.support.images import manifest_digest, push_image
from tests.support.registries import RegistryPair, RunningRegistry
from tests.support.vendors.harbor import HarborEmulator

USERS = {"alice": secrets.token_urlsafe(12), "bob": secrets.token_urlsafe(12)}


@pytest.fixture
def harbor(registry_pair: RegistryPair) -> Iterator[HarborEmulator]:
    """Harbor over the pair's destination; alice is an admin, bob an ordinary user."""
    with HarborEmulator(
        registry_pair.destination, users=USERS, admins={"alice"}, max_page_size=2
    ) as emulator:
        yield emulator


def _connect(connect: Connect, conn_id: str, harbor: HarborEmulator, user: str | None) -> None:
    connect(
        conn_id,
        "regrep_harbor",
        harbor.url,
        login=user,
        password=USERS[user] if user else None,
    )


def test_connection_accepts_harbor_2_and_refuses_harbor_1(
    registry: RunningRegistry, connect: Connect
) -> None:
    with (
        HarborEmulator(registry, users=USERS) as current,
        HarborEmulator(registry, users=USERS, version="v1.10.17") as old,
    ):
        _connect(connect, "current", current, "bob")
        _connect(connect, "old", old, "bob")

        assert HarborHook("current").test_connection() == (
            True,
            f"Connected to {current.url} as 'bob'",
        )
        ok, message = HarborHook("old").test_connection()

    assert not ok
    assert message.startswith(f"connection 'old': {old.url} runs Harbor v1.10.17")
    assert "regrep supports Harbor 2.x only" in message
    assert_masked(USERS["bob"])


def test_pull_lists_projects_and_repositories_through_the_api(
    harbor: HarborEmulator, registry: RunningRegistry, connect: Connect
) -> None:
    upstream = harbor.upstream
    harbor.add_project("lab", public=True)  # empty
    harbor.add_project("library", public=True)
    harbor.add_project("team", members=["bob"])
    harbor.add_project("zeta")  # bob may not see it
    pushed = [
        push_image(upstream, "library/alpine", "3.19"),
        push_image(upstream, "team/app", "1.0"),
        push_image(upstream, "team/tools/cli", "2"),
        push_image(upstream, "zeta/secret", "1"),
    ]
    _connect(connect, "harbor", harbor, "bob")
    rule = Rule(name="pull", source="harbor", destination="local", filters=Filters(name="**"))

    with registry_hook("harbor").get_client() as source:
        assert source.provider.name == "Harbor"
    plan = replicate(rule, registry)

    assert [r.label for r in plan.resources] == [
        "library/alpine:3.19",
        "team/app:1.0",
        "team/tools/cli:2",
    ]
    assert_pulled(registry, pushed[:3])
    # The catalog was never asked; the projects came in pages of two.
    assert not harbor.server.calls(path=r"/v2/_catalog")
    assert [
        c.query.get("page", ["1"]) for c in harbor.server.calls("GET", r"/api/v2\.0/projects")
    ] == [["1"], ["2"]]


def test_anonymous_access_lists_public_projects_only(harbor: HarborEmulator) -> None:
    harbor.add_project("library", public=True)
    harbor.add_project("team", members=["bob"])
    push_image(harbor.upstream, "library/alpine", "3.19")
    push_image(harbor.upstream, "team/app", "1.0")

    with harbor_registry(Exchange.connect(harbor.url, name="anonymous"), None, None) as client:
        assert list(client.list_repositories()) == ["library/alpine"]


def test_push_creates_a_private_project_once(
    harbor: HarborEmulator, registry_pair: RegistryPair, connect: Connect
) -> None:
    _connect(connect, "harbor", harbor, "bob")

    with registry_hook("harbor").get_client() as destination:
        copy_into(destination, harbor.upstream, registry_pair.source, "mirror/app")
        copy_into(destination, harbor.upstream, registry_pair.source, "mirror/tools")
    with registry_hook("harbor").get_client() as again:
        copy_into(again, harbor.upstream, registry_pair.source, "mirror/more")

    assert harbor.projects["mirror"].created_with == {
        "project_name": "mirror",
        "metadata": {"public": "false"},
    }
    # Created by the first copy; the others, in this client or the next, find it.
    assert len(harbor.server.calls("POST", r"/api/v2\.0/projects")) == 1


def test_push_without_the_right_to_create_projects_says_so(
    registry_pair: RegistryPair, connect: Connect
) -> None:
    with HarborEmulator(
        registry_pair.destination, users=USERS, admins={"alice"}, creation_restricted=True
    ) as harbor:
        _connect(connect, "harbor", harbor, "bob")
        push_image(registry_pair.source, "mirror/app", "1.0")

        with (
            registry_hook("harbor").get_client() as destination,
            RegistryClient.connect(registry_pair.source.url, name="source") as source,
            pytest.raises(Forbidden) as refused,
        ):
            copy_resource(source, destination, "mirror/app", "1.0", "mirror/app")

    assert refused.value.message.startswith(
        "account 'bob' may not create project mirror on endpoint harbor"
    )
    assert "mirror" not in harbor.projects


def test_label_filter_reads_harbor_labels(
    harbor: HarborEmulator, registry: RunningRegistry, connect: Connect
) -> None:
    harbor.add_project("team", members=["bob"])
    release = push_image(harbor.upstream, "team/tools/cli", "1.0")
    push_image(harbor.upstream, "team/tools/cli", "2.0-rc")
    harbor.label("team/tools/cli", release.digest, "prod")
    _connect(connect, "harbor", harbor, "bob")
    rule = Rule(
        name="labels",
        source="harbor",
        destination="local",
        filters=Filters(name="team/**", labels=LabelFilter(include=("prod",))),
    )

    with (
        registry_hook("harbor").get_client() as source,
        RegistryClient.connect(registry.url) as local,
    ):
        plan = plan_replication(rule, source, local)

    assert [r.label for r in plan.resources] == ["team/tools/cli:1.0"]
    # One listing of the repository's artifacts, its path encoded twice as Harbor wants.
    (listing,) = harbor.server.calls("GET", r"/api/v2\.0/projects/team/repositories/.*/artifacts")
    assert listing.path.endswith("/repositories/tools%252Fcli/artifacts")


def _planned(rule: Rule, local: RunningRegistry) -> tuple[list[str], list[str]]:
    """The labels of what ``rule`` would copy from ``harbor`` and what is unchanged."""
    with (
        registry_hook(rule.source).get_client() as source,
        RegistryClient.connect(local.url) as dst,
    ):
        plan = plan_replication(rule, source, dst)
    return [r.label for r in plan.resources], [r.label for r in plan.unchanged]


@pytest.mark.parametrize(
    ("tag", "labels", "untagged_too"),
    [
        (TagFilter(), LabelFilter(), True),  # no tag filter
        (TagFilter(pattern="*"), LabelFilter(), True),
        (TagFilter(pattern="**"), LabelFilter(), True),
        (TagFilter(pattern="1.*"), LabelFilter(), False),
        (TagFilter(pattern="1.*", decoration="excludes"), LabelFilter(), True),
        (TagFilter(pattern="v*", decoration="excludes"), LabelFilter(), True),
        (TagFilter(), LabelFilter(exclude=("deprecated",)), True),
    ],
)
def test_untagged_artifacts_are_planned_where_the_tag_filter_matches_no_tag(
    tag: TagFilter,
    labels: LabelFilter,
    untagged_too: bool,
    harbor: HarborEmulator,
    registry: RunningRegistry,
    connect: Connect,
) -> None:
    """Harbor's tag filter matches an artifact without tags against "" (artifact.go)."""
    harbor.add_project("team", members=["bob"])
    push_image(harbor.upstream, "team/app", "1.0")
    untagged = push_image(harbor.upstream, "team/app", None)
    harbor.keep_untagged("team/app", untagged.digest)
    _connect(connect, "harbor", harbor, "bob")
    rule = Rule(
        name="untagged",
        source="harbor",
        destination="local",
        filters=Filters(name="team/**", tag=tag, labels=labels),
    )

    resources, _ = _planned(rule, registry)

    kept = [] if tag.decoration == "excludes" and tag.pattern == "1.*" else ["team/app:1.0"]
    assert resources == kept + ([f"team/app@{untagged.digest}"] if untagged_too else [])


def test_an_untagged_artifact_is_copied_by_digest_and_then_unchanged(
    harbor: HarborEmulator, registry: RunningRegistry, connect: Connect
) -> None:
    harbor.add_project("team", members=["bob"])
    tagged = push_image(harbor.upstream, "team/app", "1.0")
    untagged = push_image(harbor.upstream, "team/app", None)
    harbor.keep_untagged("team/app", untagged.digest)
    _connect(connect, "harbor", harbor, "bob")
    rule = Rule(name="all", source="harbor", destination="local", filters=Filters(name="**"))

    plan = replicate(rule, registry)

    assert [r.tag for r in plan.resources] == ["1.0", None]
    assert manifest_digest(registry, "team/app", untagged.digest) == untagged.digest
    assert manifest_digest(registry, "team/app", "1.0") == tagged.digest
    with RegistryClient.connect(registry.url) as local:
        assert list(local.list_tags("team/app")) == ["1.0"]  # no tag made up for it
    assert _planned(rule, registry) == ([], ["team/app:1.0", f"team/app@{untagged.digest}"])


def test_label_excludes_drop_an_artifact_only_when_it_carries_every_label(
    harbor: HarborEmulator, registry: RunningRegistry, connect: Connect
) -> None:
    """Harbor's artifactLabelFilter with ``excludes``: dropped when all labels are there."""
    harbor.add_project("team", members=["bob"])
    old = push_image(harbor.upstream, "team/app", "old")
    broken = push_image(harbor.upstream, "team/app", "broken")
    push_image(harbor.upstream, "team/app", "fine")
    harbor.label("team/app", old.digest, "deprecated")
    harbor.label("team/app", broken.digest, "deprecated", "broken")
    _connect(connect, "harbor", harbor, "bob")
    rule = Rule(
        name="labels",
        source="harbor",
        destination="local",
        filters=Filters(name="team/**", labels=LabelFilter(exclude=("deprecated", "broken"))),
    )

    assert _planned(rule, registry)[0] == ["team/app:fine", "team/app:old"]


def test_a_list_of_projects_with_spaces_asks_for_each_project_trimmed(
    harbor: HarborEmulator, registry: RunningRegistry, connect: Connect
) -> None:
    harbor.add_project("p1", members=["bob"])
    harbor.add_project("p2", members=["bob"])
    harbor.add_project("p3", members=["bob"])
    for project in ("p1", "p2", "p3"):
        push_image(harbor.upstream, f"{project}/app", "1")
    _connect(connect, "harbor", harbor, "bob")
    rule = Rule(
        name="some", source="harbor", destination="local", filters=Filters(name="{p1, p2}/**")
    )

    assert _planned(rule, registry)[0] == ["p1/app:1", "p2/app:1"]
    asked = [
        c.path for c in harbor.server.calls("GET", r"/api/v2\.0/projects(/[^/]+/repositories)?")
    ]
    assert asked == ["/api/v2.0/projects/p1/repositories", "/api/v2.0/projects/p2/repositories"]
