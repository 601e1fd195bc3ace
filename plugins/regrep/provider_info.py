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
    module: str,
    hook_class: str,
    hook_name: str,
    placeholders: tuple[str, str, str],
    *,
    fields: dict[str, Any] | None = None,
    relabeling: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Describe the connection form of the provider whose hook is ``regrep.hooks.<module>.
    <hook_class>`` (connection type ``regrep_<module>``): the shared fields, its own
    ``(host, login, password)`` placeholders, its own extra ``fields`` (after the shared
    ones) and labels where the vendor names its credentials otherwise ("Access Key ID")."""
    host, login, password = placeholders
    return {
        "connection-type": f"regrep_{module}",
        "hook-class-name": f"regrep.hooks.{module}.{hook_class}",
        "hook-name": hook_name,
        "ui-field-behaviour": {
            # The URL carries scheme and port, as in Harbor's endpoint form.
            "hidden-fields": ["schema", "port", "extra"],
            "relabeling": {**_REGISTRY_RELABELING, **(relabeling or {})},
            "placeholders": {"host": host, "login": login, "password": password},
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


def _cloud_fields(region_example: str, api_label: str, api_default: str) -> dict[str, Any]:
    """The ``region`` and ``api_url`` extras of a cloud registry whose API is regional."""
    return {
        "region": _text_field(
            "Region", f"Only when the Registry URL does not name it, e.g. {region_example}."
        ),
        "api_url": _text_field(api_label, api_default),
    }


CONNECTION_TYPES: list[dict[str, Any]] = [
    _registry_connection_type(
        "docker_registry",
        "DockerRegistryHook",
        "Docker Registry (regrep)",
        (
            "https://registry.example.com:5000",
            "user name (empty for anonymous)",
            "password or token",
        ),
    ),
    _registry_connection_type(
        "harbor",
        "HarborHook",
        "Harbor (regrep)",
        (
            "https://harbor.example.com",
            "user or robot account (robot$name)",
            "password or robot secret",
        ),
    ),
    _registry_connection_type(
        "docker_hub",
        "DockerHubHook",
        "Docker Hub (regrep)",
        (
            "https://hub.docker.com (or leave empty)",
            "Docker ID (empty for anonymous pulls)",
            "personal access token",
        ),
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
        "helm_repo",
        "HelmRepoHook",
        "Helm chart repository (regrep)",
        (
            "https://charts.example.com/stable",
            "user name (empty for a public repository)",
            "password",
        ),
        relabeling={"host": "Chart repository URL"},
    ),
    _registry_connection_type(
        "quay",
        "QuayHook",
        "Quay (regrep)",
        ("https://quay.io", "robot account (org+name) or user", "robot token or password"),
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
        "github_ghcr",
        "GithubGhcrHook",
        "GitHub Container Registry (regrep)",
        (
            "https://ghcr.io",
            "GitHub user name",
            "personal access token (read:packages, write:packages to push)",
        ),
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
        "gitlab",
        "GitlabHook",
        "GitLab Container Registry (regrep)",
        (
            "https://registry.gitlab.com",
            "GitLab user name",
            "personal, project or group access token (read_api, read_registry)",
        ),
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
        "jfrog",
        "JfrogHook",
        "JFrog Artifactory (regrep)",
        ("https://example.jfrog.io", "user name", "password, API key or access token"),
        fields={
            "namespaces": _text_field(
                "Repository keys",
                "Comma-separated Docker repository keys to list; default: every Docker "
                "repository the user can see.",
            ),
        },
    ),
    _registry_connection_type(
        "aws_ecr",
        "AwsEcrHook",
        "Amazon ECR (regrep)",
        (
            "https://123456789012.dkr.ecr.us-east-1.amazonaws.com",
            "AKIA...",
            "the IAM user's secret access key",
        ),
        relabeling={"login": "Access Key ID", "password": "Secret Access Key"},
        fields=_cloud_fields(
            "us-east-1",
            "ECR API endpoint",
            "Only for a VPC or FIPS endpoint; default https://api.ecr.<region>.amazonaws.com.",
        ),
    ),
    _registry_connection_type(
        "azure_acr",
        "AzureAcrHook",
        "Azure Container Registry (regrep)",
        (
            "https://myregistry.azurecr.io",
            "service principal application (client) ID, or the admin user",
            "service principal client secret, or the admin password",
        ),
        relabeling={"login": "Client ID or admin user", "password": "Client secret or password"},
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
        "ali_acr",
        "AliAcrHook",
        "Alibaba Cloud ACR (regrep)",
        (
            "https://registry.cn-hangzhou.aliyuncs.com",
            "LTAI...",
            "the RAM user's AccessKey secret",
        ),
        relabeling={"login": "AccessKey ID", "password": "AccessKey Secret"},
        fields=_cloud_fields(
            "cn-hangzhou", "CR API endpoint", "Default https://cr.<region>.aliyuncs.com."
        ),
    ),
    _registry_connection_type(
        "google_gcr",
        "GoogleGcrHook",
        "Google GCR / Artifact Registry (regrep)",
        ("https://gcr.io", "_json_key", "paste the whole JSON key file"),
        relabeling={"login": "User name", "password": "Service account JSON key"},
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
        "huawei_swr",
        "HuaweiSwrHook",
        "Huawei Cloud SWR (regrep)",
        (
            "https://swr.cn-north-4.myhuaweicloud.com",
            "the IAM user's AK",
            "the IAM user's SK",
        ),
        relabeling={"login": "Access Key (AK)", "password": "Secret Key (SK)"},
        fields=_cloud_fields(
            "cn-north-4",
            "SWR API endpoint",
            "Default https://swr-api.<region>.myhuaweicloud.com.",
        ),
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
