"""Amazon ECR connections: access keys, the API client in :mod:`regrep.vendors.aws_ecr_api`."""

from __future__ import annotations

import re
from typing import Any

from regrep.hooks.cloud import KeyPairHook
from regrep.vendors.aws_ecr_api import REGISTRY_HOST, EcrApi


class AwsEcrHook(KeyPairHook):
    """An Amazon ECR private registry (Harbor's "AWS ECR" provider)."""

    conn_type = "regrep_aws_ecr"
    hook_name = "Amazon ECR (regrep)"
    api_class = EcrApi
    needs = "Amazon ECR needs an Access Key ID and a Secret Access Key"
    registry_host = REGISTRY_HOST
    expected_url = "https://<account>.dkr.ecr.<region>.amazonaws.com"
    region_name = "AWS region"

    def default_api_url(self, region: str) -> str:
        suffix = ".com.cn" if region.startswith("cn-") else ".com"
        return f"https://api.ecr.{region}.amazonaws{suffix}"

    def api_options(self, host: re.Match[str] | None) -> dict[str, Any]:
        return {"registry_id": host["account"] if host else None}
