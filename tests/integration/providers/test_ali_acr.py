"""The Alibaba Cloud ACR provider against an emulated ACR in front of a real registry.

Alibaba Cloud cannot be reached from here: ``tests.support.vendors.ali_acr`` emulates, at the
HTTP level, the CR API (ROA-signed, 2016-06-07: temporary login, namespaces, paged
repository lists, flow control) and the registry's token realm and missing catalog, in
front of a real ``docker-registry`` that stores the blobs and manifests. What it shares with
Huawei SWR (namespace creation, login renewal) is tested in ``test_temporary_logins``.
"""

from __future__ import annotations

from pathlib import Path

from regrep.hooks import registry_hook
from regrep.hooks.ali_acr import AliAcrHook
from tests.integration.providers.checks import assert_masked, emulated
from tests.integration.providers.conftest import Connect
from tests.integration.providers.key_clouds import ALI
from tests.support.images import push_image
from tests.support.registries import RunningRegistry
from tests.support.vendors.ali_acr import AliAcrEmulator

OWNER = ALI.owner
ali = emulated(ALI.start)


def test_the_access_key_is_exchanged_for_a_temporary_login(
    ali: AliAcrEmulator, connect: Connect
) -> None:
    ALI.connect(connect, "ali", ali)

    assert AliAcrHook("ali").test_connection() == (True, f"Connected to {ali.url} as {OWNER!r}")
    (call,) = ali.server.calls("GET", "/tokens")
    assert call.headers["Authorization"].startswith(f"acs {OWNER}:")
    assert call.headers["x-acs-version"] == "2016-06-07"
    (login,) = ali.logins.issued("login")
    assert_masked(ALI.keys[OWNER], login.value)


def test_connection_failures_say_which(
    ali: AliAcrEmulator, registry: RunningRegistry, tmp_path: Path, connect: Connect
) -> None:
    results = ALI.failures(
        connect,
        registry,
        tmp_path,
        ali,
        unknown="LTAI5tUnknown0000000009",
        wrong="not-the-accesskey-secret",
        elsewhere=("enterprise", "https://corp-registry.cn-hangzhou.cr.aliyuncs.com"),
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
    with ALI.start(registry, namespaces=("team0", "team1")) as ali:
        ALI.connect(connect, "ali", ali)
        with registry_hook("ali").get_client() as client:
            listings = [list(client.list_repositories(page_size=2)) for _ in range(4)]

    assert listings == [names] * 4
    assert ali.api_calls("/repos/team0") == 3 * 4  # 5 names, 2 a page
    assert len(ali.server.calls("GET", "/v2/_catalog")) == 1  # refused once, then not asked
    # 1 login + 4 x (1 namespace list + 6 pages): a burst past 15 a second if unspaced.
    assert ali.throttled == 0
