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

# Extra fields shared by every registry endpoint: Harbor's "Verify Remote Cert" checkbox
# plus a CA bundle for registries signed by a private CA. The React UI stores them as
# plain keys of the connection's ``extra`` JSON.
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
) -> dict[str, Any]:
    """Describe one registry provider's connection form: shared fields, own placeholders."""
    return {
        "connection-type": connection_type,
        "hook-class-name": hook_class_name,
        "hook-name": hook_name,
        "ui-field-behaviour": {
            # The URL carries scheme and port, as in Harbor's endpoint form.
            "hidden-fields": ["schema", "port", "extra"],
            "relabeling": dict(_REGISTRY_RELABELING),
            "placeholders": placeholders,
        },
        "conn-fields": _REGISTRY_FIELDS,
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
