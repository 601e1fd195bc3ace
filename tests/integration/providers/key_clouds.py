"""The clouds whose signed API trades access keys for temporary registry logins (Alibaba
ACR, Huawei SWR) as their tests set them up: keys, emulators, connections.

Neither cloud can be reached from here: ``tests.support.vendors.ali_acr`` and
``tests.support.vendors.huawei_swr`` emulate their APIs and registry token realms at the
HTTP level, in front of a real ``docker-registry``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Generic, TypeVar

from regrep.hooks import RegistryHook
from regrep.hooks.ali_acr import AliAcrHook
from regrep.hooks.huawei_swr import HuaweiSwrHook
from tests.integration.providers.checks import closed_port_url, connection_results
from tests.integration.providers.conftest import Connect
from tests.support.registries import RunningRegistry
from tests.support.vendors.ali_acr import AliAcrEmulator
from tests.support.vendors.base import TemporaryLoginEmulator
from tests.support.vendors.huawei_swr import SwrEmulator

E = TypeVar("E", bound=TemporaryLoginEmulator)


@dataclass(frozen=True)
class KeyCloud(Generic[E]):
    """One such cloud: its connection type and hook, ``keys`` (id -> secret) of which
    ``owner`` may do everything and ``no_login`` may not get a login, and ``start``, which
    runs its emulator over an upstream registry (with the emulator's options)."""

    conn_type: str
    hook: Callable[[str], RegistryHook]
    owner: str
    no_login: str
    keys: Mapping[str, str]
    start: Callable[..., E]
    # Asserts the API calls with which a copy created one namespace and found another.
    namespace_calls: Callable[[TemporaryLoginEmulator], None]
    # Whether the token realm must never have refused a login (none lapsed was offered).
    never_offers_a_lapsed_login: bool = False

    def connect(
        self,
        connect: Connect,
        conn_id: str,
        emulator: TemporaryLoginEmulator,
        key: str | None = None,
        *,
        secret: str | None = None,
        **extra: object,
    ) -> None:
        """Connection ``conn_id`` to ``emulator`` with ``key`` (the owner's by default) and
        its secret (or ``secret``)."""
        key = self.owner if key is None else key
        password = self.keys.get(key, "") if secret is None else secret
        extra = {"region": emulator.region, "api_url": emulator.url, **extra}
        connect(conn_id, self.conn_type, emulator.url, login=key, password=password, **extra)

    def failures(
        self,
        connect: Connect,
        registry: RunningRegistry,
        tls_dir: Path,
        emulator: TemporaryLoginEmulator,
        *,
        unknown: str,
        wrong: str,
        elsewhere: tuple[str, str],
    ) -> dict[str, tuple[bool, str]]:
        """The connection tests' results of an ``unknown`` key id, the owner's with the
        ``wrong`` secret, the ``no_login`` key, a "gone" endpoint and connection
        ``elsewhere`` (its id and host), with :func:`connection_results`' checks."""
        self.connect(connect, "unknown", emulator, unknown, secret="whatever-secret")
        self.connect(connect, "wrong", emulator, secret=wrong)
        self.connect(connect, "no_login", emulator, self.no_login)
        gone = closed_port_url()
        region = emulator.region
        connect(
            "gone",
            self.conn_type,
            gone,
            login=self.owner,
            password="x",
            region=region,
            api_url=gone,
        )
        elsewhere_id, elsewhere_host = elsewhere
        connect(elsewhere_id, self.conn_type, elsewhere_host, login=self.owner, password="x")
        return connection_results(
            self.hook,
            ("unknown", "wrong", "no_login", "gone", elsewhere_id),
            self.start(registry, tls_dir=tls_dir),
            partial(self.connect, connect),
            secret=wrong,
        )


def _ali_namespace_calls(ali: TemporaryLoginEmulator) -> None:
    assert len(ali.server.calls("PUT", "/namespace")) == 1
    assert len(ali.server.calls("GET", "/namespace/.*")) == 2


def _swr_namespace_calls(swr: TemporaryLoginEmulator) -> None:
    created = [call.status for call in swr.server.calls("POST", "/v2/manage/namespaces")]
    assert created == [201, 409]  # once per namespace; "exists" is fine


_ALI_OWNER = "LTAI5tOwner000000000001"
_ALI_NO_LOGIN = "LTAI5tNoLogin0000000002"  # its RAM policy lacks GetAuthorizationToken
_ALI_KEYS = {key: secrets.token_urlsafe(22) for key in (_ALI_OWNER, _ALI_NO_LOGIN)}
ALI = KeyCloud[AliAcrEmulator](
    "regrep_ali_acr",
    AliAcrHook,
    _ALI_OWNER,
    _ALI_NO_LOGIN,
    _ALI_KEYS,
    partial(AliAcrEmulator, keys=_ALI_KEYS, permissions={_ALI_NO_LOGIN: {"GetNamespaceList"}}),
    _ali_namespace_calls,
)

_SWR_OWNER = "HPUAOWNER0000000001"
_SWR_NO_LOGIN = "HPUANOLOGIN00000002"  # its IAM policy lacks swr:CreateSecret
_SWR_KEYS = {key: secrets.token_urlsafe(30) for key in (_SWR_OWNER, _SWR_NO_LOGIN)}
SWR = KeyCloud[SwrEmulator](
    "regrep_huawei_swr",
    HuaweiSwrHook,
    _SWR_OWNER,
    _SWR_NO_LOGIN,
    _SWR_KEYS,
    partial(SwrEmulator, keys=_SWR_KEYS, permissions={_SWR_NO_LOGIN: {"ListReposDetails"}}),
    _swr_namespace_calls,
    never_offers_a_lapsed_login=True,
)
