"""The source tag moving to another digest while a run replicates it.

The copy reads the tag's manifest once and copies exactly what that manifest references,
children and blobs by digest, so the destination ends up with the complete image of one
manifest, the one reported as pushed, never a mix of the old and the new. A later run
catches up with the move.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from regrep.engine.resource_copy import CopyResult, copy_resource
from regrep.planning.planner import plan_replication
from regrep.registry.client import RegistryClient
from regrep.rules import Rule
from tests.integration.reliability.conftest import FaultyPair
from tests.integration.reliability.integrity import complete_digest, tagged_images
from tests.support.images import PushedImage, push_image, push_index
from tests.support.registries import RunningRegistry

Push = Callable[[RunningRegistry, str], PushedImage]
KINDS: dict[str, Push] = {
    "image": lambda registry, seed: push_image(
        registry, "apps/web", "1.0", layer_sizes=(2048, 1 << 20), seed=seed
    ),
    "index": lambda registry, seed: push_index(registry, "apps/web", "1.0", seed=seed),
}


def replicate(pair: FaultyPair) -> CopyResult:
    with (
        RegistryClient.connect(pair.source.url, name="src") as source,
        RegistryClient.connect(pair.destination.url, name="dst") as destination,
    ):
        return copy_resource(source, destination, "apps/web", "1.0", "apps/web")


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_tag_moved_during_the_copy_yields_one_complete_image(
    faulty_pair: FaultyPair, kind: str
) -> None:
    push = KINDS[kind]
    source = faulty_pair.source.upstream
    before = push(source, "before")
    moved: list[PushedImage] = []
    # Once the copy has read the manifest and started on its content, the tag moves.
    first_content = r"/blobs/" if kind == "image" else r"/manifests/sha256:"
    faulty_pair.source.on("GET", first_content, lambda: moved.append(push(source, "after")))

    result = replicate(faulty_pair)

    [after] = moved
    assert after.digest != before.digest
    assert result.digest == before.digest
    assert tagged_images(faulty_pair.destination.upstream) == {"apps/web:1.0": before.digest}

    caught_up = replicate(faulty_pair)

    assert caught_up.digest == after.digest
    assert complete_digest(faulty_pair.destination.upstream, "apps/web", "1.0") == after.digest


def test_a_tag_moved_between_plan_and_copy_copies_the_new_image_whole(
    faulty_pair: FaultyPair,
) -> None:
    source = faulty_pair.source.upstream
    planned_image = push_image(source, "apps/web", "1.0", seed="planned")
    rule = Rule.model_validate({"name": "mirror", "source": "src", "destination": "dst"})
    with (
        RegistryClient.connect(faulty_pair.source.url, name="src") as src,
        RegistryClient.connect(faulty_pair.destination.url, name="dst") as dst,
    ):
        [planned] = plan_replication(rule, src, dst).resources
    moved = push_image(source, "apps/web", "1.0", seed="moved", layer_sizes=(512, 8192))

    result = replicate(faulty_pair)

    assert planned.digest == planned_image.digest
    assert result.digest == moved.digest
    assert tagged_images(faulty_pair.destination.upstream) == {"apps/web:1.0": moved.digest}
