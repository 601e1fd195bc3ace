"""Credentials hold up over a long copy and under concurrency.

A bearer token that expires in the middle of a long copy is renewed before it is used:
both registries use token auth with 3-second tokens, behind proxies that refuse expired
tokens (distribution itself accepts them for 60 s more, which would hide a client that
never renews). The source's blob is trickled so that one blob takes longer than a token
lives: every request after it needs a fresh token, at both ends.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from regrep.engine.resource_copy import copy_resource
from regrep.registry.client import RegistryClient
from tests.integration.reliability.integrity import complete_digest
from tests.support.faults import FaultProxy, fault_proxy
from tests.support.images import push_image
from tests.support.registries import RunningRegistry, start_registry
from tests.support.token_issuer import TokenIssuer

LIFETIME = 3
MIB = 1 << 20


@pytest.fixture
def token_pair(
    registry_tools: None, tmp_path: Path
) -> Iterator[tuple[RunningRegistry, RunningRegistry]]:
    with (
        start_registry(tmp_path, auth="token", name="source") as source,
        start_registry(tmp_path, auth="token", name="destination") as destination,
    ):
        yield source, destination


def issued_to(issuer: TokenIssuer, user: str) -> int:
    return sum(1 for request in issuer.requests if request.user == user)


def test_tokens_expiring_mid_copy_are_renewed_at_both_ends(
    token_pair: tuple[RunningRegistry, RunningRegistry],
) -> None:
    source, destination = token_pair
    image = push_image(source, "apps/web", "1.0", layer_sizes=(1024, 4 * MIB))
    proxies: list[FaultProxy] = []
    with (
        fault_proxy(source, strict_tokens=True) as source_proxy,
        fault_proxy(destination, strict_tokens=True) as destination_proxy,
    ):
        proxies = [source_proxy, destination_proxy]
        for registry in (source, destination):
            assert registry.issuer is not None and registry.username is not None
            registry.issuer.expires_in = LIFETIME
        # About 4 s for the large layer: longer than a token lives.
        large = max(image.blobs, key=lambda digest: image.blobs[digest])
        source_proxy.slow("GET", rf"/blobs/{large}", rate=MIB)

        with (
            RegistryClient.connect(
                source_proxy.url, username=source.username, password=source.password, name="src"
            ) as src,
            RegistryClient.connect(
                destination_proxy.url,
                username=destination.username,
                password=destination.password,
                name="dst",
            ) as dst,
        ):
            result = copy_resource(src, dst, "apps/web", "1.0", "apps/web")

    assert result.status == "copied"
    assert result.seconds > LIFETIME
    assert complete_digest(destination, "apps/web", "1.0") == image.digest
    for registry, proxy in zip((source, destination), proxies, strict=True):
        assert registry.issuer is not None and registry.username is not None
        # Renewed: more than one token, and never an expired one offered to the registry.
        assert issued_to(registry.issuer, registry.username) >= 2
        assert proxy.expired_tokens == 0


def test_concurrent_first_requests_all_learn_basic_auth(
    htpasswd_registry: RunningRegistry,
) -> None:
    """The first requests of a client go out without credentials and all get a 401: each
    must retry with them, also when another thread learnt the scheme in the meantime."""
    repositories = [f"apps/svc{i}" for i in range(8)]
    for repository in repositories:
        push_image(htpasswd_registry, repository, "1.0", layer_sizes=(64,))
    registry = htpasswd_registry

    with (
        RegistryClient.connect(
            registry.url, username=registry.username, password=registry.password, name="src"
        ) as client,
        ThreadPoolExecutor(len(repositories)) as pool,
    ):
        tags = list(pool.map(lambda repository: list(client.list_tags(repository)), repositories))

    assert tags == [["1.0"]] * len(repositories)
