"""The destination registry killed (SIGKILL) in the middle of a large blob.

The copy fails once its restarts are spent, the next attempt (a second engine call, or
Airflow's task retry in ``dag.test()``) starts the blob again and finishes, the image at
the destination has the source's digest, and at no point does a tag name an incomplete
image: the manifest is pushed only after every blob is in place.
"""

from __future__ import annotations

import re

import pytest

from regrep.engine.resource_copy import copy_resource
from regrep.registry.client import RegistryClient
from regrep.registry.errors import ConnectionFailed
from tests.integration.airflow.dagruns import Connect, WriteRule, run_dag
from tests.integration.reliability.conftest import FaultyPair
from tests.integration.reliability.integrity import complete_digest, tagged_images
from tests.support.faults import kill, revive
from tests.support.images import PushedImage, push_image

MIB = 1 << 20


def seed_large_image(pair: FaultyPair) -> tuple[PushedImage, str]:
    """An image with a 24 MiB layer, and the target pattern of that layer's upload."""
    image = push_image(pair.source.upstream, "apps/big", "1.0", layer_sizes=(4096, 24 * MIB))
    large = max(image.blobs, key=lambda digest: image.blobs[digest])
    return image, r"/blobs/uploads/.*digest=sha256(:|%3A)" + large.removeprefix("sha256:")


def test_killed_mid_blob_then_restarted_the_next_copy_completes(
    faulty_pair: FaultyPair,
) -> None:
    image, large_upload = seed_large_image(faulty_pair)
    destination = faulty_pair.destination.upstream
    faulty_pair.destination.on("PUT", large_upload, lambda: kill(destination), after_bytes=8 * MIB)

    def replicate() -> str:
        with (
            RegistryClient.connect(faulty_pair.source.url, name="src") as source,
            RegistryClient.connect(faulty_pair.destination.url, name="dst") as destination,
        ):
            return copy_resource(source, destination, "apps/big", "1.0", "apps/big").digest

    with pytest.raises(ConnectionFailed, match=r"cannot reach endpoint dst \(POST /v2/apps/big/"):
        replicate()

    assert destination.process.poll() is not None  # really killed
    revive(destination)
    assert tagged_images(destination) == {}  # the crash left nothing tagged

    assert replicate() == image.digest
    assert tagged_images(destination) == {"apps/big:1.0": image.digest}


@pytest.mark.airflow
def test_airflow_retries_the_copy_task_after_the_crash(
    faulty_pair: FaultyPair,
    connect: Connect,
    write_rule: WriteRule,
    caplog: pytest.LogCaptureFixture,
) -> None:
    image, large_upload = seed_large_image(faulty_pair)
    destination = faulty_pair.destination

    def crash() -> None:
        kill(destination.upstream)
        # The registry is back when the task's next attempt asks for the manifest first
        # thing: until then, the first attempt spends its restarts on a dead registry.
        destination.on("HEAD", r"/manifests/", lambda: revive(destination.upstream))

    destination.on("PUT", large_upload, crash, after_bytes=8 * MIB)
    connect("src", faulty_pair.source.upstream)
    connect("dst", destination.registry)
    write_rule("crash", source="src", destination="dst", retries=2, retry_delay_minutes=0)

    run = run_dag("replicate_crash")

    assert run.state == "success"
    [copy] = run.mapped("copy")
    assert (copy.label, copy.state, copy.try_number) == ("apps/big:1.0", "success", 2)
    assert complete_digest(destination.upstream, "apps/big", "1.0") == image.digest
    assert tagged_images(destination.upstream) == {"apps/big:1.0": image.digest}
    output = caplog.text
    assert re.search(r"copy of blob sha256:\w+ failed: .*; restarting it in", output)
    assert "cannot reach endpoint dst (POST /v2/apps/big/blobs/uploads/)" in output
