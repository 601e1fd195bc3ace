"""The Azure Container Registry provider against an emulated ACR in front of a real registry.

ACR and Microsoft Entra ID cannot be reached from here: ``tests.support.vendors.azure_acr``
emulates, at the HTTP level, Entra ID's client-credentials token endpoint, ACR's
``/oauth2/exchange`` and ``/oauth2/token`` services, its bearer challenges (``metadata_read``
for tag lists) and its catalog page cap, in front of a real ``docker-registry`` that stores
the blobs and manifests.
"""

from __future__ import annotations

import secrets
import time
from functools import partial
from pathlib import Path

import pytest

from regrep.hooks import registry_hook
from regrep.hooks.azure_acr import REFRESH_TOKEN_USER, AzureAcrHook
from regrep.registry.errors import Forbidden
from tests.integration.providers.checks import (
    assert_masked,
    closed_port_url,
    connection_results,
    copy_into,
    emulated,
)
from tests.integration.providers.conftest import Connect
from tests.support.images import push_image
from tests.support.registries import RegistryPair, RunningRegistry
from tests.support.vendors.azure_acr import AcrEmulator

ADMIN = "myregistry"  # ACR's admin user is named after the registry
PRINCIPAL = "0b7a2f0e-1111-4c1c-9a5e-5d2f7d0c0001"
READER = "0b7a2f0e-2222-4c1c-9a5e-5d2f7d0c0002"  # AcrPull only
NO_ROLE = "0b7a2f0e-3333-4c1c-9a5e-5d2f7d0c0003"  # no role on the registry
SECRETS = {user: secrets.token_urlsafe(24) for user in (ADMIN, PRINCIPAL, READER, NO_ROLE)}


_emulator = partial(
    AcrEmulator, credentials=SECRETS, roles={READER: ("pull", "metadata_read"), NO_ROLE: ()}
)
acr = emulated(_emulator)


def _connect(
    connect: Connect,
    conn_id: str,
    acr: AcrEmulator,
    user: str,
    *,
    entra: bool = True,
    password: str | None = None,
    **extra: object,
) -> None:
    if entra:
        extra |= {"tenant_id": acr.tenant, "authority_host": acr.url}
    secret = SECRETS[user] if password is None else password
    connect(conn_id, "regrep_azure_acr", acr.url, login=user, password=secret, **extra)


def test_a_service_principal_signs_in_through_entra_id_and_the_exchange(
    acr: AcrEmulator, connect: Connect
) -> None:
    _connect(connect, "sp", acr, PRINCIPAL)

    assert AzureAcrHook("sp").test_connection() == (
        True,
        f"Connected to {acr.url} as {PRINCIPAL!r}",
    )
    assert [(c.method, c.path) for c in acr.server.calls() if c.path != "/v2/"] == [
        ("POST", f"/{acr.tenant}/oauth2/v2.0/token"),
        ("POST", "/oauth2/exchange"),
        ("GET", "/oauth2/token"),
    ]
    (token_call,) = acr.server.calls("GET", "/oauth2/token")
    assert token_call.query["account"] == [REFRESH_TOKEN_USER]
    (refresh,) = acr.refresh_tokens
    assert_masked(SECRETS[PRINCIPAL], refresh, acr.entra_tokens.issued()[0].value)


def test_admin_credentials_need_no_exchange(acr: AcrEmulator, connect: Connect) -> None:
    _connect(connect, "admin", acr, ADMIN, entra=False)

    assert AzureAcrHook("admin").test_connection() == (True, f"Connected to {acr.url} as {ADMIN!r}")
    assert not acr.server.calls("POST")


def test_connection_failures_say_which(
    acr: AcrEmulator, registry: RunningRegistry, tmp_path: Path, connect: Connect
) -> None:
    _connect(connect, "wrong_secret", acr, PRINCIPAL, password="not-the-client-secret")
    _connect(connect, "wrong_admin", acr, ADMIN, entra=False, password="not-the-password")
    _connect(connect, "no_role", acr, NO_ROLE)
    connect("gone", "regrep_azure_acr", closed_port_url(), login=ADMIN, password="x")
    results = connection_results(
        AzureAcrHook,
        ("wrong_secret", "wrong_admin", "no_role", "gone"),
        _emulator(registry, tls_dir=tmp_path),
        partial(_connect, connect, user=PRINCIPAL),
        secret="not-the-",
    )

    assert results["wrong_secret"] == (
        False,
        "bad credentials for endpoint wrong_secret (Microsoft Entra ID API said 401 "
        "invalid_client: AADSTS7000215: Invalid client secret provided.)",
    )
    assert results["wrong_admin"][1].startswith("bad credentials for endpoint wrong_admin")
    assert results["no_role"][1].startswith(
        "no permission to pull the registry API (/v2/) on endpoint no_role"
    )


def test_listing_follows_the_capped_catalog_and_tags_take_metadata_read(
    registry: RunningRegistry, connect: Connect
) -> None:
    with _emulator(registry, catalog_page_limit=3) as acr:
        names = [f"team/app{i}" for i in range(7)]
        for name in names:
            push_image(registry, name, "1.0", layer_sizes=(64,))
        _connect(connect, "reader", acr, READER)
        with registry_hook("reader").get_client() as client:
            listed = list(client.list_repositories())
            tags = list(client.list_tags("team/app0"))

    assert (listed, tags) == (names, ["1.0"])
    assert len(acr.server.calls("GET", "/v2/_catalog")) == 3 + 1  # pages, after one challenge
    scopes = [s for call in acr.server.calls("GET", "/oauth2/token") for s in call.query["scope"]]
    assert "repository:team/app0:metadata_read,pull" in scopes


def test_a_copy_creates_the_repository_by_pushing(
    acr: AcrEmulator, registry_pair: RegistryPair, connect: Connect
) -> None:
    _connect(connect, "sp", acr, PRINCIPAL)
    _connect(connect, "reader", acr, READER)

    with registry_hook("sp").get_client() as client:
        copy_into(client, acr.upstream, registry_pair.source, "team/new")
    with registry_hook("reader").get_client() as client, pytest.raises(Forbidden) as refused:
        copy_into(client, acr.upstream, registry_pair.source, "team/other")

    assert str(refused.value).startswith("no permission to push team/other on endpoint reader")


def test_refresh_and_access_tokens_are_renewed_before_they_lapse(
    registry: RunningRegistry, connect: Connect
) -> None:
    with _emulator(registry, access_ttl=1, refresh_ttl=2) as acr:
        push_image(registry, "team/app", "1.0", layer_sizes=(64,))
        _connect(connect, "sp", acr, PRINCIPAL)
        with registry_hook("sp").get_client() as client:
            assert list(client.list_tags("team/app")) == ["1.0"]
            before = len(acr.server.requests)
            time.sleep(2.1)  # both the access and the refresh token have lapsed
            assert list(client.list_tags("team/app")) == ["1.0"]

    assert len(acr.refresh_tokens) == 2
    assert len(acr.server.calls("POST", f"/{acr.tenant}/oauth2/v2.0/token")) == 2
    assert [c for c in acr.server.requests[before:] if c.status == 401] == []
