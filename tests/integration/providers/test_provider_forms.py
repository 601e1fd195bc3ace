"""The cloud providers' connection forms as Airflow's UI builds them from regrep's metadata."""

from __future__ import annotations

import pytest

from regrep.provider_info import CONNECTION_TYPES

FORMS = {
    "regrep_aws_ecr": ("Access Key ID", "Secret Access Key", {"region", "api_url"}),
    "regrep_azure_acr": (
        "Client ID or admin user",
        "Client secret or password",
        {"tenant_id", "authority_host"},
    ),
    "regrep_ali_acr": ("AccessKey ID", "AccessKey Secret", {"region", "api_url"}),
    "regrep_google_gcr": ("User name", "Service account JSON key", {"keyfile_dict", "project_id"}),
    "regrep_huawei_swr": ("Access Key (AK)", "Secret Key (SK)", {"region", "api_url"}),
}


@pytest.mark.parametrize("conn_type", sorted(FORMS))
def test_each_cloud_provider_has_its_own_form_and_hook(conn_type: str) -> None:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
    from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

    login, password, extras = FORMS[conn_type]
    hook = ProvidersManagerTaskRuntime().hooks[conn_type]
    (declared,) = [t for t in CONNECTION_TYPES if t["connection-type"] == conn_type]
    (meta,) = [m for m in HookMetaService.hook_meta_data() if m.connection_type == conn_type]

    assert hook is not None
    assert hook.hook_class_name == declared["hook-class-name"]
    assert meta.standard_fields is not None
    assert meta.standard_fields.host is not None
    assert meta.standard_fields.host.title == "Registry URL"
    assert meta.standard_fields.login is not None
    assert meta.standard_fields.login.title == login
    assert meta.standard_fields.password is not None
    assert meta.standard_fields.password.title == password
    assert meta.extra_fields is not None
    assert extras | {"verify", "ca_bundle"} <= set(meta.extra_fields)


def test_the_json_key_can_be_pasted_into_a_textarea() -> None:
    from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService

    (meta,) = [
        m for m in HookMetaService.hook_meta_data() if m.connection_type == "regrep_google_gcr"
    ]

    assert meta.extra_fields is not None
    assert meta.extra_fields["keyfile_dict"]["schema"]["format"] == "multiline"
