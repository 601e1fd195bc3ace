"""Signatures, SBOMs and attestations travel with what they describe (``copy_referrers``).

Two ways to find referrers are exercised against real registries:

- the **referrers tag schema** (``sha256-<hex>`` tags holding an OCI index): Debian's
  ``docker-registry`` is distribution 2.8, which has no referrers API, so plain registries
  exercise this fallback at both ends;
- the **referrers API** (``GET /v2/<name>/referrers/<digest>``): no registry Debian packages
  has it (no zot, no distribution 3), so ``tests.support.referrers_proxy`` adds it, per
  distribution-spec 1.1 (``OCI-Subject`` on push, ``artifactType`` filtering), in front of a
  real ``docker-registry``; it serves as the source in one test and the destination in
  another.

cosign's ``.sig``/``.att``/``.sbom`` tags, which name their subject instead of pointing at
it, are covered too. Every test compares digests at the destination with the source.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from regrep.engine.resource_copy import copy_resource
from regrep.planning.planner import plan_replication
from regrep.planning.resources import Resource
from regrep.registry.client import RegistryClient
from regrep.rules import Rule
from tests.support.artifacts import attach, push_cosign, referrers_tag
from tests.support.images import (
    OCI_INDEX,
    PushedImage,
    get_manifest_bytes,
    list_tags,
    manifest_digest,
    push_image,
    push_index,
)
from tests.support.referrers_proxy import ReferrersRegistry, referrers_proxy
from tests.support.registries import RegistryPair, RunningRegistry

SBOM = "application/spdx+json"
NOTATION = "application/vnd.cncf.notary.signature"
COSIGN = (".sig", ".att", ".sbom")


@pytest.fixture
def api_pair(registry_pair: RegistryPair) -> Iterator[tuple[ReferrersRegistry, RunningRegistry]]:
    """The pair's source behind the referrers-API proxy, and the plain destination."""
    with referrers_proxy(registry_pair.source) as proxy:
        yield proxy, registry_pair.destination


def _client(url: str, name: str) -> RegistryClient:
    return RegistryClient.connect(url, name=name)


def _copy(src_url: str, dst_url: str, repository: str, tag: str, **options: Any) -> Any:
    return copy_resource(
        _client(src_url, "src"), _client(dst_url, "dst"), repository, tag, repository, **options
    )


def _signed_image(reg: RunningRegistry, *, referrers_tag: bool) -> dict[str, PushedImage]:
    """An image with an SBOM and a signature attached, and a signature of the SBOM."""
    image = push_image(reg, "app", "1.0", layer_sizes=(512,))
    sbom = attach(
        reg,
        image,
        SBOM,
        b'{"spdxVersion":"SPDX-2.3"}',
        annotations={"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
        update_referrers_tag=referrers_tag,
    )
    signature = attach(reg, image, NOTATION, b"sig-of-image", update_referrers_tag=referrers_tag)
    sbom_signature = attach(reg, sbom, NOTATION, b"sig-of-sbom", update_referrers_tag=referrers_tag)
    return {"image": image, "sbom": sbom, "signature": signature, "sbom_signature": sbom_signature}


def _listed(reg: RunningRegistry, repository: str, subject: str) -> list[str]:
    raw = get_manifest_bytes(reg, repository, referrers_tag(subject))
    return [] if raw is None else [entry["digest"] for entry in json.loads(raw)["manifests"]]


def test_referrers_follow_through_the_tag_schema(registry_pair: RegistryPair) -> None:
    src, dst = registry_pair
    pushed = _signed_image(src, referrers_tag=True)
    image, sbom = pushed["image"], pushed["sbom"]

    result = _copy(src.url, dst.url, "app", "1.0")

    assert (result.status, result.referrers) == ("copied", 3)
    for item in pushed.values():
        assert manifest_digest(dst, "app", item.digest) == item.digest
    # Where both ends lack the API, the source's referrers lists arrive byte for byte.
    for subject in (image, sbom):
        tag = referrers_tag(subject.digest)
        assert manifest_digest(dst, "app", tag) == manifest_digest(src, "app", tag)
    assert _listed(dst, "app", image.digest) == [
        pushed["sbom"].digest,
        pushed["signature"].digest,
    ]

    again = _copy(src.url, dst.url, "app", "1.0")
    assert (again.status, again.referrers) == ("unchanged", 0)


def test_referrers_api_source_to_a_tag_schema_destination(
    api_pair: tuple[ReferrersRegistry, RunningRegistry],
) -> None:
    proxy, dst = api_pair
    # The proxy answers OCI-Subject, so the pusher maintains no referrers tag.
    pushed = _signed_image(proxy.registry, referrers_tag=False)
    image = pushed["image"]

    result = _copy(proxy.url, dst.url, "app", "1.0")

    assert result.referrers == 3
    assert ("GET", f"/v2/app/referrers/{image.digest}") in proxy.requests
    assert referrers_tag(image.digest) not in list_tags(proxy.upstream, "app")
    for item in pushed.values():
        assert manifest_digest(dst, "app", item.digest) == item.digest
    # The destination has no API: regrep wrote the referrers tag, as the spec has clients do.
    index = json.loads(get_manifest_bytes(dst, "app", referrers_tag(image.digest)) or b"{}")
    assert index["mediaType"] == OCI_INDEX
    entries = {entry["digest"]: entry for entry in index["manifests"]}
    assert set(entries) == {pushed["sbom"].digest, pushed["signature"].digest}
    assert entries[pushed["sbom"].digest]["artifactType"] == SBOM
    assert entries[pushed["sbom"].digest]["annotations"] == {
        "org.opencontainers.image.created": "2024-01-01T00:00:00Z"
    }
    assert _listed(dst, "app", pushed["sbom"].digest) == [pushed["sbom_signature"].digest]


def test_tag_schema_source_to_a_referrers_api_destination(registry_pair: RegistryPair) -> None:
    src, dst = registry_pair
    pushed = _signed_image(src, referrers_tag=True)
    image = pushed["image"]
    with referrers_proxy(dst) as proxy:
        result = _copy(src.url, proxy.url, "app", "1.0")
        listed = requests.get(f"{proxy.url}/v2/app/referrers/{image.digest}", timeout=10).json()

    assert result.referrers == 3
    assert {e["digest"] for e in listed["manifests"]} == {
        pushed["sbom"].digest,
        pushed["signature"].digest,
    }
    for item in pushed.values():
        assert manifest_digest(dst, "app", item.digest) == item.digest
    # A destination with the API indexes subjects itself: no referrers tag is written.
    assert [tag for tag in list_tags(dst, "app") if tag.startswith("sha256-")] == []


def test_emulated_referrers_api_follows_the_spec(
    api_pair: tuple[ReferrersRegistry, RunningRegistry],
) -> None:
    proxy, _ = api_pair
    image = push_image(proxy.registry, "app", "1.0", layer_sizes=(64,))
    sbom = attach(proxy.registry, image, SBOM, b"{}", update_referrers_tag=False)
    attach(proxy.registry, image, NOTATION, b"sig", update_referrers_tag=False)
    base = f"{proxy.url}/v2/app/referrers"

    filtered = requests.get(f"{base}/{image.digest}", params={"artifactType": SBOM}, timeout=10)
    assert filtered.headers["OCI-Filters-Applied"] == "artifactType"
    assert [e["digest"] for e in filtered.json()["manifests"]] == [sbom.digest]
    assert requests.get(f"{base}/not-a-digest", timeout=10).status_code == 400
    nothing = requests.get(f"{base}/sha256:{'0' * 64}", timeout=10)
    assert (nothing.status_code, nothing.json()["manifests"]) == (200, [])
    put = requests.put(
        f"{proxy.url}/v2/app/manifests/{sbom.digest}",
        data=sbom.manifest_bytes,
        headers={"Content-Type": sbom.media_type},
        timeout=10,
    )
    assert put.headers["OCI-Subject"] == image.digest


def test_cosign_tags_follow_their_subject_whatever_the_tag_filter(
    registry_pair: RegistryPair,
) -> None:
    src, dst = registry_pair
    image = push_image(src, "app", "1.0", layer_sizes=(256,))
    push_image(src, "app", "latest", layer_sizes=(256,))
    tags = {suffix: push_cosign(src, image, suffix, suffix.encode() * 8) for suffix in COSIGN}
    rule = Rule.model_validate(
        {"name": "r", "source": "src", "destination": "dst", "filters": {"tag": "1.*"}}
    )
    source, destination = _client(src.url, "src"), _client(dst.url, "dst")

    plan = plan_replication(rule, source, destination)
    assert [r.tag for r in plan.resources] == ["1.0"]  # cosign tags are no resources
    assert plan.listed == 1

    result = copy_resource(source, destination, "app", "1.0", "app")
    assert result.referrers == 3
    for cosign in tags.values():
        assert manifest_digest(dst, "app", cosign.reference) == cosign.digest
    assert "latest" not in list_tags(dst, "app")

    # Without copy_referrers they are ordinary tags, for the tag filter to select.
    plain = Rule.model_validate(
        {
            "name": "r",
            "source": "src",
            "destination": "dst",
            "filters": {"tag": "sha256-*"},
            "copy_referrers": False,
        }
    )
    unchanged = plan_replication(plain, source, destination).unchanged
    assert sorted(r.tag for r in unchanged) == sorted(c.reference for c in tags.values())


def test_copy_referrers_off_copies_none(registry_pair: RegistryPair) -> None:
    src, dst = registry_pair
    pushed = _signed_image(src, referrers_tag=True)
    push_cosign(src, pushed["image"], ".sig", b"sig")

    result = _copy(src.url, dst.url, "app", "1.0", copy_referrers=False)

    assert (result.status, result.referrers) == ("copied", 0)
    assert list_tags(dst, "app") == ["1.0"]
    assert manifest_digest(dst, "app", pushed["sbom"].digest) is None


def test_destination_referrers_tag_is_merged_not_replaced(registry_pair: RegistryPair) -> None:
    src, dst = registry_pair
    pushed = _signed_image(src, referrers_tag=True)
    image = pushed["image"]
    push_image(dst, "app", "1.0", layer_sizes=(512,))  # the same image, already there
    local = attach(dst, image, NOTATION, b"signed-at-the-destination")

    result = _copy(src.url, dst.url, "app", "1.0")

    assert result.status == "copied" and result.referrers == 3
    assert _listed(dst, "app", image.digest) == [
        local.digest,
        pushed["sbom"].digest,
        pushed["signature"].digest,
    ]


def test_a_signature_added_later_replans_an_unchanged_image(
    registry_pair: RegistryPair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="regrep")
    src, dst = registry_pair
    image = push_image(src, "app", "1.0", layer_sizes=(256,))
    rule = Rule.model_validate({"name": "r", "source": "src", "destination": "dst"})
    source, destination = _client(src.url, "src"), _client(dst.url, "dst")
    copy_resource(source, destination, "app", "1.0", "app")
    assert [r.tag for r in plan_replication(rule, source, destination).unchanged] == ["1.0"]

    signature = attach(src, image, NOTATION, b"late signature")
    plan = plan_replication(rule, source, destination)
    assert [r.tag for r in plan.resources] == ["1.0"]
    assert any("some of its referrers are not" in r.getMessage() for r in caplog.records)

    result = copy_resource(source, destination, "app", "1.0", "app")
    assert (result.status, result.referrers, result.blobs_copied) == ("copied", 1, 2)
    assert manifest_digest(dst, "app", signature.digest) == signature.digest
    assert [r.tag for r in plan_replication(rule, source, destination).unchanged] == ["1.0"]


def test_referrers_of_index_children_are_copied_by_digest(registry_pair: RegistryPair) -> None:
    src, dst = registry_pair
    index = push_index(src, "multi", "1.0", layer_sizes=(128,))
    arm = index.children[1]
    sbom = attach(src, arm, SBOM, b'{"for":"arm64"}')

    result = _copy(src.url, dst.url, "multi", "1.0")

    assert result.referrers == 1
    assert manifest_digest(dst, "multi", "1.0") == index.digest
    assert manifest_digest(dst, "multi", sbom.digest) == sbom.digest
    assert _listed(dst, "multi", arm.digest) == [sbom.digest]


def test_the_plan_hands_each_copy_the_referrer_tags_it_asks_about(
    registry_pair: RegistryPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    src, dst = registry_pair
    signed = push_image(src, "app", "1", layer_sizes=(64,))
    listed = push_image(src, "app", "2", layer_sizes=(64,))
    multi = push_index(src, "app", "3", layer_sizes=(64,))
    signature = push_cosign(src, signed, ".sig", b"cosign signature")
    attach(src, listed, NOTATION, b"notation signature")
    child_signature = push_cosign(src, multi.children[0], ".sig", b"signature of a child")
    rule = Rule.model_validate({"name": "r", "source": "src", "destination": "dst"})
    source, destination = _client(src.url, "src"), _client(dst.url, "dst")

    plan = plan_replication(rule, source, destination)

    # Its own tags, plus those naming no planned tag's digest (here an index child's).
    shared = child_signature.reference
    handed = {r.tag: r.referrer_tags for r in plan.resources}
    assert handed == {
        "1": tuple(sorted([signature.reference, shared])),
        "2": tuple(sorted([referrers_tag(listed.digest), shared])),
        "3": (shared,),
    }
    for resource in plan.resources:  # through XCom and back
        restored = Resource.from_dict(json.loads(json.dumps(resource.to_dict())))
        assert restored.referrer_tags == resource.referrer_tags
    result = _copy(src.url, dst.url, "app", "3", source_tags=handed["3"])
    assert result.referrers == 1
    assert manifest_digest(dst, "app", shared) == child_signature.digest

    # Too many such tags to hand every copy: the copies list the tags themselves.
    monkeypatch.setattr("regrep.planning.planner.SHARED_REFERRER_TAGS", 0)
    replanned = plan_replication(rule, source, destination).resources
    assert [(r.tag, r.referrer_tags) for r in replanned] == [("1", None), ("2", None)]
    assert "referrer_tags" not in replanned[0].to_dict()
