"""Every provider's connection form as Airflow's UI builds it from regrep's metadata, and the
hook each connection type resolves to."""

from __future__ import annotations

from typing import Any

import pytest

from regrep.provider_info import CONNECTION_TYPES

REGISTRY = ("Registry URL", "Access ID", "Access Secret")  # the labels a provider keeps
# conn type -> (host, login, password labels), the provider's own extra fields.
FORMS: dict[str, tuple[tuple[str, str, str], set[str]]] = {
    "regrep_harbor": (REGISTRY, set()),
    "regrep_docker_hub": (REGISTRY, {"namespaces", "hub_api_url"}),
    "regrep_helm_repo": (("Chart repository URL", "Access ID", "Access Secret"), set()),
    "regrep_quay": (REGISTRY, {"namespaces", "api_token"}),
    "regrep_github_ghcr": (REGISTRY, {"namespaces", "api_url"}),
    "regrep_gitlab": (REGISTRY, {"projects", "api_url"}),
    "regrep_jfrog": (REGISTRY, {"namespaces"}),
    "regrep_aws_ecr": (
        ("Registry URL", "Access Key ID", "Secret Access Key"),
        {"region", "api_url"},
    ),
    "regrep_azure_acr": (
        ("Registry URL", "Client ID or admin user", "Client secret or password"),
        {"tenant_id", "authority_host"},
    ),
    "regrep_ali_acr": (("Registry URL", "AccessKey ID", "AccessKey Secret"), {"region", "api_url"}),
    "regrep_google_gcr": (
        ("Registry URL", "User name", "Service account JSON key"),
        {"keyfile_dict", "project_id"},
    ),
    "regrep_huawei_swr": (
        ("Registry URL", "Access Key (AK)", "Secret Key (SK)"),
        {"region", "api_url"},
    ),
}


def _meta(conn_type: str) -> Any:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == conn_type]
    return meta


@pytest.mark.smoke
@pytest.mark.parametrize("conn_type", sorted(FORMS))
def test_each_provider_has_its_own_form_and_hook(conn_type: str) -> None:
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    (host, login, password), extras = FORMS[conn_type]
    hook = ProvidersManagerTaskRuntime().hooks[conn_type]
    (declared,) = [t for t in CONNECTION_TYPES if t["connection-type"] == conn_type]
    meta = _meta(conn_type)

    assert hook is not None
    assert hook.hook_class_name == declared["hook-class-name"]
    assert meta.standard_fields is not None
    assert meta.standard_fields.host is not None
    assert meta.standard_fields.host.title == host
    assert meta.standard_fields.login is not None
    assert meta.standard_fields.login.title == login
    assert meta.standard_fields.password is not None
    assert meta.standard_fields.password.title == password
    assert meta.extra_fields is not None
    assert extras | {"verify", "ca_bundle"} <= set(meta.extra_fields)


def test_the_json_key_can_be_pasted_into_a_textarea_and_quay_hides_its_api_token() -> None:
    gcr, quay = _meta("regrep_google_gcr"), _meta("regrep_quay")

    assert gcr.extra_fields["keyfile_dict"]["schema"]["format"] == "multiline"
    assert quay.extra_fields["api_token"]["schema"]["format"] == "password"
