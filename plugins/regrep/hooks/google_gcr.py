"""Google GCR / Artifact Registry connections: a service account's JSON key, one project
(:mod:`regrep.vendors.google_gcr_api`)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from airflow.sdk.log import mask_secret

from regrep.hooks.base import RegistryEndpoint, RegistryHook
from regrep.registry.cancellation import Cancellation
from regrep.registry.client import RegistryClient
from regrep.registry.errors import ConnectionConfigError
from regrep.vendors.google_gcr_api import JSON_KEY_USER, GcrProject


def read_key(conn_id: str, text: str) -> dict[str, Any]:
    """The service-account key, checked for what the registry and regrep need.

    Errors never quote the text: it holds a private key.
    """
    try:
        key: Any = json.loads(text)
    except ValueError:
        key = None
    if not isinstance(key, dict) or key.get("type") != "service_account":
        raise ConnectionConfigError(
            f"connection {conn_id!r}: the secret is not a service-account JSON key file; "
            "paste the whole file downloaded from the Cloud console"
        )
    if isinstance(key.get("private_key"), str):
        mask_secret(key["private_key"])
    return key


class GoogleGcrHook(RegistryHook):
    """Google Container Registry or Artifact Registry (Harbor's "Google GCR")."""

    conn_type = "regrep_google_gcr"
    hook_name = "Google GCR / Artifact Registry (regrep)"

    def get_endpoint(self) -> RegistryEndpoint:
        """The key comes from the secret field or the ``keyfile_dict`` extra; the user
        name is always ``_json_key``."""
        endpoint = super().get_endpoint()
        if endpoint.username not in (None, JSON_KEY_USER):
            raise ConnectionConfigError(
                f"connection {endpoint.name!r}: the user name of a JSON key is "
                f"{JSON_KEY_USER!r}, not {endpoint.username!r}"
            )
        pasted = endpoint.extra.get("keyfile_dict")
        if isinstance(pasted, dict):
            pasted = json.dumps(pasted)
        key = endpoint.password or (str(pasted) if pasted else None)
        if not key:
            raise ConnectionConfigError(
                f"connection {endpoint.name!r}: Google registries need the service account's "
                "JSON key as the secret"
            )
        return replace(endpoint, username=JSON_KEY_USER, password=key)

    def make_client(
        self, endpoint: RegistryEndpoint, stop: Cancellation | None = None
    ) -> RegistryClient:
        key = read_key(endpoint.name, endpoint.password or "")
        project = str(endpoint.extra.get("project_id") or key.get("project_id") or "")
        if not project:
            raise ConnectionConfigError(
                f"connection {endpoint.name!r}: the JSON key names no project_id; set the "
                "'project_id' extra"
            )
        exchange = endpoint.exchange(
            endpoint.transport(stop), username=JSON_KEY_USER, password=endpoint.password or ""
        )
        return RegistryClient(exchange, GcrProject(endpoint.url, endpoint.name, project).provider())
