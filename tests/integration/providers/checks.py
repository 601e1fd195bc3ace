"""Checks every provider's tests share: a copy through the provider, masking, a dead port."""

from __future__ import annotations

import socket

from regrep.registry import RegistryClient
from regrep.transfer import CopyResult, copy_resource
from tests.support.images import PushedImage, blob_size, manifest_digest, push_image
from tests.support.registries import RunningRegistry


def closed_port_url() -> str:
    """An http URL on a loopback port nothing listens on (the connection is refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def copy_into(
    destination: RegistryClient,
    upstream: RunningRegistry,
    source: RunningRegistry,
    repository: str,
    tag: str = "1.0",
) -> tuple[PushedImage, CopyResult]:
    """Push an image to the plain registry ``source``, copy it to ``destination`` (a
    provider's client) with the copy engine, and check it landed whole in ``upstream``,
    the real registry behind the provider's emulator: same manifest digest, every blob."""
    image = push_image(source, repository, tag, layer_sizes=(2048, 70_000))
    with RegistryClient(source.url, name="source") as plain:
        result = copy_resource(plain, destination, repository, tag, repository)
    assert manifest_digest(upstream, repository, tag) == image.digest
    for digest, size in image.blobs.items():
        assert blob_size(upstream, repository, digest) == size
    return image, result


def assert_masked(*secrets: str) -> None:
    """Airflow's secrets masker hides every one of ``secrets`` in task logs."""
    from airflow.sdk.log import redact

    for secret in secrets:
        assert redact(f"before {secret} after") == "before *** after"
