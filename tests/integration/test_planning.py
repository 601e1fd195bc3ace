"""Planning against two real registries: filters, namespace rewrite, unchanged detection."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from typing import Any

import pytest

from regrep.oci.manifests import HELM_CONFIG
from regrep.planning.planner import plan_replication
from regrep.planning.resources import Plan, Refusal, Resource
from regrep.registry.client import RegistryClient
from regrep.rules import Rule
from tests.support.artifacts import push_artifact
from tests.support.images import (
    OCI_MANIFEST,
    make_blob,
    push_image,
    push_index,
    push_manifest,
)
from tests.support.registries import RegistryPair

Clients = tuple[RegistryClient, RegistryClient]


@pytest.fixture
def clients(registry_pair: RegistryPair) -> Iterator[Clients]:
    with (
        RegistryClient.connect(registry_pair.source.url, name="src") as source,
        RegistryClient.connect(registry_pair.destination.url, name="dst") as destination,
    ):
        yield source, destination


def make_rule(**fields: Any) -> Rule:
    return Rule.model_validate({"name": "test", "source": "src", "destination": "dst", **fields})


def plan(rule: Rule, clients: Clients) -> Plan:
    return plan_replication(rule, *clients)


def labels(resources: list[Resource]) -> list[str]:
    return [resource.label for resource in resources]


def test_name_and_tag_filters(registry_pair: RegistryPair, clients: Clients) -> None:
    source = registry_pair.source
    pushed = {
        (repo, tag): push_image(source, repo, tag, layer_sizes=(128,))
        for repo, tag in [
            ("library/hello", "v1"),
            ("library/hello", "v2.0-rc.1"),
            ("library/hello", "latest"),
            ("library/busybox", "v1"),
            ("library/my/deep", "v1"),
            ("google/hello", "v1"),
        ]
    }

    result = plan(make_rule(filters={"name": "library/*", "tag": "v*"}), clients)

    assert labels(result.resources) == [
        "library/busybox:v1",
        "library/hello:v1",
        "library/hello:v2.0-rc.1",
    ]
    assert result.unchanged == []
    assert result.listed == 3
    first = result.resources[0]
    assert first == Resource(
        source_repository="library/busybox",
        tag="v1",
        destination_repository="library/busybox",
        digest=pushed[("library/busybox", "v1")].digest,
        media_type=OCI_MANIFEST,
    )

    everything = plan(make_rule(filters={"name": "{library,google}/**"}), clients)
    assert len(everything.resources) == everything.listed == len(pushed)

    excluded = plan(
        make_rule(
            filters={"name": "library/hello", "tag": {"pattern": "v*", "decoration": "excludes"}}
        ),
        clients,
    )
    assert labels(excluded.resources) == ["library/hello:latest"]


@pytest.mark.parametrize(
    ("namespace", "count", "expected"),
    [
        ("mirror", None, {"library/hello": "mirror/hello", "library/my/deep": "mirror/my/deep"}),
        (
            "mirror",
            0,
            {"library/hello": "mirror/library/hello", "library/my/deep": "mirror/library/my/deep"},
        ),
        ("mirror", -1, {"library/hello": "mirror/hello", "library/my/deep": "mirror/deep"}),
        (None, None, {"library/hello": "library/hello", "library/my/deep": "library/my/deep"}),
    ],
)
def test_namespace_rewrite(
    registry_pair: RegistryPair,
    clients: Clients,
    namespace: str | None,
    count: int | None,
    expected: dict[str, str],
) -> None:
    for repository in expected:
        push_image(registry_pair.source, repository, "1.0", layer_sizes=(64,))
    fields: dict[str, Any] = {"destination_namespace": namespace}
    if count is not None:
        fields["destination_namespace_replace_count"] = count
    result = plan(make_rule(**fields), clients)
    assert {r.source_repository: r.destination_repository for r in result.resources} == expected


def test_identical_destination_tag_is_unchanged(
    registry_pair: RegistryPair, clients: Clients
) -> None:
    source, destination = registry_pair
    same = push_image(source, "library/app", "same", seed="app")
    push_image(destination, "mirror/app", "same", seed="app")  # identical content
    push_image(source, "library/app", "moved", seed="new")
    push_image(destination, "mirror/app", "moved", seed="old")  # the tag points elsewhere
    push_image(source, "library/app", "missing", seed="x")

    result = plan(make_rule(destination_namespace="mirror"), clients)

    assert labels(result.unchanged) == ["library/app:same"]
    assert result.unchanged[0].digest == same.digest
    assert labels(result.resources) == ["library/app:missing", "library/app:moved"]
    assert result.listed == 3


def test_many_tags_are_listed_completely_and_in_order(
    registry_pair: RegistryPair, clients: Clients
) -> None:
    image = push_image(registry_pair.source, "big/repo", "t000", layer_sizes=(64,))
    tags = [f"t{i:03d}" for i in range(120)]
    for tag in tags[1:]:
        push_manifest(registry_pair.source, "big/repo", tag, image.manifest_bytes, OCI_MANIFEST)
    push_image(registry_pair.destination, "big/repo", "t000", layer_sizes=(64,))  # same content
    for tag in tags[1:10]:
        push_manifest(
            registry_pair.destination, "big/repo", tag, image.manifest_bytes, OCI_MANIFEST
        )

    result = plan(make_rule(), clients)

    assert result.listed == 120
    assert [r.tag for r in result.unchanged] == tags[:10]
    assert [r.tag for r in result.resources] == tags[10:]
    assert {r.digest for r in result.resources} == {image.digest}


def test_resource_filter_classifies_manifests(
    registry_pair: RegistryPair, clients: Clients
) -> None:
    source = registry_pair.source
    push_image(source, "things/image", "1", layer_sizes=(64,))
    push_index(source, "things/multi", "1", layer_sizes=(64,))
    layer = [("application/octet-stream", make_blob(256, "artifact"))]
    push_artifact(source, "things/chart", "1", config_type=HELM_CONFIG, layers=layer)
    push_artifact(source, "things/sbom", "1", layers=layer, artifact_type="application/spdx+json")
    custom = "application/vnd.example.config+json"
    push_artifact(source, "things/custom", "1", config_type=custom, layers=layer)

    def selected(resource: str) -> list[str]:
        return [
            r.source_repository
            for r in plan(make_rule(filters={"resource": resource}), clients).resources
        ]

    assert selected("image") == ["things/image", "things/multi"]
    assert selected("chart") == ["things/chart"]
    assert selected("artifact") == ["things/custom", "things/sbom"]
    assert plan(make_rule(), clients).listed == 5


def test_flattening_that_merges_repositories_is_refused(
    registry_pair: RegistryPair, clients: Clients
) -> None:
    push_image(registry_pair.source, "team-a/tools", "1", layer_sizes=(64,))
    push_image(registry_pair.source, "team-b/tools", "1", layer_sizes=(64,))
    with pytest.raises(
        ValueError, match='"team-a/tools" and "team-b/tools" would both replicate to "n/tools"'
    ):
        plan(make_rule(destination_namespace="n"), clients)


def test_flattening_deeper_than_a_repository_refuses_it_alone(
    registry_pair: RegistryPair, clients: Clients
) -> None:
    push_image(registry_pair.source, "a/b/c", "1", layer_sizes=(64,))
    push_image(registry_pair.source, "x/y", "1", layer_sizes=(64,))
    push_image(registry_pair.source, "shallow", "1", layer_sizes=(64,))
    rule = make_rule(destination_namespace="n", destination_namespace_replace_count=2)

    result = plan(rule, clients)

    assert [(r.label, r.destination_repository) for r in result.resources] == [("a/b/c:1", "n/c")]
    assert result.refused == [
        Refusal(
            repository,
            f'repository "{repository}" cannot be flattened by destination_namespace_replace_count '
            f"2: it has only {parts} namespace part(s) before its name {name!r}",
        )
        for repository, parts, name in (("shallow", 0, "shallow"), ("x/y", 1, "y"))
    ]


def test_resource_round_trips_through_json() -> None:
    resource = Resource("library/a", "v1", "mirror/a", "sha256:" + "0" * 64, OCI_MANIFEST)
    assert Resource.from_dict(json.loads(json.dumps(resource.to_dict()))) == resource
    assert resource.label == "library/a:v1"
    untagged = dataclasses.replace(resource, tag=None)
    assert Resource.from_dict(json.loads(json.dumps(untagged.to_dict()))) == untagged
    assert untagged.label == f"library/a@sha256:{'0' * 64}"
    assert untagged.destination_label == f"mirror/a@sha256:{'0' * 64}"
    with pytest.raises(ValueError, match="'digest' must be a string"):
        Resource.from_dict({**resource.to_dict(), "digest": None})
