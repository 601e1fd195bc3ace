"""Airflow provider metadata: how Airflow discovers regrep's connection types.

Airflow only shows custom connection forms (and their *Test* button) for hooks that an
installed distribution declares through the ``apache_airflow_provider`` entry point.
"""

from __future__ import annotations

from typing import Any

import regrep


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow's ProvidersManager reads."""
    return {
        "package-name": "regrep",
        "name": "regrep",
        "description": "Harbor-style replication of container registry content.",
        "versions": [regrep.__version__],
        "connection-types": [
            {
                "connection-type": "regrep_docker_registry",
                "hook-class-name": "regrep.hooks.docker_registry.DockerRegistryHook",
            },
        ],
    }
