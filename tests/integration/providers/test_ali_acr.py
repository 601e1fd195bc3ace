"""The Alibaba Cloud ACR provider against an emulated ACR in front of a real registry.

Alibaba Cloud cannot be reached from here: ``tests.support.vendors.ali_acr`` emulates, at the
HTTP level, the CR API (ROA-signed, 2016-06-07: temporary login, namespaces, paged
repository lists, flow control) and the registry's token realm and missing catalog, in
front of a real ``docker-registry`` that stores the blobs and manifests.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from regrep.hooks import registry_hook
from regrep.hooks.ali_acr import AliAcrHook
from tests.integration.providers.checks import (
    assert_masked,
    closed_port_url,
    connection_results,
    copy_into,
)
from tests.integration.providers.conftest import Connect
from tests.support.images import push_image
from tests.support.registries import RegistryPair, RunningRegistry
from tests.support.vendors.ali_acr import AliAcrEmulator

OWNER = "LTAI5tOwner000000000001"
NO_LOGIN = "LTAI5tNoLogin0000000002"  # its RAM policy lacks GetAuthorizationToken
KEYS = {key: secrets.token_urlsafe(22) for key in (OWNER, NO_LOGIN)}


def _emulator(
    upstream: RunningRegistry,
    *,
    namespaces: tuple[str, ...] = (),
    login_ttl: float = 3600,
    tls_dir: Path | None = None,
) -> AliAcrEmulator:
    return AliAcrEmulator(
        upstream,
        keys=KEYS,
        permissions={NO_LOGIN: {"GetNamespaceList"}},
        namespaces=namespaces,
        login_ttl=login_ttl,
        tls_dir=tls_dir,
    )


@pytest.fixture
def ali(registry: RunningRegistry) -> Iterator[AliAcrEmulator]:
    with _emulator(registry) as emulator:
        yield emulator


def _connect(
    connect: Connect,
    conn_id: str,
    ali: AliAcrEmulator,
    key: str = OWNER,
    *,
    secret: str | None = None,
    **extra: object,
) -> None:
    password = KEYS.get(key, "") if secret is None else secret
    extra = {"region": ali.region, "api_url": ali.url, **extra}
    connect(conn_id, "regrep_ali_acr", ali.url, login=key, password=password, **extra)


def test_the_access_key_is_exchanged_for_a_temporary_login(
    ali: AliAcrEmulator, connect: Connect
) -> None:
    _connect(connect, "ali", ali)

    assert AliAcrHook("ali").test_connection() == (True, f"Connected to {ali.url} as {OWNER!r}")
    (call,) = ali.server.calls("GET", "/tokens")
    assert call.headers["Authorization"].startswith(f"acs {OWNER}:")
    assert call.headers["x-acs-version"] == "2016-06-07"
    (login,) = ali.logins.issued("login")
    assert_masked(KEYS[OWNER], login.value)


def test_connection_failures_say_which(
    ali: AliAcrEmulator, registry: RunningRegistry, tmp_path: Path, connect: Connect
) -> None:
    _connect(connect, "unknown", ali, "LTAI5tUnknown0000000009", secret="whatever-secret")
    _connect(connect, "wrong", ali, secret="not-the-accesskey-secret")
    _connect(connect, "no_login", ali, NO_LOGIN)
    gone = closed_port_url()
    connect(
        "gone",
        "regrep_ali_acr",
        gone,
        login=OWNER,
        password="x",
        region="cn-hangzhou",
        api_url=gone,
    )
    connect(
        "enterprise",
        "regrep_ali_acr",
        "https://corp-registry.cn-hangzhou.cr.aliyuncs.com",
        login=OWNER,
        password="x",
    )
    results = connection_results(
        AliAcrHook,
        ("unknown", "wrong", "no_login", "gone", "enterprise"),
        _emulator(registry, tls_dir=tmp_path),
        partial(_connect, connect),
        secret="not-the-accesskey-secret",
    )

    assert results["unknown"] == (
        False,
        "bad credentials for endpoint unknown (Alibaba CR API said 404 "
        "InvalidAccessKeyId.NotFound: Specified access key is not found.)",
    )
    assert results["wrong"][1].startswith(
        "bad credentials for endpoint wrong (Alibaba CR API said 400 SignatureDoesNotMatch"
    )
    assert results["no_login"][1].startswith(
        "no permission to get a temporary registry login on endpoint no_login (Alibaba CR API "
        "said 403 Forbidden.RAM"
    )
    assert results["enterprise"][1].startswith(
        "connection 'enterprise': corp-registry.cn-hangzhou.cr.aliyuncs.com is an ACR "
        "Enterprise Edition instance"
    )


def test_without_a_catalog_listing_pages_through_the_api_under_its_rate_limit(
    registry: RunningRegistry, connect: Connect
) -> None:
    names = [f"team{t}/app{i}" for t in range(2) for i in range(5)]
    for name in names:
        push_image(registry, name, "1.0", layer_sizes=(8,))
    with _emulator(registry, namespaces=("team0", "team1")) as ali:
        _connect(connect, "ali", ali)
        with registry_hook("ali").get_client() as client:
            listings = [list(client.list_repositories(page_size=2)) for _ in range(4)]

    assert listings == [names] * 4
    assert ali.api_calls("/repos/team0") == 3 * 4  # 5 names, 2 a page
    assert len(ali.server.calls("GET", "/v2/_catalog")) == 1  # refused once, then not asked
    # 1 login + 4 x (1 namespace list + 6 pages): a burst past 15 a second if unspaced.
    assert ali.throttled == 0


def test_a_copy_creates_the_missing_namespace_once(
    ali: AliAcrEmulator, registry_pair: RegistryPair, connect: Connect
) -> None:
    ali.namespaces.add("existing")
    _connect(connect, "ali", ali)

    with registry_hook("ali").get_client() as client:
        copy_into(client, ali.upstream, registry_pair.source, "team/app", "1.0")
        copy_into(client, ali.upstream, registry_pair.source, "team/app", "2.0")
        copy_into(client, ali.upstream, registry_pair.source, "existing/app", "1.0")

    assert ali.namespaces == {"existing", "team"}
    assert len(ali.server.calls("PUT", "/namespace")) == 1
    assert len(ali.server.calls("GET", "/namespace/.*")) == 2


def test_the_temporary_login_is_renewed_before_it_lapses_and_when_refused(
    registry: RunningRegistry, connect: Connect
) -> None:
    push_image(registry, "team/app", "1.0", layer_sizes=(64,))
    with _emulator(registry, namespaces=("team",), login_ttl=2) as ali:
        _connect(connect, "ali", ali)
        with registry_hook("ali").get_client() as client:
            assert list(client.list_tags("team/app")) == ["1.0"]
            time.sleep(2.1)  # the login has lapsed; so has nothing the client still holds
            ali.tokens.revoke()  # and the registry's bearer tokens are gone too
            assert list(client.list_tags("team/app")) == ["1.0"]

    assert len(ali.logins.issued("login")) == 2
