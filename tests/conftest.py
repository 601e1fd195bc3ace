"""Fixtures that start real registries (Debian's ``docker-registry``) for a test and stop them.

Every fixture is function-scoped: a registry starts in well under a second, and a fresh one
per test keeps tests from seeing each other's repositories, tokens or access-log lines.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from tests.support.launch import missing_tools
from tests.support.registries import (
    RegistryPair,
    RunningRegistry,
    TokenRegistry,
    start_registry,
)


@pytest.fixture(scope="session")
def registry_tools() -> None:
    """Fail, never skip, when the programs behind the real registries are missing."""
    missing = missing_tools()
    if missing:
        pytest.fail(
            f"{', '.join(missing)} not installed: run `make test`, which installs "
            "docker-registry, skopeo and apache2-utils",
            pytrace=False,
        )


@pytest.fixture
def registry(
    registry_tools: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRegistry]:
    """A plain-HTTP registry without authentication."""
    with start_registry(tmp_path_factory.mktemp("registry")) as running:
        yield running


@pytest.fixture
def registry_pair(
    registry_tools: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RegistryPair]:
    """Two independent plain-HTTP registries: a replication source and destination."""
    workdir = tmp_path_factory.mktemp("pair")
    with (
        start_registry(workdir, name="source") as source,
        start_registry(workdir, name="destination") as destination,
    ):
        yield RegistryPair(source, destination)


@pytest.fixture
def htpasswd_registry(
    registry_tools: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRegistry]:
    """Plain HTTP with basic auth; the one user, alice, is ``username``/``password``."""
    users = {"alice": secrets.token_urlsafe(12)}
    workdir = tmp_path_factory.mktemp("htpasswd")
    with start_registry(workdir, auth="htpasswd", users=users) as running:
        yield running


@pytest.fixture
def tls_registry(
    registry_tools: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningRegistry]:
    """HTTPS with a generated CA (``ca_cert``) and basic auth for alice."""
    users = {"alice": secrets.token_urlsafe(12)}
    workdir = tmp_path_factory.mktemp("tls")
    with start_registry(workdir, auth="htpasswd", tls=True, users=users) as running:
        yield running


@pytest.fixture
def token_registry(
    registry_tools: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TokenRegistry]:
    """Token auth: ``writer`` (the registry's ``username``) may pull, push and delete;
    ``reader`` may only pull. Passwords are in ``issuer.users``."""
    users = {"writer": secrets.token_urlsafe(12), "reader": secrets.token_urlsafe(12)}
    access = {"writer": {"pull", "push", "delete"}, "reader": {"pull"}}
    workdir = tmp_path_factory.mktemp("token")
    with start_registry(workdir, auth="token", users=users, access=access) as running:
        assert running.issuer is not None
        yield TokenRegistry(running, running.issuer)
