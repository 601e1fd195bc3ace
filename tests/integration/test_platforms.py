"""Multi-platform images: whole indexes byte-exact, or only the platforms a rule lists.

Content is built by the tests: indexes (OCI and Docker manifest lists) of per-platform
images, one with a buildx-style attestation entry, pushed to a real ``docker-registry``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from regrep.engine.resource_copy import copy_resource
from regrep.planning.planner import plan_replication
from regrep.registry.client import RegistryClient
from regrep.rules import PlatformFilter, Rule
from tests.support.artifacts import attach, push_artifact
from tests.support.images import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    PushedImage,
    blob_size,
    get_manifest_bytes,
    manifest_digest,
    push_index,
    push_manifest,
)
from tests.support.registries import RegistryPair, RunningRegistry

PLATFORMS = (("linux", "amd64"), ("linux", "arm64"), ("linux", "s390x"))


def _clients(pair: RegistryPair) -> tuple[RegistryClient, RegistryClient]:
    source = RegistryClient.connect(pair.source.url, name="src")
    return source, RegistryClient.connect(pair.destination.url, name="dst")


def _rule(**filters: Any) -> Rule:
    return Rule.model_validate(
        {"name": "r", "source": "src", "destination": "dst", "filters": filters}
    )


def _with_attestation(reg: RunningRegistry, index: PushedImage) -> tuple[PushedImage, str]:
    """Re-push ``index`` with a buildx-style attestation entry for its first child.

    Returns the new index and the attestation manifest's digest.
    """
    child = index.children[0]
    attestation = push_artifact(
        reg,
        index.repository,
        None,
        layers=[("application/vnd.in-toto+json", b'{"predicateType":"slsa"}')],
    )
    data = json.loads(index.manifest_bytes)
    data["manifests"].append(
        {
            "mediaType": OCI_MANIFEST,
            "digest": attestation.digest,
            "size": len(attestation.manifest_bytes),
            "platform": {"architecture": "unknown", "os": "unknown"},
            "annotations": {
                "vnd.docker.reference.digest": child.digest,
                "vnd.docker.reference.type": "attestation-manifest",
            },
        }
    )
    raw = json.dumps(data, indent=3).encode()
    digest = push_manifest(reg, index.repository, index.reference, raw, OCI_INDEX)
    pushed = PushedImage(index.repository, index.reference, digest, OCI_INDEX, raw, {})
    return pushed, attestation.digest


def test_platform_filter_builds_a_smaller_index(registry_pair: RegistryPair) -> None:
    src, dst = registry_pair
    original = push_index(src, "multi", "1.0", PLATFORMS, layer_sizes=(128,))
    index, attestation = _with_attestation(src, original)
    amd64, arm64, s390x = original.children
    signature = attach(src, index, "application/vnd.cncf.notary.signature", b"of the index")
    arm_sbom = attach(src, arm64, "application/spdx+json", b"{}")
    source, destination = _clients(registry_pair)
    wanted = PlatformFilter(values=("linux/amd64", "linux/arm64"))

    result = copy_resource(source, destination, "multi", "1.0", "multi", platforms=wanted)

    copied = get_manifest_bytes(dst, "multi", "1.0")
    assert copied is not None and result.digest == manifest_digest(dst, "multi", "1.0")
    assert result.digest != index.digest  # a new index: documented
    source_entries = json.loads(index.manifest_bytes)["manifests"]
    assert json.loads(copied)["manifests"] == [
        e for e in source_entries if e["digest"] in (amd64.digest, arm64.digest, attestation)
    ]
    for child in (amd64, arm64):
        assert manifest_digest(dst, "multi", child.digest) == child.digest
    assert manifest_digest(dst, "multi", attestation) == attestation
    assert manifest_digest(dst, "multi", s390x.digest) is None
    # The children's referrers apply and travel; the source index's signature does not.
    assert manifest_digest(dst, "multi", arm_sbom.digest) == arm_sbom.digest
    assert manifest_digest(dst, "multi", signature.digest) is None
    assert "an index of 3 of the 4 entries" in result.message

    again = copy_resource(source, destination, "multi", "1.0", "multi", platforms=wanted)
    assert (again.status, again.digest) == ("unchanged", result.digest)
    plan = plan_replication(_rule(platforms=["linux/amd64", "linux/arm64"]), source, destination)
    assert [r.tag for r in plan.unchanged] == ["1.0"] and plan.resources == []


@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST])
def test_platform_filter_can_pick_one_image(registry_pair: RegistryPair, media_type: str) -> None:
    src, dst = registry_pair
    index = push_index(src, "multi", "1.0", PLATFORMS, layer_sizes=(128,), media_type=media_type)
    arm64 = index.children[1]
    source, destination = _clients(registry_pair)
    # A preference order: riscv64 is not offered, so arm64 is the image the tag gets.
    wanted = PlatformFilter(values=("linux/riscv64", "linux/arm64"), result="manifest")

    plan = plan_replication(
        _rule(platforms={"values": list(wanted.values), "result": "manifest"}), source, destination
    )
    assert [r.digest for r in plan.resources] == [index.digest]
    result = copy_resource(source, destination, "multi", "1.0", "multi", platforms=wanted)

    assert manifest_digest(dst, "multi", "1.0") == arm64.digest == result.digest
    assert get_manifest_bytes(dst, "multi", "1.0") == arm64.manifest_bytes
    for digest, size in arm64.blobs.items():
        assert blob_size(dst, "multi", digest) == size
    assert manifest_digest(dst, "multi", index.digest) is None


def test_an_index_without_the_platforms_is_skipped(registry_pair: RegistryPair) -> None:
    src, dst = registry_pair
    push_index(src, "multi", "1.0", PLATFORMS[:2], layer_sizes=(64,))
    source, destination = _clients(registry_pair)
    wanted = PlatformFilter(values=("windows/amd64",))

    result = copy_resource(source, destination, "multi", "1.0", "multi", platforms=wanted)

    assert result.status == "skipped" and "has none of windows/amd64" in result.message
    assert manifest_digest(dst, "multi", "1.0") is None
    plan = plan_replication(_rule(platforms=["windows/amd64"]), source, destination)
    assert (plan.listed, plan.resources, plan.unchanged) == (1, [], [])


def test_without_a_filter_every_child_copies_by_digest(registry_pair: RegistryPair) -> None:
    src, dst = registry_pair
    index = push_index(src, "multi", "1.0", PLATFORMS, layer_sizes=(64,))
    source, destination = _clients(registry_pair)

    result = copy_resource(source, destination, "multi", "1.0", "multi")

    assert manifest_digest(dst, "multi", "1.0") == index.digest == result.digest
    assert get_manifest_bytes(dst, "multi", "1.0") == index.manifest_bytes
    for child in index.children:  # untagged at both ends: copied by digest
        assert get_manifest_bytes(dst, "multi", child.digest) == child.manifest_bytes
