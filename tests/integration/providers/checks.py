"""Checks every provider's tests share: a copy through the provider, a pull of what a rule
selects, masking, the connection test's failures, a dead port; and the fixture that runs a
vendor emulator for a test."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar

import pytest

from regrep.engine.resource_copy import CopyResult, copy_resource
from regrep.hooks import RegistryHook, registry_hook
from regrep.planning.planner import plan_replication
from regrep.planning.resources import Plan
from regrep.registry.client import RegistryClient
from regrep.rules import Rule
from tests.support.images import PushedImage, blob_size, manifest_digest, push_image
from tests.support.registries import RegistryPair, RunningRegistry
from tests.support.vendors.base import VendorServer

E = TypeVar("E", bound=AbstractContextManager[Any])


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
    with RegistryClient.connect(source.url, name="source") as plain:
        result = copy_resource(plain, destination, repository, tag, repository)
    assert manifest_digest(upstream, repository, tag) == image.digest
    for digest, size in image.blobs.items():
        assert blob_size(upstream, repository, digest) == size
    return image, result


def replicate(rule: Rule, local: RunningRegistry) -> Plan:
    """Plan ``rule`` from its source connection into the plain registry ``local`` and copy
    every planned resource there, as a pull-mode replication does; the plan is returned."""
    with (
        registry_hook(rule.source).get_client() as source,
        RegistryClient.connect(local.url) as destination,
    ):
        plan = plan_replication(rule, source, destination)
        for resource in plan.resources:
            copy_resource(
                source,
                destination,
                resource.source_repository,
                resource.reference,
                resource.destination_repository,
            )
    return plan


def assert_pulled(local: RunningRegistry, images: Iterable[PushedImage]) -> None:
    """Every one of ``images`` is in the plain registry ``local`` with its digest."""
    for image in images:
        assert manifest_digest(local, image.repository, image.reference) == image.digest


def assert_masked(*secrets: str) -> None:
    """Airflow's secrets masker hides every one of ``secrets`` in task logs."""
    from airflow.sdk.log import redact

    for secret in secrets:
        assert redact(f"before {secret} after") == "before *** after"


class HttpsEmulator(Protocol):
    """A vendor emulator serving HTTPS with a CA of its own (``server.ca_cert``)."""

    server: VendorServer

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: object) -> None: ...


def connection_results(
    hook: Callable[[str], RegistryHook],
    conn_ids: Iterable[str],
    https: HttpsEmulator,
    connect_to: Callable[..., None],
    *,
    secret: str | None = None,
) -> dict[str, tuple[bool, str]]:
    """The ``test_connection`` result of each of ``conn_ids`` (which include "gone", an
    endpoint nothing listens on) and of "untrusted" and "trusted", which
    ``connect_to(conn_id, https, **extra)`` points at ``https`` without and with its CA
    bundle; ``https`` is stopped after. Checks what every provider must say: "gone" cannot
    be reached, "untrusted" has a certificate problem, "trusted" connects, and ``secret``
    is in no message."""
    with https:
        connect_to("untrusted", https)
        connect_to("trusted", https, ca_bundle=str(https.server.ca_cert))
        ids = (*conn_ids, "untrusted", "trusted")
        results = {conn_id: hook(conn_id).test_connection() for conn_id in ids}

    assert results["gone"][1].startswith("cannot reach endpoint gone")
    assert not results["untrusted"][0]
    assert results["untrusted"][1].startswith("TLS certificate problem with endpoint untrusted")
    assert results["trusted"][0]
    if secret is not None:
        assert not any(secret in message for _, message in results.values())
    return results


def emulated(
    start: Callable[[RunningRegistry], E], *, destination: bool = False
) -> Callable[..., Iterator[E]]:
    """A fixture yielding the emulator ``start`` makes in front of the test's ``registry``
    (of ``registry_pair``'s destination with ``destination``), stopped after the test; it
    takes the name it is assigned to."""
    if destination:

        def over_destination(registry_pair: RegistryPair) -> Iterator[E]:
            with start(registry_pair.destination) as emulator:
                yield emulator

        return pytest.fixture(over_destination)

    def over_registry(registry: RunningRegistry) -> Iterator[E]:
        with start(registry) as emulator:
            yield emulator

    return pytest.fixture(over_registry)


def copy_through(
    conn_id: str, upstream: RunningRegistry, source: RunningRegistry, repository: str
) -> None:
    """:func:`copy_into` the client of connection ``conn_id`` (a provider's)."""
    with registry_hook(conn_id).get_client() as destination:
        copy_into(destination, upstream, source, repository)
