"""The copy engine's performance features against real ``docker-registry`` processes.

What each feature is for shows in the requests the registries answer: one streamed PUT
with a length per blob, a missed mount's session carrying the upload, chunks with
``Content-Range`` that resume after an interrupted one, a blob shared by concurrent
copies (or seeded by the plan) crossing the wire once, and no referrer probes for tags
that do not exist.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from regrep.engine.resource_copy import copy_resource
from regrep.engine.seeding import seed_shared_blobs
from regrep.engine.transfer import Transfer
from regrep.planning.resources import Resource
from regrep.registry.client import RegistryClient
from tests.support.blobs import blob_digest, generated, make_blob
from tests.support.images import manifest_digest, push_image
from tests.support.registries import RegistryPair, RunningRegistry
from tests.support.upload_cutter import UploadCutter, upload_cutter

MIB = 1 << 20


@pytest.fixture
def cutter(registry_pair: RegistryPair) -> Iterator[UploadCutter]:
    """A request-cutting proxy in front of the destination of ``registry_pair``."""
    with upload_cutter(registry_pair.destination) as running:
        yield running


def _client(reg: RunningRegistry, name: str) -> RegistryClient:
    return RegistryClient.connect(reg.url, name=name)


def _uploads_of(cutter: UploadCutter, method: str) -> list[str | None]:
    return [s.content_range for s in cutter.requests(method, "/blobs/uploads/")]


def test_each_blob_is_one_put_with_a_length(
    registry_pair: RegistryPair, cutter: UploadCutter
) -> None:
    src = registry_pair.source
    image = push_image(src, "app", "1", layer_sizes=(3 * MIB, 1024))
    copy_resource(_client(src, "src"), _client(cutter.registry, "dst"), "app", "1", "app")

    puts = cutter.requests("PUT", "/blobs/uploads/")
    assert len(puts) == len(image.blobs) and _uploads_of(cutter, "PATCH") == []
    assert {s.transfer_encoding for s in puts} == {None}
    assert sorted(int(s.content_length or 0) for s in puts) == sorted(image.blobs.values())
    assert manifest_digest(registry_pair.destination, "app", "1") == image.digest


def test_a_missed_mount_carries_the_upload(
    registry_pair: RegistryPair, cutter: UploadCutter
) -> None:
    src = registry_pair.source
    image = push_image(src, "app", "1", layer_sizes=(2048,))
    source, destination = _client(src, "src"), _client(cutter.registry, "dst")
    copy_resource(source, destination, "app", "1", "app", mount_from=["empty-a", "empty-b"])

    # Per blob: HEAD here, HEAD the first candidate, a mount from the last one, whose
    # 202 session takes the PUT: no DELETE, no second POST.
    blobs = len(image.blobs)
    assert len(cutter.requests("HEAD", "^/v2/empty-a/blobs/")) == blobs
    mounts = cutter.requests("POST", "/blobs/uploads/")
    assert len(mounts) == blobs and all(s.status == 202 for s in mounts)
    assert len(cutter.requests("PUT", "/blobs/uploads/")) == blobs
    assert cutter.requests("DELETE") == []
    assert manifest_digest(registry_pair.destination, "app", "1") == image.digest


def test_chunks_resume_where_the_registry_stopped(
    registry_pair: RegistryPair, cutter: UploadCutter, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="regrep")
    src = registry_pair.source
    image = push_image(src, "app", "1", layer_sizes=(5 * MIB + 123,))
    # The third chunk of the layer never reaches the registry: the connection drops.
    cutter.cut("PATCH", "/v2/app/blobs/uploads/", range_start=2 * MIB)
    transfer = Transfer(chunk_size=MIB, max_concurrent_blobs=1)
    source, destination = _client(src, "src"), _client(cutter.registry, "dst")

    result = copy_resource(source, destination, "app", "1", "app", transfer=transfer)
    assert manifest_digest(registry_pair.destination, "app", "1") == image.digest
    assert result.bytes_copied == sum(image.blobs.values())
    starts = [int((r or "-").split("-")[0]) for r in _uploads_of(cutter, "PATCH")]
    layer_chunks = [0, 1, 2, 2, 3, 4, 5]  # MiB offsets, the dropped one sent again
    assert starts[-len(layer_chunks) :] == [n * MIB for n in layer_chunks]
    statuses = [s.status for s in cutter.requests("GET", "/blobs/uploads/")]
    assert statuses == [204]  # asked the registry where it stood, once
    assert len(cutter.requests("POST", "/blobs/uploads/")) == len(image.blobs)  # no restart
    assert any("resuming from there" in r.getMessage() for r in caplog.records)


def test_a_chunk_the_registry_half_kept_restarts_the_blob(
    registry_pair: RegistryPair, cutter: UploadCutter
) -> None:
    src = registry_pair.source
    image = push_image(src, "app", "1", layer_sizes=(3 * MIB,))
    # Half of the second chunk reaches the registry. distribution then holds bytes the
    # session's state does not know of and refuses to go on with it: the blob restarts.
    cutter.cut("PATCH", "/v2/app/blobs/uploads/", range_start=MIB, forward=MIB // 2)
    transfer = Transfer(chunk_size=MIB, max_concurrent_blobs=1)
    source, destination = _client(src, "src"), _client(cutter.registry, "dst")

    copy_resource(source, destination, "app", "1", "app", transfer=transfer)
    assert manifest_digest(registry_pair.destination, "app", "1") == image.digest
    posts = cutter.requests("POST", "/blobs/uploads/")
    assert len(posts) == len(image.blobs) + 1  # one more session for the restarted layer


def test_a_resumed_chunk_the_registry_refuses_as_invalid_restarts_the_blob(
    registry_pair: RegistryPair, cutter: UploadCutter, caplog: pytest.LogCaptureFixture
) -> None:
    """The race a real proxy can cause: half of the second chunk reaches the registry only
    after it told the client (asked where the upload stands) that it holds the first chunk.
    The chunk resumed from there meets a session distribution no longer takes
    (BLOB_UPLOAD_INVALID): the blob restarts in a new session instead of failing the copy."""
    caplog.set_level(logging.WARNING, logger="regrep")
    src = registry_pair.source
    image = push_image(src, "app", "1", layer_sizes=(3 * MIB,))
    cutter.cut("PATCH", "/v2/app/blobs/uploads/", range_start=MIB, forward=MIB // 2, late=True)
    transfer = Transfer(chunk_size=MIB, max_concurrent_blobs=1)
    source, destination = _client(src, "src"), _client(cutter.registry, "dst")

    copy_resource(source, destination, "app", "1", "app", transfer=transfer)
    assert manifest_digest(registry_pair.destination, "app", "1") == image.digest
    resumed = [s for s in cutter.requests("PATCH", "/blobs/uploads/") if s.status == 404]
    assert resumed, "the resumed chunk was not refused: the race was not provoked"
    posts = cutter.requests("POST", "/blobs/uploads/")
    assert len(posts) == len(image.blobs) + 1  # one more session for the restarted layer
    assert any("BLOB_UPLOAD_INVALID" in r.getMessage() for r in caplog.records)


def test_concurrent_copies_sharing_a_ledger_upload_a_shared_blob_once(
    registry_pair: RegistryPair, cutter: UploadCutter
) -> None:
    src = registry_pair.source
    base = generated(4 * MIB, "shared-base")
    images = [
        push_image(src, f"app-{n}", "1", layer_sizes=(1024,), base_layers=(base,)) for n in range(4)
    ]
    source, destination = _client(src, "src"), _client(cutter.registry, "dst")
    transfer = Transfer()  # one task's transfer: its copies share the ledger
    threads = [
        threading.Thread(
            target=copy_resource,
            args=(source, destination, image.repository, "1", image.repository),
            kwargs={"transfer": transfer},
        )
        for image in images
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    uploads = cutter.requests("PUT", "/blobs/uploads/")
    assert len(uploads) == 1 + 2 * len(images)  # the base once; each config and top layer
    mounts = [s for s in cutter.requests("POST", "/blobs/uploads/") if s.status == 201]
    assert len(mounts) == len(images) - 1
    for image in images:
        assert manifest_digest(registry_pair.destination, image.repository, "1") == image.digest


def test_referrer_survey_probes_no_absent_tag(registry_pair: RegistryPair) -> None:
    src, dst = registry_pair
    image = push_image(src, "app", "1", layer_sizes=(1024,))
    copy_resource(_client(src, "src"), _client(dst, "dst"), "app", "1", "app")

    at_source = [(e.method, e.path) for e in src.access_log() if not e.path.endswith("/v2/")]
    probes = [p for m, p in at_source if "sha256-" in p or "/referrers/" in p]
    assert probes == [f"/v2/app/referrers/{image.digest}"]  # the API, asked once
    assert ("GET", "/v2/app/tags/list?n=1000") in at_source


def test_shared_blobs_are_seeded_once_and_mounted_by_every_copy(
    registry_pair: RegistryPair, cutter: UploadCutter
) -> None:
    src = registry_pair.source
    base = generated(2 * MIB, "seeded-base")
    images = [
        push_image(src, f"app-{n}", "1", layer_sizes=(1024,), base_layers=(base,)) for n in range(3)
    ]
    source, destination = _client(src, "src"), _client(cutter.registry, "dst")
    planned = [
        Resource(image.repository, "1", image.repository, image.digest, image.media_type)
        for image in images
    ]

    seeded = seed_shared_blobs(
        source, destination, planned, transfer=Transfer(), log=logging.getLogger("test")
    )
    base_digest = blob_digest(base)
    assert seeded == [{base_digest: "app-0"}] * 3  # only the large shared blob, in the first
    assert len(cutter.requests("PUT", "/blobs/uploads/")) == 1

    for image, holders in zip(images, seeded, strict=True):
        transfer = Transfer()
        for digest, repository in holders.items():
            transfer.ledger.note(digest, repository)
        result = copy_resource(
            source, destination, image.repository, "1", image.repository, transfer=transfer
        )
        assert manifest_digest(registry_pair.destination, image.repository, "1") == image.digest
        shared = (result.blobs_existing, result.blobs_mounted)
        assert shared == ((1, 0) if image.repository == "app-0" else (0, 1))
    assert len(cutter.requests("PUT", "/blobs/uploads/")) == 1 + 2 * len(images)
    # Told where the base is, the copies did not look for it: the seeding's HEAD was the one.
    assert len(cutter.requests("HEAD", f"/blobs/{base_digest}")) == 1


def test_a_blob_lost_after_it_was_placed_is_copied_again(
    registry_pair: RegistryPair, caplog: pytest.LogCaptureFixture
) -> None:
    src, dst = registry_pair
    base = make_blob(4096, seed="lost-base")
    first = push_image(src, "app", "1", layer_sizes=(1024,), base_layers=(base,))
    second = push_image(src, "app", "2", layer_sizes=(2048,), base_layers=(base,))
    source, destination = _client(src, "src"), _client(dst, "dst")
    transfer = Transfer()  # one task: its ledger remembers where the base went
    copy_resource(source, destination, "app", "1", "app", transfer=transfer)
    # As when a concurrent copy into the repository rewrites the blob's link: distribution
    # no longer finds the base in "app", while the ledger still says it is there.
    hex_digest = blob_digest(base).split(":")[1]
    (
        dst.data_dir / "docker/registry/v2/repositories/app/_layers/sha256" / hex_digest / "link"
    ).unlink()

    result = copy_resource(source, destination, "app", "2", "app", transfer=transfer)
    assert manifest_digest(dst, "app", "2") == second.digest
    assert manifest_digest(dst, "app", "1") == first.digest
    assert result.blobs_copied == 3  # config, top layer, and the base again
    assert any("retrying in 0.2 s" in r.getMessage() for r in caplog.records)
