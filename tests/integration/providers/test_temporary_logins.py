"""The providers whose access keys buy temporary registry logins, Alibaba Cloud ACR and Huawei
Cloud SWR, against their emulated APIs in front of a real registry.

Neither cloud can be reached from here: ``tests.support.vendors.ali_acr`` and
``tests.support.vendors.huawei_swr`` emulate, at the HTTP level, their signed APIs (temporary
logins, namespaces) and their registries' token realms and namespace rule, in front of a
real ``docker-registry`` that stores the blobs and manifests.
"""

from __future__ import annotations

import time

import pytest

from regrep.hooks import registry_hook
from tests.integration.providers.checks import copy_into
from tests.integration.providers.conftest import Connect
from tests.integration.providers.key_clouds import ALI, SWR, KeyCloud
from tests.support.images import push_image
from tests.support.registries import RegistryPair, RunningRegistry
from tests.support.vendors.base import TemporaryLoginEmulator

CLOUDS = [pytest.param(ALI, id="ali_acr"), pytest.param(SWR, id="huawei_swr")]


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_copy_creates_the_missing_namespace_once(
    cloud: KeyCloud[TemporaryLoginEmulator],
    registry: RunningRegistry,
    registry_pair: RegistryPair,
    connect: Connect,
) -> None:
    with cloud.start(registry, namespaces=("existing",)) as emulator:
        cloud.connect(connect, "cloud", emulator)
        with registry_hook("cloud").get_client() as client:
            copy_into(client, emulator.upstream, registry_pair.source, "team/app", "1.0")
            copy_into(client, emulator.upstream, registry_pair.source, "team/app", "2.0")
            copy_into(client, emulator.upstream, registry_pair.source, "existing/app", "1.0")

    assert emulator.namespaces == {"existing", "team"}
    cloud.namespace_calls(emulator)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_temporary_login_is_renewed_before_it_lapses_and_when_refused(
    cloud: KeyCloud[TemporaryLoginEmulator], registry: RunningRegistry, connect: Connect
) -> None:
    push_image(registry, "team/app", "1.0", layer_sizes=(64,))
    with cloud.start(registry, namespaces=("team",), login_ttl=2) as emulator:
        cloud.connect(connect, "cloud", emulator)
        with registry_hook("cloud").get_client() as client:
            assert list(client.list_tags("team/app")) == ["1.0"]
            time.sleep(2.1)  # the login has lapsed; so has nothing the client still holds
            emulator.tokens.revoke()  # a fresh bearer token needs the (lapsed) login again
            assert list(client.list_tags("team/app")) == ["1.0"]

    assert len(emulator.logins.issued("login")) == 2
    if cloud.never_offers_a_lapsed_login:
        refused = [c for c in emulator.server.calls("GET", emulator.realm) if c.status != 200]
        assert refused == []  # the lapsed login was never offered
