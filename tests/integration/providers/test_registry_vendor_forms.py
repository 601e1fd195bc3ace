"""The registry vendors' connection forms (Harbor, Docker Hub, Helm, quay, GHCR, GitLab,
JFrog) as Airflow's UI builds them, and the hook each connection type resolves to."""

from __future__ import annotations

from typing import Any

import pytest

from regrep.provider_info import CONNECTION_TYPES

EXTRAS = {
    "regrep_harbor": set(),
    "regrep_docker_hub": {"namespaces", "hub_api_url"},
    "regrep_helm_repo": set(),
    "regrep_quay": {"namespaces", "api_token"},
    "regrep_github_ghcr": {"namespaces", "api_url"},
    "regrep_gitlab": {"projects", "api_url"},
    "regrep_jfrog": {"namespaces"},
}


def _meta(conn_type: str) -> Any:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == conn_type]
    return meta


@pytest.mark.parametrize("conn_type", sorted(EXTRAS))
def test_each_vendor_has_its_form_and_hook(conn_type: str) -> None:
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    hook = ProvidersManagerTaskRuntime().hooks[conn_type]
    (declared,) = [t for t in CONNECTION_TYPES if t["connection-type"] == conn_type]
    meta = _meta(conn_type)

    assert hook is not None
    assert hook.hook_class_name == declared["hook-class-name"]
    assert EXTRAS[conn_type] | {"verify", "ca_bundle"} <= set(meta.extra_fields)


def test_the_helm_form_asks_for_a_chart_repository_and_quay_hides_its_api_token() -> None:
    helm, quay = _meta("regrep_helm_repo"), _meta("regrep_quay")

    assert helm.standard_fields.host.title == "Chart repository URL"
    assert quay.extra_fields["api_token"]["schema"]["format"] == "password"
