"""The copy engine between real ``docker-registry`` processes."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from regrep.engine.resource_copy import copy_resource
from regrep.oci.manifests import DOCKER_FOREIGN_LAYER, Manifest
from regrep.registry.client import RegistryClient
from regrep.registry.errors import DigestMismatch
from tests.support.blobs import blob_digest, make_blob
from tests.support.images import (
    DOCKER_MANIFEST,
    OCI_MANIFEST,
    blob_size,
    list_tags,
    manifest_digest,
    push_blob,
    push_image,
    push_index,
    push_manifest,
)
from tests.support.registries import RegistryPair, RunningRegistry, TokenRegistry, start_registry

MIB = 1 << 20


def _client(reg: RunningRegistry, name: str, **kwargs: object) -> RegistryClient:
    return RegistryClient.connect(reg.url, name=name, **kwargs)  # type: ignore[arg-type]


def _blob_reads(reg: RunningRegistry) -> list[str]:
    return [e.path for e in reg.access_log() if e.method == "GET" and "/blobs/" in e.path]


def _writes(reg: RunningRegistry) -> list[str]:
    return [e.path for e in reg.access_log() if e.method in ("PUT", "POST", "PATCH")]


def _descriptor(media_type: str, data: bytes) -> dict[str, object]:
    return {"mediaType": media_type, "digest": blob_digest(data), "size": len(data)}


def test_copy_image_between_registries(
    registry_pair: RegistryPair, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="regrep")
    src, dst = registry_pair
    image = push_image(src, "team/app", "1.0", layer_sizes=(1024, 3 * MIB))
    result = copy_resource(
        _client(src, "src"), _client(dst, "dst"), "team/app", "1.0", "mirror/app"
    )

    assert manifest_digest(dst, "mirror/app", "1.0") == image.digest
    for digest, size in image.blobs.items():
        assert blob_size(dst, "mirror/app", digest) == size
    assert (result.status, result.digest) == ("copied", image.digest)
    assert (result.blobs_copied, result.blobs_mounted, result.blobs_existing) == (3, 0, 0)
    assert result.bytes_copied == sum(image.blobs.values())
    assert (result.source, result.destination) == ("src/team/app:1.0", "dst/mirror/app:1.0")
    assert result.to_dict()["status"] == "copied"

    messages = [r.getMessage() for r in caplog.records if r.name == "regrep.engine.resource_copy"]
    per_blob = [m for m in messages if m.startswith("copied blob")]
    assert len(per_blob) == 3 and all("MiB/s" in m for m in per_blob)
    assert any("3.0 MiB" in m for m in per_blob)
    assert messages[-1].startswith("copied src/team/app:1.0 to dst/mirror/app:1.0: 3 blobs copied")
    assert messages[-1].endswith(f"pushed {image.digest}") and "MiB/s" in messages[-1]


@pytest.mark.parametrize("media_type", [OCI_MANIFEST, DOCKER_MANIFEST])
def test_copy_multi_platform_index(registry_pair: RegistryPair, media_type: str) -> None:
    src, dst = registry_pair
    index = push_index(
        src,
        "multi",
        "latest",
        (("linux", "amd64"), ("linux", "arm64"), ("linux", "s390x")),
        media_type=media_type,
    )
    result = copy_resource(_client(src, "src"), _client(dst, "dst"), "multi", "latest", "multi")

    assert manifest_digest(dst, "multi", "latest") == index.digest
    for child in index.children:
        assert manifest_digest(dst, "multi", child.digest) == child.digest
    assert result.blobs_copied == len(index.blobs) == 9
    assert result.bytes_copied == sum(index.blobs.values())


def test_unchanged_rerun_reads_no_blob(registry_pair: RegistryPair) -> None:
    src, dst = registry_pair
    index = push_index(src, "multi", "latest")
    source, destination = _client(src, "src"), _client(dst, "dst")
    copy_resource(source, destination, "multi", "latest", "multi")
    reads, writes = len(_blob_reads(src)), len(_writes(dst))

    again = copy_resource(source, destination, "multi", "latest", "multi")
    assert (again.status, again.digest, again.bytes_copied) == ("unchanged", index.digest, 0)
    assert len(_blob_reads(src)) == reads
    assert len(_writes(dst)) == writes


def test_override_false_skips_a_different_destination(
    registry_pair: RegistryPair, caplog: pytest.LogCaptureFixture
) -> None:
    src, dst = registry_pair
    image = push_image(src, "app", "1", seed="new")
    other = push_image(dst, "app", "1", seed="old")
    source, destination = _client(src, "src"), _client(dst, "dst")

    skipped = copy_resource(source, destination, "app", "1", "app", override=False)
    assert skipped.status == "skipped" and skipped.blobs_copied == 0
    assert manifest_digest(dst, "app", "1") == other.digest
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == [skipped.message] and "override is off" in skipped.message

    replaced = copy_resource(source, destination, "app", "1", "app", override=True)
    assert replaced.status == "copied"
    assert manifest_digest(dst, "app", "1") == image.digest


def test_mount_within_the_same_registry(registry: RunningRegistry) -> None:
    image = push_image(registry, "library/app", "1", layer_sizes=(2 * MIB, 1024))
    client = _client(registry, "only")
    result = copy_resource(client, _client(registry, "only"), "library/app", "1", "copies/app")

    assert (result.blobs_mounted, result.blobs_copied, result.bytes_copied) == (3, 0, 0)
    assert manifest_digest(registry, "copies/app", "1") == image.digest
    assert _blob_reads(registry) == []


def test_mount_from_another_destination_repository(registry_pair: RegistryPair) -> None:
    src, dst = registry_pair
    base = make_blob(5000, seed="shared-base")
    push_image(src, "first", "1", base_layers=(base,), seed="one")
    second = push_image(src, "second", "1", base_layers=(base,), seed="two")
    source, destination = _client(src, "src"), _client(dst, "dst")
    copy_resource(source, destination, "first", "1", "first")
    reads = len(_blob_reads(src))

    result = copy_resource(source, destination, "second", "1", "second", mount_from=["first"])
    assert (result.blobs_mounted, result.blobs_copied) == (1, 3)  # the base layer is mounted
    assert len(_blob_reads(src)) == reads + 3
    assert manifest_digest(dst, "second", "1") == second.digest

    # Into a third repository, every blob can be mounted from the second one.
    again = copy_resource(source, destination, "second", "1", "second-copy", mount_from=["second"])
    assert (again.blobs_mounted, again.blobs_copied) == (4, 0)
    # The shared base layer is already in the destination repository.
    existing = copy_resource(source, destination, "first", "1", "second")
    assert (existing.blobs_existing, existing.blobs_copied) == (1, 3)


def test_corrupt_source_blob_is_refused_and_nothing_tagged(registry_pair: RegistryPair) -> None:
    src, dst = registry_pair
    image = push_image(src, "app", "1", layer_sizes=(2 * MIB,))
    layer = Manifest.parse(image.manifest_bytes).layers[0].digest
    hex_digest = layer.split(":")[1]
    stored = src.data_dir / "docker/registry/v2/blobs/sha256" / hex_digest[:2] / hex_digest / "data"
    stored.write_bytes(make_blob(2 * MIB, seed="not the layer"))

    with pytest.raises(DigestMismatch) as caught:
        copy_resource(_client(src, "src"), _client(dst, "dst"), "app", "1", "app")
    assert "app" in str(caught.value) and layer in str(caught.value)
    assert caught.value.repository == "app" and caught.value.endpoint == "src"
    assert manifest_digest(dst, "app", "1") is None
    assert list_tags(dst, "app") == []
    assert blob_size(dst, "app", layer) is None


def test_foreign_layers_are_not_copied(
    tmp_path: Path, registry_tools: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="regrep")
    # distribution refuses layer URLs unless allowed (validation.manifests.urls.allow).
    allow = {"validation": {"manifests": {"urls": {"allow": ["^https://"]}}}}
    with (
        start_registry(tmp_path, name="src", extra_config=allow) as src,
        start_registry(tmp_path, name="dst", extra_config=allow) as dst,
    ):
        config, layer = b'{"architecture":"amd64","os":"windows"}', make_blob(2048, seed="l")
        push_blob(src, "win", config)
        push_blob(src, "win", layer)
        foreign_digest = "sha256:" + "f" * 64
        raw = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": DOCKER_MANIFEST,
                "config": _descriptor("application/vnd.docker.container.image.v1+json", config),
                "layers": [
                    {
                        "mediaType": DOCKER_FOREIGN_LAYER,
                        "digest": foreign_digest,
                        "size": 123456,
                        "urls": ["https://mcr.example/base.tar.gz"],
                    },
                    _descriptor("application/vnd.docker.image.rootfs.diff.tar.gzip", layer),
                ],
            }
        ).encode()
        digest = push_manifest(src, "win", "ltsc", raw, DOCKER_MANIFEST)

        result = copy_resource(_client(src, "src"), _client(dst, "dst"), "win", "ltsc", "win")
        assert result.blobs_copied == 2
        assert manifest_digest(dst, "win", "ltsc") == digest
        assert any(
            m.startswith(f"skipping foreign layer {foreign_digest}") and "mcr.example" in m
            for m in (r.getMessage() for r in caplog.records)
        )


def test_copy_with_token_auth_mounts_with_both_scopes(token_registry: TokenRegistry) -> None:
    reg, issuer = token_registry.registry, token_registry.issuer
    index = push_index(reg, "team/src", "v1")
    password = issuer.users["writer"]
    before = len(issuer.requests)
    client = _client(reg, "tok", username="writer", password=password)

    result = copy_resource(client, client, "team/src", "v1", "team/dst")
    assert result.blobs_mounted == len(index.blobs)
    assert manifest_digest(reg, "team/dst", "v1") == index.digest
    # One token per scope set, however many blobs, children and threads.
    mine = [r.scopes for r in issuer.requests[before:] if r.user == "writer"]
    assert sorted(mine) == [
        ("repository:team/dst:pull",),
        ("repository:team/dst:pull,push",),
        ("repository:team/dst:pull,push", "repository:team/src:pull"),  # the mount
        ("repository:team/src:pull",),
    ]


@pytest.mark.slow
def test_one_gib_layer_copies_in_constant_memory(registry_pair: RegistryPair) -> None:
    src, dst = registry_pair
    image = push_image(src, "big", "1", layer_sizes=(1 << 30,))
    script = (
        "import sys\n"
        "from regrep.registry.client import RegistryClient\n"
        "from regrep.engine.resource_copy import copy_resource\n"
        "r = copy_resource(RegistryClient.connect(sys.argv[1]),"
        " RegistryClient.connect(sys.argv[2]),"
        " 'big', '1', 'big')\n"
        # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent across exec,
        # so a child of a large pytest process would report pytest's peak.
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
        "print(r.bytes_copied, hwm.split()[1])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, src.url, dst.url],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    copied, max_rss_kib = map(int, done.stdout.split())
    assert copied == sum(image.blobs.values())
    assert max_rss_kib < 100 * 1024, f"peak RSS {max_rss_kib / 1024:.0f} MiB"
    assert manifest_digest(dst, "big", "1") == image.digest
