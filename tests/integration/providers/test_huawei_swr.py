"""The Huawei Cloud SWR provider against an emulated SWR in front of a real registry.

Huawei Cloud cannot be reached from here: ``tests.support.vendors.huawei_swr`` emulates, at
the HTTP level, the SWR API (AK/SK-signed CreateSecret, ListReposDetails, CreateNamespace)
and the registry's token realm and namespace rule, in front of a real ``docker-registry``
that stores the blobs and manifests.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from regrep.hooks import registry_hook
from regrep.hooks.huawei_swr import HuaweiSwrHook
from tests.integration.providers.checks import (
    assert_masked,
    closed_port_url,
    connection_results,
    copy_into,
)
from tests.integration.providers.conftest import Connect
from tests.support.images import push_image
from tests.support.registries import RegistryPair, RunningRegistry
from tests.support.vendors.huawei_swr import SwrEmulator

OWNER = "HPUAOWNER0000000001"
NO_LOGIN = "HPUANOLOGIN00000002"  # its IAM policy lacks swr:CreateSecret
KEYS = {key: secrets.token_urlsafe(30) for key in (OWNER, NO_LOGIN)}


def _emulator(
    upstream: RunningRegistry,
    *,
    namespaces: tuple[str, ...] = (),
    login_ttl: float = 6 * 3600,
    tls_dir: Path | None = None,
) -> SwrEmulator:
    return SwrEmulator(
        upstream,
        keys=KEYS,
        permissions={NO_LOGIN: {"ListReposDetails"}},
        namespaces=namespaces,
        login_ttl=login_ttl,
        tls_dir=tls_dir,
    )


@pytest.fixture
def swr(registry: RunningRegistry) -> Iterator[SwrEmulator]:
    with _emulator(registry) as emulator:
        yield emulator


def _connect(
    connect: Connect,
    conn_id: str,
    swr: SwrEmulator,
    key: str = OWNER,
    *,
    secret: str | None = None,
    **extra: object,
) -> None:
    password = KEYS.get(key, "") if secret is None else secret
    extra = {"region": swr.region, "api_url": swr.url, **extra}
    connect(conn_id, "regrep_huawei_swr", swr.url, login=key, password=password, **extra)


def test_the_ak_sk_pair_gets_a_temporary_login(swr: SwrEmulator, connect: Connect) -> None:
    _connect(connect, "swr", swr)

    assert HuaweiSwrHook("swr").test_connection() == (True, f"Connected to {swr.url} as {OWNER!r}")
    (call,) = swr.server.calls("POST", "/v2/manage/utils/secret")
    assert call.query["projectname"] == ["cn-north-4"]
    assert call.headers["Authorization"].startswith(f"SDK-HMAC-SHA256 Access={OWNER}, ")
    (token_call, *_) = swr.server.calls("GET", "/swr/auth/v2/registry/auth")
    assert token_call.query["account"] == [f"cn-north-4@{OWNER}"]
    assert_masked(KEYS[OWNER], swr.logins.issued("login")[0].value)


def test_connection_failures_say_which(
    swr: SwrEmulator, registry: RunningRegistry, tmp_path: Path, connect: Connect
) -> None:
    _connect(connect, "unknown", swr, "HPUAUNKNOWN00000009", secret="whatever-secret")
    _connect(connect, "wrong", swr, secret="not-the-secret-key")
    _connect(connect, "no_login", swr, NO_LOGIN)
    gone = closed_port_url()
    connect(
        "gone",
        "regrep_huawei_swr",
        gone,
        login=OWNER,
        password="x",
        region="cn-north-4",
        api_url=gone,
    )
    connect(
        "nowhere", "regrep_huawei_swr", "https://registry.example.com", login=OWNER, password="x"
    )
    results = connection_results(
        HuaweiSwrHook,
        ("unknown", "wrong", "no_login", "gone", "nowhere"),
        _emulator(registry, tls_dir=tmp_path),
        partial(_connect, connect),
        secret="not-the-secret-key",
    )

    assert results["unknown"] == (
        False,
        "bad credentials for endpoint unknown (Huawei SWR API said 401 APIGW.0301: Incorrect "
        "IAM authentication information: ak HPUAUNKNOWN00000009 not exist)",
    )
    assert results["wrong"][1].startswith(
        "bad credentials for endpoint wrong (Huawei SWR API said 401 APIGW.0301: Incorrect IAM "
        "authentication information: verify aksk signature fail)"
    )
    assert results["no_login"] == (
        False,
        "no permission to create a temporary registry login on endpoint no_login (Huawei SWR "
        "API said 403 Insufficient permissions: swr:CreateSecret is not allowed)",
    )
    assert results["nowhere"][1].startswith(
        "connection 'nowhere': cannot tell the region from the Registry URL"
    )


def test_listing_pages_through_list_repos_details(
    registry: RunningRegistry, connect: Connect
) -> None:
    names = [f"team{t}/app{i}" for t in range(2) for i in range(4)]
    for name in [*names, "elsewhere/app"]:
        push_image(registry, name, "1.0", layer_sizes=(8,))
    with _emulator(registry, namespaces=("team0", "team1")) as swr:
        _connect(connect, "swr", swr)
        with registry_hook("swr").get_client() as client:
            paged = list(client.list_repositories(page_size=3))
            whole = list(client.list_repositories())  # 1000 asked, 100 allowed

    assert paged == whole == names
    limits = [call.query["limit"] for call in swr.server.calls("GET", "/v2/manage/repos")]
    assert limits == [["3"], ["3"], ["3"], ["100"]]


def test_a_copy_creates_the_missing_namespace_once(
    swr: SwrEmulator, registry_pair: RegistryPair, connect: Connect
) -> None:
    swr.namespaces.add("existing")
    _connect(connect, "swr", swr)

    with registry_hook("swr").get_client() as client:
        copy_into(client, swr.upstream, registry_pair.source, "team/app", "1.0")
        copy_into(client, swr.upstream, registry_pair.source, "team/app", "2.0")
        copy_into(client, swr.upstream, registry_pair.source, "existing/app", "1.0")

    assert swr.namespaces == {"existing", "team"}
    created = [call.status for call in swr.server.calls("POST", "/v2/manage/namespaces")]
    assert created == [201, 409]  # once per namespace; "exists" is fine


def test_the_temporary_login_is_renewed_before_it_lapses(
    registry: RunningRegistry, connect: Connect
) -> None:
    push_image(registry, "team/app", "1.0", layer_sizes=(64,))
    with _emulator(registry, namespaces=("team",), login_ttl=2) as swr:
        _connect(connect, "swr", swr)
        with registry_hook("swr").get_client() as client:
            assert list(client.list_tags("team/app")) == ["1.0"]
            time.sleep(2.1)
            swr.tokens.revoke()  # a fresh bearer token needs the (lapsed) login again
            assert list(client.list_tags("team/app")) == ["1.0"]

    assert len(swr.logins.issued("login")) == 2
    refused = [c for c in swr.server.calls("GET", "/swr/auth/v2/registry/auth") if c.status != 200]
    assert refused == []  # the lapsed login was never offered
