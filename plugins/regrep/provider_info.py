"""Airflow provider metadata: how Airflow discovers regrep's connection types.

Airflow only shows custom connection forms (and their *Test* button) for hooks that an
installed distribution declares through the ``apache_airflow_provider`` entry point.

Airflow 3.2+ reads a connection form declaratively from here (``conn-fields`` and
``ui-field-behaviour``, the ``provider.yaml`` keys) without importing the hook, and
deprecates the hook methods ``get_connection_form_widgets``/``get_ui_field_behaviour``
that needed wtforms. This module is therefore the single declaration of every regrep
connection type; ``regrep.hooks.registry_hook`` also reads it to pick a hook class.
It must stay importable without Airflow or any heavy dependency.
"""

from __future__ import annotations

from typing import Any

import regrep

# Extra fields shared by every registry endpoint: Harbor's "Verify Remote Cert" checkbox,
# a CA bundle for registries signed by a private CA, and the secret a source's webhook
# must send (regrep.webhooks.app). The React UI stores them as plain keys of the
# connection's ``extra`` JSON; ``format: password`` masks the secret in the form.
_REGISTRY_FIELDS: dict[str, Any] = {
    "verify": {
        "label": "Verify remote certificate",
        "description": "Untick for a registry with a self-signed or untrusted certificate.",
        "schema": {"type": ["boolean", "null"], "default": True},
    },
    "ca_bundle": {
        "label": "CA bundle",
        "description": "Path of a PEM file with the CA certificates that signed the registry's "
        "certificate (on the workers).",
        "schema": {"type": ["string", "null"]},
    },
    "webhook_secret": {
        "label": "Webhook secret",
        "description": "For event-based rules: the Authorization header value this "
        "registry's webhook sends to /regrep/webhooks/<connection id>. Empty: no webhooks.",
        "schema": {"type": ["string", "null"], "format": "password"},
    },
}

_REGISTRY_RELABELING = {
    "host": "Registry URL",
    "login": "Access ID",
    "password": "Access Secret",
}


def _registry_connection_type(
    connection_type: str,
    hook_class_name: str,
    hook_name: str,
    *,
    placeholders: dict[str, str],
    fields: dict[str, Any] | None = None,
    relabeling: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Describe one registry provider's connection form: shared fields, own placeholders,
    the provider's own extra ``fields`` (after the shared ones) and labels where the
    vendor names its credentials otherwise ("Access Key ID")."""
    return {
        "connection-type": connection_type,
        "hook-class-name": hook_class_name,
        "hook-name": hook_name,
        "ui-field-behaviour": {
            # The URL carries scheme and port, as in Harbor's endpoint form.
            "hidden-fields": ["schema", "port", "extra"],
            "relabeling": {**_REGISTRY_RELABELING, **(relabeling or {})},
            "placeholders": placeholders,
        },
        "conn-fields": {**_REGISTRY_FIELDS, **(fields or {})},
    }


def _text_field(label: str, description: str, **schema: Any) -> dict[str, Any]:
    """An optional text extra field of a provider's form."""
    return {
        "label": label,
        "description": description,
        "schema": {"type": ["string", "null"], **schema},
    }


CONNECTION_TYPES: list[dict[str, Any]] = [
    _registry_connection_type(
        "regrep_docker_registry",
        "regrep.hooks.docker_registry.DockerRegistryHook",
        "Docker Registry (regrep)",
        placeholders={
            "host": "https://registry.example.com:5000",
            "login": "user name (empty for anonymous)",
            "password": "password or token",
        },
    ),
    _registry_connection_type(
        "regrep_harbor",
        "regrep.hooks.harbor.HarborHook",
        "Harbor (regrep)",
        placeholders={
            "host": "https://harbor.example.com",
            "login": "user or robot account (robot$name)",
            "password": "password or robot secret",
        },
    ),
    _registry_connection_type(
        "regrep_docker_hub",
        "regrep.hooks.docker_hub.DockerHubHook",
        "Docker Hub (regrep)",
        placeholders={
            "host": "https://hub.docker.com (or leave empty)",
            "login": "Docker ID (empty for anonymous pulls)",
            "password": "personal access token",
        },
        fields={
            "namespaces": _text_field(
                "Namespaces",
                "Comma-separated Docker Hub namespaces to list when a rule's name filter "
                "does not name them (default: the Docker ID).",
            ),
            "hub_api_url": _text_field(
                "Hub API URL", "Test or enterprise override; default https://hub.docker.com."
            ),
        },
    ),
    _registry_connection_type(
        "regrep_helm_repo",
        "regrep.hooks.helm_repo.HelmRepoHook",
        "Helm chart repository (regrep)",
        relabeling={"host": "Chart repository URL"},
        placeholders={
            "host": "https://charts.example.com/stable",
            "login": "user name (empty for a public repository)",
            "password": "password",
        },
    ),
    _registry_connection_type(
        "regrep_quay",
        "regrep.hooks.quay.QuayHook",
        "Quay (regrep)",
        placeholders={
            "host": "https://quay.io",
            "login": "robot account (org+name) or user",
            "password": "robot token or password",
        },
        fields={
            "namespaces": _text_field(
                "Namespaces",
                "Comma-separated organizations or users to list when a rule's name filter "
                "does not name them (default: the robot's organization).",
            ),
            "api_token": _text_field(
                "API token",
                "OAuth access token of a Quay application, to list private repositories.",
                format="password",
            ),
        },
    ),
    _registry_connection_type(
        "regrep_github_ghcr",
        "regrep.hooks.github_ghcr.GithubGhcrHook",
        "GitHub Container Registry (regrep)",
        placeholders={
            "host": "https://ghcr.io",
            "login": "GitHub user name",
            "password": "personal access token (read:packages, write:packages to push)",
        },
        fields={
            "namespaces": _text_field(
                "Owners",
                "Comma-separated users or organizations whose packages are listed when a "
                "rule's name filter does not name them (default: the user).",
            ),
            "api_url": _text_field(
                "GitHub API URL",
                "Default https://api.github.com; GitHub Enterprise: https://HOST/api/v3.",
            ),
        },
    ),
    _registry_connection_type(
        "regrep_gitlab",
        "regrep.hooks.gitlab.GitlabHook",
        "GitLab Container Registry (regrep)",
        placeholders={
            "host": "https://registry.gitlab.com",
            "login": "GitLab user name",
            "password": "personal, project or group access token (read_api, read_registry)",
        },
        fields={
            "projects": _text_field(
                "Projects",
                "Comma-separated project paths (group/project) to list; default: every "
                "project the token's user is a member of.",
            ),
            "api_url": _text_field(
                "GitLab URL",
                "Default: the GitLab instance that issues the registry's tokens.",
            ),
        },
    ),
    _registry_connection_type(
        "regrep_jfrog",
        "regrep.hooks.jfrog.JfrogHook",
        "JFrog Artifactory (regrep)",
        placeholders={
            "host": "https://example.jfrog.io",
            "login": "user name",
            "password": "password, API key or access token",
        },
        fields={
            "namespaces": _text_field(
                "Repository keys",
                "Comma-separated Docker repository keys to list; default: every Docker "
                "repository the user can see.",
            ),
        },
    ),
    _registry_connection_type(
        "regrep_aws_ecr",
        "regrep.hooks.aws_ecr.AwsEcrHook",
        "Amazon ECR (regrep)",
        relabeling={"login": "Access Key ID", "password": "Secret Access Key"},
        placeholders={
            "host": "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "login": "AKIA...",
            "password": "the IAM user's secret access key",
        },
        fields={
            "region": _text_field(
                "Region", "Only when the Registry URL does not name it, e.g. us-east-1."
            ),
            "api_url": _text_field(
                "ECR API endpoint",
                "Only for a VPC or FIPS endpoint; default https://api.ecr.<region>.amazonaws.com.",
            ),
        },
    ),
    _registry_connection_type(
        "regrep_azure_acr",
        "regrep.hooks.azure_acr.AzureAcrHook",
        "Azure Container Registry (regrep)",
        relabeling={"login": "Client ID or admin user", "password": "Client secret or password"},
        placeholders={
            "host": "https://myregistry.azurecr.io",
            "login": "service principal application (client) ID, or the admin user",
            "password": "service principal client secret, or the admin password",
        },
        fields={
            "tenant_id": _text_field(
                "Tenant ID",
                "Set it to sign the service principal in with Microsoft Entra ID and use ACR "
                "refresh tokens; leave empty for admin or repository-scoped token credentials.",
            ),
            "authority_host": _text_field(
                "Entra ID authority",
                "Default https://login.microsoftonline.com (other clouds have their own).",
            ),
        },
    ),
    _registry_connection_type(
        "regrep_ali_acr",
        "regrep.hooks.ali_acr.AliAcrHook",
        "Alibaba Cloud ACR (regrep)",
        relabeling={"login": "AccessKey ID", "password": "AccessKey Secret"},
        placeholders={
            "host": "https://registry.cn-hangzhou.aliyuncs.com",
            "login": "LTAI...",
            "password": "the RAM user's AccessKey secret",
        },
        fields={
            "region": _text_field(
                "Region", "Only when the Registry URL does not name it, e.g. cn-hangzhou."
            ),
            "api_url": _text_field("CR API endpoint", "Default https://cr.<region>.aliyuncs.com."),
        },
    ),
    _registry_connection_type(
        "regrep_google_gcr",
        "regrep.hooks.google_gcr.GoogleGcrHook",
        "Google GCR / Artifact Registry (regrep)",
        relabeling={"login": "User name", "password": "Service account JSON key"},
        placeholders={
            "host": "https://gcr.io",
            "login": "_json_key",
            "password": "paste the whole JSON key file",
        },
        fields={
            "keyfile_dict": _text_field(
                "Service account JSON key (paste)",
                "Alternative to the secret field, for pasting the key file as it is.",
                format="multiline",
            ),
            "project_id": _text_field(
                "Project ID", "Only to override the project_id of the JSON key."
            ),
        },
    ),
    _registry_connection_type(
        "regrep_huawei_swr",
        "regrep.hooks.huawei_swr.HuaweiSwrHook",
        "Huawei Cloud SWR (regrep)",
        relabeling={"login": "Access Key (AK)", "password": "Secret Key (SK)"},
        placeholders={
            "host": "https://swr.cn-north-4.myhuaweicloud.com",
            "login": "the IAM user's AK",
            "password": "the IAM user's SK",
        },
        fields={
            "region": _text_field(
                "Region", "Only when the Registry URL does not name it, e.g. cn-north-4."
            ),
            "api_url": _text_field(
                "SWR API endpoint", "Default https://swr-api.<region>.myhuaweicloud.com."
            ),
        },
    ),
]


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow's ProvidersManager reads."""
    return {
        "package-name": "regrep",
        "name": "regrep",
        "description": "Harbor-style replication of container registry content.",
        "versions": [regrep.__version__],
        "connection-types": CONNECTION_TYPES,
    }
