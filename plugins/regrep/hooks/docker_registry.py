"""Docker Distribution (the CNCF ``registry``, Docker's open-source registry) endpoints.

The plain OCI distribution API is what :class:`RegistryHook` already speaks, so this
provider only names itself.
"""

from __future__ import annotations

from regrep.hooks.base import RegistryHook


class DockerRegistryHook(RegistryHook):
    """A Docker Registry v2 / OCI distribution endpoint (Harbor's "Docker Registry")."""

    conn_type = "regrep_docker_registry"
    hook_name = "Docker Registry (regrep)"
