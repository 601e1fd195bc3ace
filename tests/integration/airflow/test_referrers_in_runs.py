"""A run's copies take the referrer tags the plan listed, instead of listing them again.

The plan lists each source repository's tags once; every copy task instance (alone or in a
batch) then finds its referrers (a cosign signature tag, an OCI referrer kept in the
referrers tag schema: ``docker-registry`` has no referrers API) from what the plan handed
it. The source's access log shows one tags listing per run, and no probe for a referrer
tag that does not exist (``dag.test()`` between real registries).
"""

from __future__ import annotations

import pytest

from tests.integration.airflow.dagruns import Connect, WriteRule, run_dag
from tests.support.artifacts import attach, push_cosign, referrers_tag
from tests.support.images import (
    get_manifest_bytes,
    list_tags,
    manifest_digest,
    push_image,
    push_index,
    push_manifest,
)
from tests.support.registries import RegistryPair

pytestmark = [pytest.mark.airflow, pytest.mark.slow]

NOTATION = "application/vnd.cncf.notary.signature"


@pytest.mark.parametrize("batched", [False, True], ids=["one-per-resource", "batches"])
def test_copies_find_referrers_without_listing_the_source_tags(
    registry_pair: RegistryPair,
    connect: Connect,
    write_rule: WriteRule,
    monkeypatch: pytest.MonkeyPatch,
    batched: bool,
) -> None:
    source, destination = registry_pair
    images = [push_image(source, "apps/web", str(n), layer_sizes=(64,)) for n in (1, 2, 3)]
    cosign = push_cosign(source, images[0], ".sig", b"cosign signature")
    referrer = attach(source, images[1], NOTATION, b"notation signature")
    connect("src", source)
    connect("dst", destination)
    if batched:
        monkeypatch.setenv("AIRFLOW__CORE__MAX_MAP_LENGTH", "2")
        monkeypatch.setattr("regrep.tasks.fanout.MIN_BATCH", 1)
    write_rule("mirror", source="src", destination="dst", retries=0)
    before = len(source.access_log())  # the pushes above

    run = run_dag("replicate_mirror")

    assert run.state == "success"
    assert len(run.mapped("copy")) == (2 if batched else 3)
    for image in images:
        assert manifest_digest(destination, "apps/web", image.reference) == image.digest
    assert manifest_digest(destination, "apps/web", cosign.reference) == cosign.digest
    assert manifest_digest(destination, "apps/web", referrer.digest) == referrer.digest
    listed = get_manifest_bytes(destination, "apps/web", referrers_tag(images[1].digest))
    assert listed is not None and referrer.digest.encode() in listed
    assert sorted(list_tags(destination, "apps/web")) == sorted(
        ["1", "2", "3", cosign.reference, referrers_tag(images[1].digest)]
    )

    requested = [entry.path for entry in source.access_log()[before:]]
    assert [path for path in requested if "/tags/list" in path] == [
        "/v2/apps/web/tags/list?n=1000"  # the plan's, once
    ]
    probed = {path.rsplit("/", 1)[1] for path in requested if "/manifests/sha256-" in path}
    assert probed == {cosign.reference, referrers_tag(images[1].digest)}  # only tags that exist


def test_an_index_brings_its_childs_signature_when_the_childs_own_tag_is_held_back(
    registry_pair: RegistryPair, connect: Connect, write_rule: WriteRule
) -> None:
    """With override off, a child's tag that the destination holds at another digest is
    skipped; the index copied by another tag still brings the child's cosign signature."""
    source, destination = registry_pair
    index = push_index(source, "apps/multi", "v1")
    child = index.children[0]
    push_manifest(source, "apps/multi", "amd64", child.manifest_bytes, child.media_type)
    signature = push_cosign(source, child, ".sig", b"cosign signature of the amd64 child")
    taken = push_image(destination, "apps/multi", "amd64", layer_sizes=(64,), seed="theirs")
    connect("src", source)
    connect("dst", destination)
    write_rule("mirror", source="src", destination="dst", override=False, retries=0)

    run = run_dag("replicate_mirror")

    assert run.state == "success"
    assert manifest_digest(destination, "apps/multi", "v1") == index.digest
    assert manifest_digest(destination, "apps/multi", "amd64") == taken.digest  # held back
    assert manifest_digest(destination, "apps/multi", signature.reference) == signature.digest
