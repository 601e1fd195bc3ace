"""The Huawei Cloud SWR provider against an emulated SWR in front of a real registry.

Huawei Cloud cannot be reached from here: ``tests.support.vendors.huawei_swr`` emulates, at
the HTTP level, the SWR API (AK/SK-signed CreateSecret, ListReposDetails, CreateNamespace)
and the registry's token realm and namespace rule, in front of a real ``docker-registry``
that stores the blobs and manifests. What it shares with Alibaba ACR (namespace creation,
login renewal) is tested in ``test_temporary_logins``.
"""

from __future__ import annotations

from pathlib import Path

from regrep.hooks import registry_hook
from regrep.hooks.huawei_swr import HuaweiSwrHook
from tests.integration.providers.checks import assert_masked, emulated
from tests.integration.providers.conftest import Connect
from tests.integration.providers.key_clouds import SWR
from tests.support.images import push_image
from tests.support.registries import RunningRegistry
from tests.support.vendors.huawei_swr import SwrEmulator

OWNER = SWR.owner
swr = emulated(SWR.start)


def test_the_ak_sk_pair_gets_a_temporary_login(swr: SwrEmulator, connect: Connect) -> None:
    SWR.connect(connect, "swr", swr)

    assert HuaweiSwrHook("swr").test_connection() == (True, f"Connected to {swr.url} as {OWNER!r}")
    (call,) = swr.server.calls("POST", "/v2/manage/utils/secret")
    assert call.query["projectname"] == ["cn-north-4"]
    assert call.headers["Authorization"].startswith(f"SDK-HMAC-SHA256 Access={OWNER}, ")
    (token_call, *_) = swr.server.calls("GET", "/swr/auth/v2/registry/auth")
    assert token_call.query["account"] == [f"cn-north-4@{OWNER}"]
    assert_masked(SWR.keys[OWNER], swr.logins.issued("login")[0].value)


def test_connection_failures_say_which(
    swr: SwrEmulator, registry: RunningRegistry, tmp_path: Path, connect: Connect
) -> None:
    results = SWR.failures(
        connect,
        registry,
        tmp_path,
        swr,
        unknown="HPUAUNKNOWN00000009",
        wrong="not-the-secret-key",
        elsewhere=("nowhere", "https://registry.example.com"),
    )

    assert {conn_id: results[conn_id] for conn_id in ("unknown", "no_login")} == {
        "unknown": (
            False,
            "bad credentials for endpoint unknown (Huawei SWR API said 401 APIGW.0301: "
            "Incorrect IAM authentication information: ak HPUAUNKNOWN00000009 not exist)",
        ),
        "no_login": (
            False,
            "no permission to create a temporary registry login on endpoint no_login (Huawei "
            "SWR API said 403 Insufficient permissions: swr:CreateSecret is not allowed)",
        ),
    }
    assert results["wrong"][1].startswith(
        "bad credentials for endpoint wrong (Huawei SWR API said 401 APIGW.0301: Incorrect IAM "
        "authentication information: verify aksk signature fail)"
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
    with SWR.start(registry, namespaces=("team0", "team1")) as swr:
        SWR.connect(connect, "swr", swr)
        with registry_hook("swr").get_client() as client:
            paged = list(client.list_repositories(page_size=3))
            whole = list(client.list_repositories())  # 1000 asked, 100 allowed

    assert paged == whole == names
    limits = [call.query["limit"] for call in swr.server.calls("GET", "/v2/manage/repos")]
    assert limits == [["3"], ["3"], ["3"], ["100"]]
