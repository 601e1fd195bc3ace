"""Huawei Cloud SWR connections: an AK/SK, the API client in
:mod:`regrep.vendors.huawei_swr_api`."""

from __future__ import annotations

from regrep.hooks.cloud import KeyPairHook
from regrep.vendors.huawei_swr_api import REGISTRY_HOST, SwrApi


class HuaweiSwrHook(KeyPairHook):
    """Huawei Cloud SWR (Harbor's "Huawei SWR" provider)."""

    conn_type = "regrep_huawei_swr"
    hook_name = "Huawei Cloud SWR (regrep)"
    api_class = SwrApi
    needs = "Huawei SWR needs an Access Key (AK) and a Secret Key (SK)"
    registry_host = REGISTRY_HOST
    expected_url = "https://swr.<region>.myhuaweicloud.com"

    def default_api_url(self, region: str) -> str:
        return f"https://swr-api.{region}.myhuaweicloud.com"
